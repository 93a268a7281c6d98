/* cmd-dkim.c - `mailbag dkim keygen|rotate|activate|show DOMAIN`: DKIM keys and their DNS records
 *
 * SUMMARY
 *	keygen makes a pair of keys for a domain, RSA-2048 and Ed25519
 *	(RFC 8463), each under its own dated selector (mbYYYYMMDDr and
 *	mbYYYYMMDDe unless --selector BASE is given), with
 *	cli_dkim_keygen() (dkim-keys.c), and prints their records. show prints the TXT
 *	record of every key of the domain, as zone-file lines (or --json),
 *	for the DNS: "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" and
 *	"v=DKIM1; k=ed25519; p=<the raw 32-byte key>", both base64.
 *	Keys are made by OpenSSL; nothing secret is printed.
 */
#include "cli.h"
#include "commands.h"
#include "dkim-keys.h"
#include "dns-query.h"
#include "dkim-rotation.h"

#include <getopt.h>
#include <jansson.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* print_record - a zone-file line (strings of at most 250 characters) or JSON */
static void print_record_state(struct cli *cli, json_t *list, const char *selector, const char *domain,
			       const char *value, const char *state)
{
	if (list != NULL) {
		char name[CLI_DKIM_SELECTOR_MAX + MB_DOMAIN_MAX + 16];
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

struct record_printer {
	struct cli *cli;
	json_t *list;  /* NULL: zone-file lines */
	const char *domain;
};

static void print_made(const char *selector, const char *value, const char *state, void *context)
{
	struct record_printer *p = context;

	print_record_state(p->cli, p->list, selector, p->domain, value, state);
}

/* keygen - make the pair, printing each key's record as it is made */
static int keygen(struct cli *cli, const char *domain, const char *base)
{
	struct record_printer p = { cli, cli->json ? json_array() : NULL, domain };
	int ret = cli_dkim_keygen(cli, domain, base, print_made, &p);

	if (p.list != NULL) {
		json_dumpf(p.list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(p.list);
	}
	return ret;
}

/* show - every DOMAIN/SELECTOR.key's record and state, by selector */
static int show(struct cli *cli, const char *domain)
{
	char dir[4096], error[1024], state[256];
	struct cli_dkim_key keys[CLI_DKIM_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int ret = EX_OK;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	int count = cli_dkim_read_keys(cli, dir, domain, keys);
	if (count < 0)
		return EX_NOINPUT;
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		ret = cli_fail(cli, EX_DATAERR, "%s", error);
	json_t *list = cli->json ? json_array() : NULL;
	for (int i = 0; i < count; i++) {
		char *value = cli_dkim_txt_value(keys[i].key);
		if (value == NULL) {
			ret = cli_fail(cli, EX_DATAERR, "cannot encode the public key of %s", keys[i].selector);
			continue;
		}
		cli_dkim_key_state(&rotation, keys, count, i, now, state, sizeof(state));
		print_record_state(cli, list, keys[i].selector, domain, value, state);
		free(value);
	}
	cli_dkim_free_keys(keys, count);
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
static int next_base(const char *dir, char base[CLI_DKIM_SELECTOR_MAX + 1])
{
	char today[16], path[4400];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "mb%Y%m%d", &tm);
	for (int i = 1; i <= 9; i++) {
		if (i == 1)
			snprintf(base, CLI_DKIM_SELECTOR_MAX + 1, "%s", today);
		else
			snprintf(base, CLI_DKIM_SELECTOR_MAX + 1, "%s-%d", today, i);
		snprintf(path, sizeof(path), "%s/%sr.key", dir, base);
		if (access(path, F_OK) < 0)
			return 0;
	}
	return -1;
}

static int rotate(struct cli *cli, const char *domain, const char *base)
{
	char dir[4096], error[1024], when[64], next[CLI_DKIM_SELECTOR_MAX + 1];
	struct cli_dkim_key keys[CLI_DKIM_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (rotation.pending.count > 0 && now < rotation.pending_after) {
		cli_dkim_format_time(rotation.pending_after, when, sizeof(when));
		return cli_fail(cli, EX_TEMPFAIL, "a rotation of %s is under way (%s signs from %s); "
				"run 'mailbag dkim activate %s' once its records are in DNS", domain,
				rotation.pending.selectors[0], when, domain);
	}
	int count = cli_dkim_read_keys(cli, dir, domain, keys);
	if (count <= 0)
		return count < 0 ? EX_NOINPUT :
			cli_fail(cli, EX_NOINPUT, "%s has no keys to rotate; make them with 'mailbag dkim keygen %s'",
				 domain, domain);
	/* the keys signing now keep signing until the new ones may */
	const struct mb_dkim_set *active = mb_dkim_rotation_active(&rotation, now);
	struct mb_dkim_set current = { .count = 0 };
	for (int i = 0; i < count && current.count < MB_DKIM_SET_MAX; i++) {
		if (active != NULL ? cli_dkim_set_has(active, keys[i].selector) : cli_dkim_newest_of_type(keys, count, i))
			snprintf(current.selectors[current.count++], MB_DKIM_SELECTOR_MAX + 1, "%.63s", keys[i].selector);
	}
	cli_dkim_free_keys(keys, count);
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
	rotation.pending_after = now + cli->ctx->dkim.rotation_delay;
	if (mb_dkim_rotation_write(dir, &rotation, (long)cli_dkim_key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	cli_dkim_format_time(rotation.pending_after, when, sizeof(when));
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

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
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
		EVP_PKEY *key = cli_dkim_read_key(path);
		char *want = key != NULL ? cli_dkim_txt_value(key) : NULL;
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
		if (cli_dkim_set_has(&rotation.pending, rotation.signing.selectors[i]))
			continue;
		snprintf(rotation.retired[rotation.retired_count].selector, MB_DKIM_SELECTOR_MAX + 1, "%s",
			 rotation.signing.selectors[i]);
		rotation.retired[rotation.retired_count++].until = now + cli->ctx->dkim.retire_after;
	}
	rotation.signing = rotation.pending;
	rotation.pending.count = 0;
	rotation.pending_after = 0;
	if (mb_dkim_rotation_write(dir, &rotation, (long)cli_dkim_key_group(cli), error, sizeof(error)) < 0)
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

