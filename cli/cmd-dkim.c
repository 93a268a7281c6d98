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
#include "dkim-rotation.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

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
	"       mailbag dkim rotate [--selector BASE] DOMAIN\n"
	"       mailbag dkim activate [--force] DOMAIN\n"
	"       mailbag dkim show DOMAIN\n"
	"\n"
	"keygen    make an RSA-2048 and an Ed25519 key for DOMAIN, selectors BASEr and\n"
	"          BASEe (BASE: mbYYYYMMDD, today), in dkim.key_dir/DOMAIN/, readable by\n"
	"          the daemon user's group only; prints their DNS records\n"
	"rotate    make the next pair and print its records to publish now; it signs\n"
	"          after dkim.rotation_delay (2d), or once 'activate' finds it in DNS;\n"
	"          the pair it replaces stays published for dkim.retire_after (7d)\n"
	"activate  look the pending pair up in DNS and, when its records are there\n"
	"          (or --force), sign with it from now on\n"
	"show      the DNS TXT record and the state of every key of DOMAIN (signing,\n"
	"          pending, retired, unused); --json for scripts\n";

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
static void print_record_state(struct cli *cli, json_t *list, const char *selector, const char *domain,
			       const char *value, const char *state)
{
	if (list != NULL) {
		char name[SELECTOR_MAX + MB_DOMAIN_MAX + 16];
		snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
		json_t *record = json_pack("{s:s, s:s, s:s, s:s}", "selector", selector,
					   "name", name, "type", "TXT", "value", value);
		if (state != NULL)
			json_object_set_new(record, "state", json_string(state));
		json_array_append_new(list, record);
		return;
	}
	(void)cli;
	if (state != NULL)
		printf("; %s\n", state);
	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0, len = strlen(value); off < len; off += 250)
		printf(" \"%.250s\"", value + off);
	printf(" )\n");
}

static void print_record(struct cli *cli, json_t *list, const char *selector, const char *domain,
			 const char *value)
{
	print_record_state(cli, list, selector, domain, value, NULL);
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

#define DOMAIN_KEYS_MAX 256

struct domain_key {
	char selector[SELECTOR_MAX + 1];
	EVP_PKEY *key;
	int type;         /* EVP_PKEY_RSA or EVP_PKEY_ED25519 */
};

/* read_domain_keys - every DIR/DOMAIN/SELECTOR.key, by selector; the
   count, or -1 (error printed) */
static int read_domain_keys(struct cli *cli, const char *dir, const char *domain,
			    struct domain_key *keys)
{
	char path[4400], *names[DOMAIN_KEYS_MAX];
	size_t count = 0;
	int n = 0;

	DIR *d = opendir(dir);
	if (d == NULL) {
		cli_fail(cli, EX_NOINPUT, "no DKIM keys for %s (%s: %m); make them with 'mailbag dkim keygen %s'",
			 domain, dir, domain);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && count < DOMAIN_KEYS_MAX) {
		size_t len = strlen(e->d_name);
		if (len > 4 && len - 4 <= SELECTOR_MAX && strcmp(e->d_name + len - 4, ".key") == 0 &&
		    (names[count] = strdup(e->d_name)) != NULL)
			count++;
	}
	closedir(d);
	qsort(names, count, sizeof(names[0]), compare_names);
	for (size_t i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		names[i][strlen(names[i]) - 4] = '\0';
		EVP_PKEY *key = read_key(path);
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

static void free_domain_keys(struct domain_key *keys, int count)
{
	for (int i = 0; i < count; i++)
		EVP_PKEY_free(keys[i].key);
}

static bool set_has(const struct mb_dkim_set *set, const char *selector)
{
	for (size_t i = 0; set != NULL && i < set->count; i++) {
		if (strcmp(set->selectors[i], selector) == 0)
			return true;
	}
	return false;
}

/* newest_of_type - whether key k is the newest of its algorithm */
static bool newest_of_type(const struct domain_key *keys, int count, int k)
{
	for (int i = 0; i < count; i++) {
		if (keys[i].type == keys[k].type && strcmp(keys[i].selector, keys[k].selector) > 0)
			return false;
	}
	return true;
}

static void format_time(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

/* key_state - what a key does now, as the milter sees it */
static void key_state(const struct mb_dkim_rotation *rotation, const struct domain_key *keys, int count,
		      int k, int64_t now, char *buf, size_t size)
{
	const struct mb_dkim_set *active = mb_dkim_rotation_active(rotation, now);
	const char *selector = keys[k].selector;
	char when[64];

	if (active != NULL ? set_has(active, selector) : newest_of_type(keys, count, k)) {
		snprintf(buf, size, "signing");
		return;
	}
	if (set_has(&rotation->pending, selector)) {
		format_time(rotation->pending_after, when, sizeof(when));
		snprintf(buf, size, "pending: publish now; signs from %s, or once 'mailbag dkim activate' finds it in DNS", when);
		return;
	}
	for (size_t i = 0; i < rotation->retired_count; i++) {
		if (strcmp(rotation->retired[i].selector, selector) == 0) {
			format_time(rotation->retired[i].until, when, sizeof(when));
			if (rotation->retired[i].until > now)
				snprintf(buf, size, "retired: keep published until %s", when);
			else
				snprintf(buf, size, "retired since %s: may be removed from DNS and deleted", when);
			return;
		}
	}
	snprintf(buf, size, "unused");
}

/* show - every DOMAIN/SELECTOR.key's record and state, by selector */
static int show(struct cli *cli, const char *domain)
{
	char dir[4096], error[1024], state[256];
	struct domain_key keys[DOMAIN_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int ret = EX_OK;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	int count = read_domain_keys(cli, dir, domain, keys);
	if (count < 0)
		return EX_NOINPUT;
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		ret = cli_fail(cli, EX_DATAERR, "%s", error);
	json_t *list = cli->json ? json_array() : NULL;
	for (int i = 0; i < count; i++) {
		char *value = txt_value(keys[i].key);
		if (value == NULL) {
			ret = cli_fail(cli, EX_DATAERR, "cannot encode the public key of %s", keys[i].selector);
			continue;
		}
		key_state(&rotation, keys, count, i, now, state, sizeof(state));
		print_record_state(cli, list, keys[i].selector, domain, value, state);
		free(value);
	}
	free_domain_keys(keys, count);
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

/* dns_has_txt - 1 when name has a TXT record equal to want, 0 when not,
   -1 when DNS could not say (why written) */
static int dns_has_txt(struct cli_dns *dns, const char *name, const char *want,
		       char *why, size_t why_size)
{
	struct cli_dns_answers txt;
	int found = cli_dns_lookup(dns, name, ns_t_txt, &txt, why, why_size);

	if (found <= 0) {
		if (found == 0)
			snprintf(why, why_size, "no TXT record");
		return found;
	}
	snprintf(why, why_size, "a different TXT record");
	found = 0;
	for (size_t i = 0; i < txt.count; i++)
		found = found || cli_same_record(txt.items[i], want);
	cli_dns_answers_free(&txt);
	return found;
}

/* next_base - today's dated base, or the first of BASE-2..BASE-9 not used */
static int next_base(const char *dir, char base[SELECTOR_MAX + 1])
{
	char today[16], path[4400];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "mb%Y%m%d", &tm);
	for (int i = 1; i <= 9; i++) {
		if (i == 1)
			snprintf(base, SELECTOR_MAX + 1, "%s", today);
		else
			snprintf(base, SELECTOR_MAX + 1, "%s-%d", today, i);
		snprintf(path, sizeof(path), "%s/%sr.key", dir, base);
		if (access(path, F_OK) < 0)
			return 0;
	}
	return -1;
}

static int rotate(struct cli *cli, const char *domain, const char *base)
{
	char dir[4096], error[1024], when[64], next[SELECTOR_MAX + 1];
	struct domain_key keys[DOMAIN_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (rotation.pending.count > 0 && now < rotation.pending_after) {
		format_time(rotation.pending_after, when, sizeof(when));
		return cli_fail(cli, EX_TEMPFAIL, "a rotation of %s is under way (%s signs from %s); "
				"run 'mailbag dkim activate %s' once its records are in DNS", domain,
				rotation.pending.selectors[0], when, domain);
	}
	int count = read_domain_keys(cli, dir, domain, keys);
	if (count <= 0)
		return count < 0 ? EX_NOINPUT :
			cli_fail(cli, EX_NOINPUT, "%s has no keys to rotate; make them with 'mailbag dkim keygen %s'",
				 domain, domain);
	/* the keys signing now keep signing until the new ones may */
	const struct mb_dkim_set *active = mb_dkim_rotation_active(&rotation, now);
	struct mb_dkim_set current = { .count = 0 };
	for (int i = 0; i < count && current.count < MB_DKIM_SET_MAX; i++) {
		if (active != NULL ? set_has(active, keys[i].selector) : newest_of_type(keys, count, i))
			snprintf(current.selectors[current.count++], MB_DKIM_SELECTOR_MAX + 1, "%.63s", keys[i].selector);
	}
	free_domain_keys(keys, count);
	if (base == NULL) {
		if (next_base(dir, next) < 0)
			return cli_fail(cli, EX_CANTCREAT, "nine rotations of %s today already; pass --selector", domain);
		base = next;
	}
	int ret = keygen(cli, domain, base);
	if (ret != EX_OK)
		return ret;
	rotation.signing = current;
	rotation.pending.count = 0;
	snprintf(rotation.pending.selectors[rotation.pending.count++], MB_DKIM_SELECTOR_MAX + 1, "%.62sr", base);
	snprintf(rotation.pending.selectors[rotation.pending.count++], MB_DKIM_SELECTOR_MAX + 1, "%.62se", base);
	rotation.pending_after = now + cli->ctx->dkim_rotation_delay;
	if (mb_dkim_rotation_write(dir, &rotation, (long)key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	format_time(rotation.pending_after, when, sizeof(when));
	if (!cli->json)
		printf("; publish the records above now: they sign from %s, or as soon as\n"
		       "; 'mailbag dkim activate %s' finds them in DNS\n", when, domain);
	return EX_OK;
}

static int activate(struct cli *cli, const char *domain, bool force)
{
	char dir[4096], path[4400], error[1024], name[MB_DKIM_SELECTOR_MAX + MB_DOMAIN_MAX + 16], why[512];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int missing = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (rotation.pending.count == 0)
		return cli_fail(cli, EX_DATAERR, "no rotation of %s is pending; start one with 'mailbag dkim rotate %s'",
				domain, domain);
	struct cli_dns *dns = cli_dns_open(NULL, error, sizeof(error));
	if (dns == NULL)
		return cli_fail(cli, EX_UNAVAILABLE, "%s", error);
	for (size_t i = 0; i < rotation.pending.count; i++) {
		const char *selector = rotation.pending.selectors[i];
		snprintf(path, sizeof(path), "%s/%s.key", dir, selector);
		EVP_PKEY *key = read_key(path);
		char *want = key != NULL ? txt_value(key) : NULL;
		EVP_PKEY_free(key);
		if (want == NULL) {
			cli_dns_close(dns);
			return cli_fail(cli, EX_DATAERR, "%s is missing or not a key", path);
		}
		snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
		int found = dns_has_txt(dns, name, want, why, sizeof(why));
		free(want);
		if (found != 1) {
			fprintf(stderr, "mailbag: dkim activate: %s: %s\n", name, why);
			missing++;
		} else if (!cli->json) {
			printf("%s: published\n", name);
		}
	}
	cli_dns_close(dns);
	if (missing > 0 && !force)
		return cli_fail(cli, EX_TEMPFAIL, "%d record%s of the new keys not in DNS yet; the old keys keep signing",
				missing, missing > 1 ? "s" : "");
	for (size_t i = 0; i < rotation.signing.count && rotation.retired_count < MB_DKIM_RETIRED_MAX; i++) {
		if (set_has(&rotation.pending, rotation.signing.selectors[i]))
			continue;
		snprintf(rotation.retired[rotation.retired_count].selector, MB_DKIM_SELECTOR_MAX + 1, "%s",
			 rotation.signing.selectors[i]);
		rotation.retired[rotation.retired_count++].until = now + cli->ctx->dkim_retire_after;
	}
	rotation.signing = rotation.pending;
	rotation.pending.count = 0;
	rotation.pending_after = 0;
	if (mb_dkim_rotation_write(dir, &rotation, (long)key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	if (!cli->json)
		printf("%s now signs with %s%s%s\n", domain, rotation.signing.selectors[0],
		       rotation.signing.count > 1 ? " and " : "",
		       rotation.signing.count > 1 ? rotation.signing.selectors[1] : "");
	return EX_OK;
}

int cmd_dkim(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "selector", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	static char command[32];
	char domain[MB_DOMAIN_MAX + 1];
	const char *base = NULL;
	int opt, exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(dkim_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "keygen") != 0 && strcmp(verb, "show") != 0 && strcmp(verb, "rotate") != 0 &&
	    strcmp(verb, "activate") != 0) {
		fprintf(stderr, "mailbag: dkim: unknown command '%s'\n", verb);
		fputs(dkim_usage, stderr);
		return EX_USAGE;
	}
	snprintf(command, sizeof(command), "dkim %s", verb);
	cli->command = command;
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		if (opt == 's' && (strcmp(verb, "keygen") == 0 || strcmp(verb, "rotate") == 0)) {
			base = optarg;
		} else if (opt == 'f' && strcmp(verb, "activate") == 0) {
			force = true;
		} else {
			fputs(dkim_usage, stderr);
			return EX_USAGE;
		}
	}
	if (argc - 1 - optind != 1) {
		fputs(dkim_usage, stderr);
		return EX_USAGE;
	}
	if (cli_parse_domain(cli, argv[1 + optind], domain) < 0)
		return EX_DATAERR;
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	if (strcmp(verb, "keygen") == 0)
		return keygen(cli, domain, base);
	if (strcmp(verb, "rotate") == 0)
		return rotate(cli, domain, base);
	if (strcmp(verb, "activate") == 0)
		return activate(cli, domain, force);
	return show(cli, domain);
}

int cli_dkim_published(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context)
{
	char dir[4096], error[1024], state[256];
	struct domain_key keys[DOMAIN_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int published = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim_key_dir, domain);
	if (access(dir, F_OK) < 0)
		return 0; /* no keys (yet): nothing to publish */
	int count = read_domain_keys(cli, dir, domain, keys);
	if (count < 0)
		return -1;
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0) {
		cli_fail(cli, EX_DATAERR, "%s", error);
		free_domain_keys(keys, count);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		key_state(&rotation, keys, count, i, now, state, sizeof(state));
		/* signing, pending and retired keys are in DNS; the rest not */
		if (strcmp(state, "unused") == 0 || strstr(state, "may be removed") != NULL)
			continue;
		char *value = txt_value(keys[i].key);
		if (value != NULL) {
			cb(keys[i].selector, value, state, context);
			published++;
		}
		free(value);
	}
	free_domain_keys(keys, count);
	return published;
}
