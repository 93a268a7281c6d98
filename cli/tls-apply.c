/* tls-apply.c - `mailbag tls apply`: Postfix's SNI table and Dovecot's TLS file
 *
 * SUMMARY
 *	From tls.certificates, the source of Postfix's tls_server_sni_maps
 *	(loaded with `postmap -F`, which copies the PEM files into the
 *	table) and a Dovecot conf.d file with one local_name block per host
 *	name, in the syntax of the Dovecot installed. Nothing is written
 *	while a certificate is wrong (tls-check.c), so a failed renewal never
 *	breaks a working configuration, and nothing that would not change,
 *	so the certbot deploy hook may run it at every renewal. `tls apply`
 *	and `mailbag setup` both call cli_tls_apply().
 */
#include "tls-apply.h"
#include "dovecot-version.h"
#include "files.h"
#include "tls-check.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

extern char **environ;

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
	for (size_t i = 0; i < ctx->tls.certificates.count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls.certificates.items[i];
		if (!cli_is_current(db, c->cert_file) || !cli_is_current(db, c->key_file))
			return false;
	}
	return true;
}

static int apply_postfix(struct cli *cli, cli_tls_file_cb *said, void *context)
{
	const struct mb_context *ctx = cli->ctx;
	const char *path = ctx->tls.postfix_sni_map;
	size_t size = 256 + ctx->tls.certificates.count * 700;
	char *text = malloc(size), db[300];
	size_t used;
	bool changed;

	if (text == NULL)
		return cli_fail(cli, -1, "out of memory");
	used = (size_t)snprintf(text, size,
				"# written by `mailbag tls apply` from tls.certificates; do not edit.\n"
				"# Postfix's tls_server_sni_maps = hash:%s (postmap -F)\n", path);
	for (size_t i = 0; i < ctx->tls.certificates.count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls.certificates.items[i];
		used += (size_t)snprintf(text + used, size - used, "%s %s %s\n",
					 c->hostname, c->key_file, c->cert_file);
	}
	int ret = cli_write_file(cli, path, text, 0600, &changed);
	free(text);
	if (ret < 0)
		return -1;
	snprintf(db, sizeof(db), "%s.db", path);
	if (!changed && table_is_current(ctx, db)) {
		said(db, false, context);
		return 0;
	}
	if (run_postmap(cli, path) < 0)
		return -1;
	/* the table holds copies of the private keys */
	if (chmod(db, 0600) < 0)
		return cli_fail(cli, -1, "cannot chmod 0600 %s: %s", db, strerror(errno));
	said(db, true, context);
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

static int apply_dovecot(struct cli *cli, cli_tls_file_cb *said, void *context)
{
	const struct mb_context *ctx = cli->ctx;
	const struct mb_tls_certificate *main_cert = mb_context_certificate(ctx, ctx->hostname);
	enum cli_dovecot version;
	char error[512];
	bool changed;

	if (cli_dovecot_version(&version, error, sizeof(error)) < 0)
		return cli_fail(cli, -1, "%s: not written: %s", ctx->tls.dovecot_conf, error);
	const struct dovecot_tls_syntax *syntax = version == CLI_DOVECOT_24 ? &dovecot24_tls : &dovecot23_tls;
	if (main_cert == NULL)
		main_cert = &ctx->tls.certificates.items[0];
	/* the fixed lines, then per certificate its names and both lines */
	size_t size = 1024 + strlen(main_cert->cert_file) + strlen(main_cert->key_file);
	for (size_t i = 0; i < ctx->tls.certificates.count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls.certificates.items[i];
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
	for (size_t i = 0; i < ctx->tls.certificates.count; i++) {
		const struct mb_tls_certificate *c = &ctx->tls.certificates.items[i];
		used += (size_t)snprintf(text + used, size - used,
					 "local_name %s {\n  %s%s\n  %s%s\n}\n",
					 c->hostname, syntax->cert_line, c->cert_file,
					 syntax->key_line, c->key_file);
	}
	int ret = cli_write_file(cli, ctx->tls.dovecot_conf, text, 0644, &changed);
	free(text);
	if (ret == 0)
		said(ctx->tls.dovecot_conf, changed, context);
	return ret;
}

int cli_tls_apply(struct cli *cli, cli_tls_file_cb *said, void *context)
{
	struct cert_report *reports;
	size_t count = cli->ctx->tls.certificates.count;

	if (count == 0)
		return cli_fail(cli, EX_CONFIG, "tls.certificates names no certificate: nothing to apply");
	int bad = cli_tls_check_all(cli, &reports);
	if (bad < 0)
		return cli_fail(cli, EX_OSERR, "out of memory");
	for (size_t i = 0; i < count; i++) {
		if (reports[i].problems[0] != '\0')
			cli_fail(cli, EX_DATAERR, "%s: %s", reports[i].entry->hostname, reports[i].problems);
	}
	cli_tls_reports_free(reports, count);
	if (bad > 0)
		return cli_fail(cli, EX_DATAERR, "nothing written: mend the certificates above first");
	if (apply_postfix(cli, said, context) < 0 || apply_dovecot(cli, said, context) < 0)
		return EX_CANTCREAT;
	return EX_OK;
}


void cli_tls_print_file(const char *path, bool written, void *context)
{
	(void)context;
	printf("%s %s\n", written ? "wrote" : "unchanged", path);
}
