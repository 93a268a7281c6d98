/* dkim-keys.c - a domain's DKIM keys: made, read, and what each does now
 *
 * SUMMARY
 *	cli_dkim_keygen() makes a pair of keys for a domain, RSA-2048 and
 *	Ed25519 (RFC 8463), each under its own selector (BASEr and BASEe),
 *	as PKCS#8 PEM files in dkim.key_dir/DOMAIN/SELECTOR.key: the
 *	directory 0750 and the files 0640, owned by root and the daemon
 *	user's group (the signer reads them, nobody else). It never
 *	overwrites a key. The keys of a domain are read back by selector,
 *	and each one's state is the milter's view of the rotation file
 *	(signing, pending, retired, unused). cli_dkim_published() is what
 *	DNS must hold now, for `dns records` and `dns check`. Keys are made
 *	by OpenSSL; nothing secret is printed.
 */
#include "dkim-keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static bool selector_valid(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= CLI_DKIM_SELECTOR_MAX - 1 &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len && s[0] != '-';
}

/* cli_dkim_key_group - the daemon user's group, or -1 */
gid_t cli_dkim_key_group(const struct cli *cli)
{
	struct passwd *pw = getpwnam(cli->ctx->daemon_user);

	return pw != NULL ? pw->pw_gid : (gid_t)-1;
}

static int make_dir(struct cli *cli, const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %m", path);
	gid_t gid = cli_dkim_key_group(cli);
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
	gid_t gid = cli_dkim_key_group(cli);
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

/* cli_dkim_txt_value - "v=DKIM1; k=...; p=..." for a key */
char *cli_dkim_txt_value(EVP_PKEY *key)
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

EVP_PKEY *cli_dkim_read_key(const char *path)
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

/* cli_dkim_read_keys - every DIR/DOMAIN/SELECTOR.key, by selector; the
   count, or -1 (error printed) */
int cli_dkim_read_keys(struct cli *cli, const char *dir, const char *domain,
			    struct cli_dkim_key *keys)
{
	char path[4400], *names[CLI_DKIM_KEYS_MAX];
	size_t count = 0;
	int n = 0;

	DIR *d = opendir(dir);
	if (d == NULL) {
		cli_fail(cli, EX_NOINPUT, "no DKIM keys for %s (%s: %m); make them with 'mailbag dkim keygen %s'",
			 domain, dir, domain);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && count < CLI_DKIM_KEYS_MAX) {
		size_t len = strlen(e->d_name);
		if (len > 4 && len - 4 <= CLI_DKIM_SELECTOR_MAX && strcmp(e->d_name + len - 4, ".key") == 0 &&
		    (names[count] = strdup(e->d_name)) != NULL)
			count++;
	}
	closedir(d);
	qsort(names, count, sizeof(names[0]), compare_names);
	for (size_t i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		names[i][strlen(names[i]) - 4] = '\0';
		EVP_PKEY *key = cli_dkim_read_key(path);
		if (key == NULL) {
			cli_fail(cli, EX_DATAERR, "%s is not a private key this can read", path);
		} else {
			snprintf(keys[n].selector, sizeof(keys[n].selector), "%s", names[i]);
			keys[n].key = key;
			keys[n].type = EVP_PKEY_get_base_id(key);
			n++;
		}
		free(names[i]);
	}
	return n;
}

void cli_dkim_free_keys(struct cli_dkim_key *keys, int count)
{
	for (int i = 0; i < count; i++)
		EVP_PKEY_free(keys[i].key);
}

bool cli_dkim_set_has(const struct mb_dkim_set *set, const char *selector)
{
	for (size_t i = 0; set != NULL && i < set->count; i++) {
		if (strcmp(set->selectors[i], selector) == 0)
			return true;
	}
	return false;
}

/* cli_dkim_newest_of_type - whether key k is the newest of its algorithm */
bool cli_dkim_newest_of_type(const struct cli_dkim_key *keys, int count, int k)
{
	for (int i = 0; i < count; i++) {
		if (keys[i].type == keys[k].type && strcmp(keys[i].selector, keys[k].selector) > 0)
			return false;
	}
	return true;
}

void cli_dkim_format_time(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

/* cli_dkim_key_state - what a key does now, as the milter sees it */
void cli_dkim_key_state(const struct mb_dkim_rotation *rotation, const struct cli_dkim_key *keys, int count,
		      int k, int64_t now, char *buf, size_t size)
{
	const struct mb_dkim_set *active = mb_dkim_rotation_active(rotation, now);
	const char *selector = keys[k].selector;
	char when[64];

	if (active != NULL ? cli_dkim_set_has(active, selector) : cli_dkim_newest_of_type(keys, count, k)) {
		snprintf(buf, size, "signing");
		return;
	}
	if (cli_dkim_set_has(&rotation->pending, selector)) {
		cli_dkim_format_time(rotation->pending_after, when, sizeof(when));
		snprintf(buf, size, "pending: publish now; signs from %s, or once 'mailbag dkim activate' finds it in DNS", when);
		return;
	}
	for (size_t i = 0; i < rotation->retired_count; i++) {
		if (strcmp(rotation->retired[i].selector, selector) == 0) {
			cli_dkim_format_time(rotation->retired[i].until, when, sizeof(when));
			if (rotation->retired[i].until > now)
				snprintf(buf, size, "retired: keep published until %s", when);
			else
				snprintf(buf, size, "retired since %s: may be removed from DNS and deleted", when);
			return;
		}
	}
	snprintf(buf, size, "unused");
}

int cli_dkim_keygen(struct cli *cli, const char *domain, const char *base, cli_dkim_record_cb *made,
		    void *context)
{
	char dir[4096], path[4400], today[16], selector[CLI_DKIM_SELECTOR_MAX + 1];
	time_t now = time(NULL);
	struct tm tm;

	if (base == NULL) {
		gmtime_r(&now, &tm);
		strftime(today, sizeof(today), "mb%Y%m%d", &tm);
		base = today;
	}
	if (!selector_valid(base))
		return cli_fail(cli, EX_USAGE, "--selector '%s': use 1 to 62 of a-z 0-9 -", base);
	int ret = make_dir(cli, cli->ctx->dkim.key_dir, 0750);
	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	if (ret == EX_OK)
		ret = make_dir(cli, dir, 0750);
	static const struct { const char *type; const char *suffix; } kinds[] = {
		{ "RSA", "r" }, { "ED25519", "e" },
	};
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
		char *value = ret == EX_OK ? cli_dkim_txt_value(key) : NULL;
		if (ret == EX_OK && value == NULL)
			ret = cli_fail(cli, EX_SOFTWARE, "cannot encode the public key of %s", path);
		if (value != NULL && made != NULL)
			made(selector, value, NULL, context);
		free(value);
		EVP_PKEY_free(key);
	}
	return ret;
}

int cli_dkim_published(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context)
{
	char dir[4096], error[1024], state[256];
	struct cli_dkim_key keys[CLI_DKIM_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int published = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	if (access(dir, F_OK) < 0)
		return 0; /* no keys (yet): nothing to publish */
	int count = cli_dkim_read_keys(cli, dir, domain, keys);
	if (count < 0)
		return -1;
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0) {
		cli_fail(cli, EX_DATAERR, "%s", error);
		cli_dkim_free_keys(keys, count);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		cli_dkim_key_state(&rotation, keys, count, i, now, state, sizeof(state));
		/* signing, pending and retired keys are in DNS; the rest not */
		if (strcmp(state, "unused") == 0 || strstr(state, "may be removed") != NULL)
			continue;
		char *value = cli_dkim_txt_value(keys[i].key);
		if (value != NULL) {
			cb(keys[i].selector, value, state, context);
			published++;
		}
		free(value);
	}
	cli_dkim_free_keys(keys, count);
	return published;
}
