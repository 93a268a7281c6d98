/* cmd-dkim.c - `mailbag dkim keygen|show DOMAIN`: DKIM keys and their DNS records
 *
 * SUMMARY
 *	keygen makes a pair of keys for a domain, RSA-2048 and Ed25519
 *	(RFC 8463), each under its own dated selector (mbYYYYMMDDr and
 *	mbYYYYMMDDe unless --selector BASE is given), as PKCS#8 PEM files in
 *	dkim.key_dir/DOMAIN/SELECTOR.key: the directory 0750 and the files
 *	0640, owned by root and the daemon user's group (the signer reads
 *	them, nobody else). It never overwrites a key. show prints the TXT
 *	record of every key of the domain, as zone-file lines (or --json),
 *	for the DNS: "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" and
 *	"v=DKIM1; k=ed25519; p=<the raw 32-byte key>", both base64.
 *	Keys are made by OpenSSL; nothing secret is printed.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static const char dkim_usage[] =
	"usage: mailbag dkim keygen [--selector BASE] DOMAIN\n"
	"       mailbag dkim show DOMAIN\n"
	"\n"
	"keygen  make an RSA-2048 and an Ed25519 key for DOMAIN, selectors BASEr and\n"
	"        BASEe (BASE: mbYYYYMMDD, today), in dkim.key_dir/DOMAIN/, readable by\n"
	"        the daemon user's group only; prints their DNS records\n"
	"show    the DNS TXT records of every key of DOMAIN (--json for scripts)\n";

#define SELECTOR_MAX 63

static bool selector_valid(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= SELECTOR_MAX - 1 &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len && s[0] != '-';
}

/* key_group - the daemon user's group, or -1 */
static gid_t key_group(const struct cli *cli)
{
	struct passwd *pw = getpwnam(cli->ctx->daemon_user);

	return pw != NULL ? pw->pw_gid : (gid_t)-1;
}

static int make_dir(struct cli *cli, const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %m", path);
	gid_t gid = key_group(cli);
	if (geteuid() == 0 && gid != (gid_t)-1 && chown(path, 0, gid) < 0)
		return cli_fail(cli, EX_CANTCREAT, "cannot give %s to group %s: %m", path, cli->ctx->daemon_user);
	if (chmod(path, mode) < 0)
		return cli_fail(cli, EX_CANTCREAT, "cannot set the mode of %s: %m", path);
	return EX_OK;
}

/* write_key - the private key, PEM, created 0640 (never replacing one) */
static int write_key(struct cli *cli, const char *path, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cli_fail(cli, errno == EEXIST ? EX_CANTCREAT : EX_IOERR, "%s: %s%s", path, strerror(errno),
				errno == EEXIST ? " (a key is never overwritten; choose another --selector)" : "");
	FILE *f = fdopen(fd, "w");
	int ok = f != NULL && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	gid_t gid = key_group(cli);
	if (ok && geteuid() == 0 && gid != (gid_t)-1)
		ok = fchown(fd, 0, gid) == 0;
	ok = ok && fchmod(fd, 0640) == 0;
	if (f != NULL ? fclose(f) != 0 : close(fd) != 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		return cli_fail(cli, EX_IOERR, "cannot write %s", path);
	}
	return EX_OK;
}

/* txt_value - "v=DKIM1; k=...; p=..." for a key */
static char *txt_value(EVP_PKEY *key)
{
	unsigned char raw[64], *der = NULL;
	const unsigned char *pub;
	int len;
	const char *k;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		size_t raw_len = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1)
			return NULL;
		pub = raw;
		len = (int)raw_len;
		k = "ed25519";
	} else {
		len = i2d_PUBKEY(key, &der);
		if (len <= 0)
			return NULL;
		pub = der;
		k = "rsa";
	}
	size_t b64_size = 4 * (((size_t)len + 2) / 3) + 1;
	char *value = malloc(b64_size + 32);
	if (value != NULL) {
		int n = snprintf(value, 32, "v=DKIM1; k=%s; p=", k);
		EVP_EncodeBlock((unsigned char *)value + n, pub, len);
	}
	OPENSSL_free(der);
	return value;
}

/* print_record - a zone-file line (strings of at most 250 characters) or JSON */
static void print_record(struct cli *cli, json_t *list, const char *selector, const char *domain,
			 const char *value)
{
	if (list != NULL) {
		char name[SELECTOR_MAX + MB_DOMAIN_MAX + 16];
		snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "selector", selector,
						      "name", name, "type", "TXT", "value", value));
		return;
	}
	(void)cli;
	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0, len = strlen(value); off < len; off += 250)
		printf(" \"%.250s\"", value + off);
	printf(" )\n");
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return key;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* show - every DOMAIN/SELECTOR.key's record, by selector */
static int show(struct cli *cli, const char *domain)
{
	char dir[4096], path[4400], *names[256];
	size_t count = 0;
	int ret = EX_OK;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	DIR *d = opendir(dir);
	if (d == NULL)
		return cli_fail(cli, EX_NOINPUT, "no DKIM keys for %s (%s: %m); make them with 'mailbag dkim keygen %s'",
				domain, dir, domain);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && count < 256) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".key") == 0 && (names[count] = strdup(e->d_name)) != NULL)
			count++;
	}
	closedir(d);
	qsort(names, count, sizeof(names[0]), compare_names);
	json_t *list = cli->json ? json_array() : NULL;
	for (size_t i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		names[i][strlen(names[i]) - 4] = '\0';
		EVP_PKEY *key = read_key(path);
		char *value = key != NULL ? txt_value(key) : NULL;
		if (value == NULL)
			ret = cli_fail(cli, EX_DATAERR, "%s is not a private key this can read", path);
		else
			print_record(cli, list, names[i], domain, value);
		free(value);
		EVP_PKEY_free(key);
		free(names[i]);
	}
	if (list != NULL) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(list);
	}
	return ret;
}

static int keygen(struct cli *cli, const char *domain, const char *base)
{
	char dir[4096], path[4400], today[16], selector[SELECTOR_MAX + 1];
	time_t now = time(NULL);
	struct tm tm;

	if (base == NULL) {
		gmtime_r(&now, &tm);
		strftime(today, sizeof(today), "mb%Y%m%d", &tm);
		base = today;
	}
	if (!selector_valid(base))
		return cli_fail(cli, EX_USAGE, "--selector '%s': use 1 to 62 of a-z 0-9 -", base);
	int ret = make_dir(cli, cli->ctx->dkim_key_dir, 0750);
	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	if (ret == EX_OK)
		ret = make_dir(cli, dir, 0750);
	static const struct { const char *type; const char *suffix; } kinds[] = {
		{ "RSA", "r" }, { "ED25519", "e" },
	};
	json_t *list = cli->json ? json_array() : NULL;
	for (size_t i = 0; ret == EX_OK && i < 2; i++) {
		snprintf(selector, sizeof(selector), "%s%s", base, kinds[i].suffix);
		snprintf(path, sizeof(path), "%s/%s.key", dir, selector);
		EVP_PKEY *key = strcmp(kinds[i].type, "RSA") == 0 ?
			EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
			EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (key == NULL) {
			ret = cli_fail(cli, EX_SOFTWARE, "OpenSSL could not make a %s key", kinds[i].type);
			break;
		}
		ret = write_key(cli, path, key);
		char *value = ret == EX_OK ? txt_value(key) : NULL;
		if (ret == EX_OK && value == NULL)
			ret = cli_fail(cli, EX_SOFTWARE, "cannot encode the public key of %s", path);
		if (value != NULL)
			print_record(cli, list, selector, domain, value);
		free(value);
		EVP_PKEY_free(key);
	}
	if (list != NULL) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(list);
	}
	return ret;
}

int cmd_dkim(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "selector", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static char command[32];
	char domain[MB_DOMAIN_MAX + 1];
	const char *base = NULL;
	int opt, exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(dkim_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "keygen") != 0 && strcmp(verb, "show") != 0) {
		fprintf(stderr, "mailbag: dkim: unknown command '%s'\n", verb);
		fputs(dkim_usage, stderr);
		return EX_USAGE;
	}
	snprintf(command, sizeof(command), "dkim %s", verb);
	cli->command = command;
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		if (opt != 's' || strcmp(verb, "keygen") != 0) {
			fputs(dkim_usage, stderr);
			return EX_USAGE;
		}
		base = optarg;
	}
	if (argc - 1 - optind != 1) {
		fputs(dkim_usage, stderr);
		return EX_USAGE;
	}
	if (cli_parse_domain(cli, argv[1 + optind], domain) < 0)
		return EX_DATAERR;
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	return strcmp(verb, "keygen") == 0 ? keygen(cli, domain, base) : show(cli, domain);
}
