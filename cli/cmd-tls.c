/* cmd-tls.c - `mailbag tls status|apply`: the certificates of each host name
 *
 * SUMMARY
 *	tls.certificates in the context names, per host name, a certificate
 *	chain and its key (certbot's fullchain.pem and privkey.pem, or the
 *	self-signed pair `mailbag setup` makes). `status` reads each one and
 *	says which names it covers, how many days it has left, and what is
 *	wrong: unreadable, expired, not covering its host name, a key that
 *	is not its own or that others may read. `apply` writes what Postfix
 *	and Dovecot need to serve each certificate by SNI: the source of
 *	Postfix's tls_server_sni_maps (loaded with `postmap -F`, which copies
 *	the PEM files into the table) and a Dovecot conf.d file with one
 *	local_name block per name. It writes nothing while any certificate
 *	is wrong, so a failed renewal never breaks a working configuration,
 *	and nothing that would not change, so the certbot deploy hook
 *	(deploy/certbot-deploy-hook) may run it at every renewal.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>

extern char **environ;

static const char tls_usage[] =
	"usage: mailbag tls status\n"
	"       mailbag tls apply\n"
	"\n"
	"status  each certificate of tls.certificates: the names it covers, the days\n"
	"        it has left and what is wrong with it (exit 65 when anything is)\n"
	"apply   write Postfix's SNI table (tls.postfix_sni_map, then postmap -F) and\n"
	"        Dovecot's local_name blocks (tls.dovecot_conf) from tls.certificates;\n"
	"        writes nothing while a certificate is wrong, nothing that is unchanged.\n"
	"        Reload Postfix and Dovecot after (the certbot deploy hook does).\n";

/* a certificate nearer its end than this is reported (not an error) */
#define RENEW_WARNING_DAYS 14

struct cert_report {
	const struct mb_tls_certificate *entry;
	json_t *names;          /* the DNS names it covers */
	char not_after[32];     /* YYYY-MM-DD HH:MM:SS UTC */
	int days_left;
	char problems[1024];    /* "; "-separated, "" when fine */
	char warning[128];
};

static void add_problem(struct cert_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_problem(struct cert_report *r, const char *fmt, ...)
{
	size_t used = strlen(r->problems);
	va_list args;

	snprintf(r->problems + used, sizeof(r->problems) - used, "%s", used > 0 ? "; " : "");
	used = strlen(r->problems);
	va_start(args, fmt);
	vsnprintf(r->problems + used, sizeof(r->problems) - used, fmt, args);
	va_end(args);
}

static X509 *read_certificate(const char *path, char *error, size_t error_size)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		snprintf(error, error_size, "%s holds no PEM certificate", path);
	return cert;
}

static void collect_names(X509 *cert, json_t *names)
{
	GENERAL_NAMES *alt = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

	for (int i = 0; alt != NULL && i < sk_GENERAL_NAME_num(alt); i++) {
		const GENERAL_NAME *name = sk_GENERAL_NAME_value(alt, i);
		if (name->type != GEN_DNS)
			continue;
		const ASN1_IA5STRING *dns = name->d.dNSName;
		json_array_append_new(names, json_stringn((const char *)ASN1_STRING_get0_data(dns),
							  (size_t)ASN1_STRING_length(dns)));
	}
	GENERAL_NAMES_free(alt);
	if (json_array_size(names) > 0)
		return;
	/* no subjectAltName: the common name (old self-signed certificates) */
	char cn[256];
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0)
		json_array_append_new(names, json_string(cn));
}

static void check_validity(X509 *cert, struct cert_report *r)
{
	const ASN1_TIME *end = X509_get0_notAfter(cert);
	struct tm tm;
	int days = 0, seconds = 0;

	if (ASN1_TIME_to_tm(end, &tm) == 1)
		strftime(r->not_after, sizeof(r->not_after), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (ASN1_TIME_diff(&days, &seconds, NULL, end) != 1) {
		add_problem(r, "%s", "its end date cannot be read");
		return;
	}
	r->days_left = days;
	if (days < 0 || (days == 0 && seconds <= 0))
		add_problem(r, "expired on %s", r->not_after);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		add_problem(r, "%s", "not valid yet");
	else if (days < RENEW_WARNING_DAYS)
		snprintf(r->warning, sizeof(r->warning), "expires in %d days: renew it", days);
}

static void check_key(X509 *cert, struct cert_report *r)
{
	const char *path = r->entry->key_file;
	struct stat st;

	FILE *f = fopen(path, "r");
	if (f == NULL) {
		add_problem(r, "cannot read the key %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IRWXO) != 0)
		add_problem(r, "the key %s may be read by others: chmod o-rwx it", path);
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		add_problem(r, "%s holds no PEM private key", path);
	else if (X509_check_private_key(cert, key) != 1)
		add_problem(r, "the key %s is not this certificate's", path);
	EVP_PKEY_free(key);
}

static void check_certificate(const struct mb_tls_certificate *entry, struct cert_report *r)
{
	char error[512];

	memset(r, 0, sizeof(*r));
	r->entry = entry;
	r->names = json_array();
	X509 *cert = read_certificate(entry->cert_file, error, sizeof(error));
	if (cert == NULL) {
		add_problem(r, "%s", error);
		return;
	}
	collect_names(cert, r->names);
	check_validity(cert, r);
	if (X509_check_host(cert, entry->hostname, 0, 0, NULL) != 1)
		add_problem(r, "it does not cover %s", entry->hostname);
	check_key(cert, r);
	X509_free(cert);
}

int cli_tls_spki_sha256(const char *cert_file, char hex[65], char *error, size_t error_size)
{
	unsigned char *der = NULL, digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	X509 *cert = read_certificate(cert_file, error, error_size);
	if (cert == NULL)
		return -1;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	X509_free(cert);
	if (len <= 0 || EVP_Digest(der, (size_t)len, digest, &digest_len, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		snprintf(error, error_size, "%s: cannot encode its public key", cert_file);
		return -1;
	}
	OPENSSL_free(der);
	for (unsigned int i = 0; i < digest_len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

/* check_all - a report per certificate; how many have problems */
static int check_all(struct cli *cli, struct cert_report **reports_r)
{
	size_t count = cli->ctx->tls_certificate_count;
	struct cert_report *reports = calloc(count + 1, sizeof(*reports));
	int bad = 0;

	if (reports == NULL) {
		*reports_r = NULL;
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		check_certificate(&cli->ctx->tls_certificates[i], &reports[i]);
		bad += reports[i].problems[0] != '\0';
	}
	*reports_r = reports;
	return bad;
}

static void free_reports(struct cert_report *reports, size_t count)
{
	for (size_t i = 0; reports != NULL && i < count; i++)
		json_decref(reports[i].names);
	free(reports);
}

static void print_report(const struct cert_report *r)
{
	printf("%s  %s\n", r->entry->hostname, r->entry->cert_file);
	if (json_array_size(r->names) > 0) {
		size_t i;
		json_t *name;
		printf("  names: ");
		json_array_foreach(r->names, i, name)
			printf("%s%s", i > 0 ? ", " : "", json_string_value(name));
		putchar('\n');
	}
	if (r->not_after[0] != '\0')
		printf("  valid until %s (%d days left)\n", r->not_after, r->days_left);
	if (r->warning[0] != '\0')
		printf("  warning: %s\n", r->warning);
	printf("  %s%s\n", r->problems[0] != '\0' ? "WRONG: " : "ok", r->problems);
}

static int tls_status(struct cli *cli)
{
	struct cert_report *reports;
	size_t count = cli->ctx->tls_certificate_count;
	int bad = check_all(cli, &reports);

	if (bad < 0)
		return cli_fail(cli, EX_OSERR, "out of memory");
	bool hostname_covered = mb_context_certificate(cli->ctx, cli->ctx->hostname) != NULL;
	if (cli->json) {
		json_t *list = json_array();
		for (size_t i = 0; i < count; i++) {
			struct cert_report *r = &reports[i];
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:O, s:s, s:i, s:b, s:s, s:s}",
				"hostname", r->entry->hostname, "cert", r->entry->cert_file,
				"key", r->entry->key_file, "names", r->names, "not_after", r->not_after,
				"days_left", r->days_left, "ok", r->problems[0] == '\0',
				"problems", r->problems, "warning", r->warning));
		}
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(list);
	} else {
		for (size_t i = 0; i < count; i++)
			print_report(&reports[i]);
	}
	free_reports(reports, count);
	if (!hostname_covered) {
		cli_fail(cli, EX_DATAERR, "no certificate names %s (the context's hostname): add it to tls.certificates",
			 cli->ctx->hostname);
		return EX_DATAERR;
	}
	return bad > 0 ? EX_DATAERR : EX_OK;
}

/* run_postmap - postmap -F hash:PATH: the table with the PEM files in it */
static int run_postmap(struct cli *cli, const char *path)
{
	char table[300];
	pid_t pid;
	int status;

	snprintf(table, sizeof(table), "hash:%s", path);
	/* the table beside a main.cf (Postfix's config directory): that
	   Postfix's settings, not the default one's */
	char dir[300], main_cf[320];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	snprintf(main_cf, sizeof(main_cf), "%s/main.cf", dir);
	char *with_dir[] = { "postmap", "-c", dir, "-F", table, NULL };
	char *without[] = { "postmap", "-F", table, NULL };
	char **argv = access(main_cf, F_OK) == 0 ? with_dir : without;
	int err = posix_spawnp(&pid, "postmap", NULL, NULL, argv, environ);
	if (err != 0)
		return cli_fail(cli, -1, "cannot run postmap: %s (is Postfix installed?)", strerror(err));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cli_fail(cli, -1, "waiting for postmap: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cli_fail(cli, -1, "postmap -F %s failed (its message is above)", table);
	return 0;
}

/* table_is_current - the .db exists, is newer than every PEM file it
   holds a copy of, and only root may read it */
static bool table_is_current(const struct mb_context *ctx, const char *db)
{
	struct stat db_st;

	if (stat(db, &db_st) < 0 || (db_st.st_mode & 077) != 0)
		return false;
	for (size_t i = 0; i < ctx->tls_certificate_count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls_certificates[i];
		if (!cli_is_current(db, c->cert_file) || !cli_is_current(db, c->key_file))
			return false;
	}
	return true;
}

static int apply_postfix(struct cli *cli)
{
	const struct mb_context *ctx = cli->ctx;
	const char *path = ctx->tls_postfix_sni_map;
	size_t size = 256 + ctx->tls_certificate_count * 700;
	char *text = malloc(size), db[300];
	size_t used;
	bool changed;

	if (text == NULL)
		return cli_fail(cli, -1, "out of memory");
	used = (size_t)snprintf(text, size,
				"# written by `mailbag tls apply` from tls.certificates; do not edit.\n"
				"# Postfix's tls_server_sni_maps = hash:%s (postmap -F)\n", path);
	for (size_t i = 0; i < ctx->tls_certificate_count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls_certificates[i];
		used += (size_t)snprintf(text + used, size - used, "%s %s %s\n",
					 c->hostname, c->key_file, c->cert_file);
	}
	int ret = cli_write_file(cli, path, text, 0600, &changed);
	free(text);
	if (ret < 0)
		return -1;
	snprintf(db, sizeof(db), "%s.db", path);
	if (!changed && table_is_current(ctx, db)) {
		printf("unchanged %s\n", db);
		return 0;
	}
	if (run_postmap(cli, path) < 0)
		return -1;
	/* the table holds copies of the private keys */
	if (chmod(db, 0600) < 0)
		return cli_fail(cli, -1, "cannot chmod 0600 %s: %s", db, strerror(errno));
	printf("wrote %s\n", db);
	return 0;
}

/* The TLS lines of each Dovecot: 2.3 reads the files (<), 2.4 names them */
struct dovecot_tls_syntax {
	const char *cleartext_off, *cert_line, *key_line;
};

static const struct dovecot_tls_syntax dovecot23_tls = {
	"disable_plaintext_auth = yes", "ssl_cert = <", "ssl_key = <",
};
static const struct dovecot_tls_syntax dovecot24_tls = {
	"auth_allow_cleartext = no", "ssl_server_cert_file = ", "ssl_server_key_file = ",
};

static int apply_dovecot(struct cli *cli)
{
	const struct mb_context *ctx = cli->ctx;
	const struct mb_tls_certificate *main_cert = mb_context_certificate(ctx, ctx->hostname);
	enum cli_dovecot version;
	char error[512];
	bool changed;

	if (cli_dovecot_version(&version, error, sizeof(error)) < 0)
		return cli_fail(cli, -1, "%s: not written: %s", ctx->tls_dovecot_conf, error);
	const struct dovecot_tls_syntax *syntax = version == CLI_DOVECOT_24 ? &dovecot24_tls : &dovecot23_tls;
	if (main_cert == NULL)
		main_cert = &ctx->tls_certificates[0];
	/* the fixed lines, then per certificate its names and both lines */
	size_t size = 1024 + strlen(main_cert->cert_file) + strlen(main_cert->key_file);
	for (size_t i = 0; i < ctx->tls_certificate_count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls_certificates[i];
		size += 128 + strlen(c->hostname) + strlen(c->cert_file) + strlen(c->key_file);
	}
	char *text = malloc(size);
	if (text == NULL)
		return cli_fail(cli, -1, "out of memory");
	size_t used = (size_t)snprintf(text, size,
		"# written by `mailbag tls apply` from tls.certificates; do not edit.\n"
		"# TLS 1.2 at least; passwords only over TLS (or from this host).\n"
		"ssl = required\n"
		"ssl_min_protocol = TLSv1.2\n"
		"%s\n"
		"%s%s\n"
		"%s%s\n", syntax->cleartext_off, syntax->cert_line, main_cert->cert_file,
		syntax->key_line, main_cert->key_file);
	for (size_t i = 0; i < ctx->tls_certificate_count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls_certificates[i];
		used += (size_t)snprintf(text + used, size - used,
					 "local_name %s {\n  %s%s\n  %s%s\n}\n",
					 c->hostname, syntax->cert_line, c->cert_file,
					 syntax->key_line, c->key_file);
	}
	int ret = cli_write_file(cli, ctx->tls_dovecot_conf, text, 0644, &changed);
	free(text);
	if (ret == 0)
		printf("%s %s\n", changed ? "wrote" : "unchanged", ctx->tls_dovecot_conf);
	return ret;
}

static int tls_apply(struct cli *cli)
{
	struct cert_report *reports;
	size_t count = cli->ctx->tls_certificate_count;

	if (count == 0)
		return cli_fail(cli, EX_CONFIG, "tls.certificates names no certificate: nothing to apply");
	int bad = check_all(cli, &reports);
	if (bad < 0)
		return cli_fail(cli, EX_OSERR, "out of memory");
	for (size_t i = 0; i < count; i++) {
		if (reports[i].problems[0] != '\0')
			cli_fail(cli, EX_DATAERR, "%s: %s", reports[i].entry->hostname, reports[i].problems);
	}
	free_reports(reports, count);
	if (bad > 0)
		return cli_fail(cli, EX_DATAERR, "nothing written: mend the certificates above first");
	if (apply_postfix(cli) < 0 || apply_dovecot(cli) < 0)
		return EX_CANTCREAT;
	return EX_OK;
}

int cmd_tls(struct cli *cli, int argc, char **argv)
{
	int exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(tls_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (argc != 2 || (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "apply") != 0)) {
		fputs(tls_usage, stderr);
		return EX_USAGE;
	}
	cli->command = strcmp(argv[1], "status") == 0 ? "tls status" : "tls apply";
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	return strcmp(argv[1], "status") == 0 ? tls_status(cli) : tls_apply(cli);
}
