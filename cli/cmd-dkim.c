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
 *	Keys are made by OpenSSL; nothing secret is printed. This file
 *	parses the arguments and prints; rotate, activate and show are
 *	actions in dkim-rotate.c.
 */
#include "cli.h"
#include "commands.h"
#include "dkim-keys.h"
#include "dkim-rotate.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>


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
	struct record_printer p = { cli, cli->json ? json_array() : NULL, domain };
	int ret = cli_dkim_show(cli, domain, print_made, &p);

	if (p.list != NULL && ret != EX_NOINPUT) {
		json_dumpf(p.list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(p.list);
	return ret;
}

static int rotate(struct cli *cli, const char *domain, const char *base)
{
	struct cli_dkim_rotation_plan plan;
	char when[64];
	int ret;

	if ((ret = cli_dkim_rotate_plan(cli, domain, base, &plan)) != EX_OK)
		return ret;
	if ((ret = keygen(cli, domain, plan.base)) != EX_OK)
		return ret;
	if ((ret = cli_dkim_rotate_start(cli, &plan)) != EX_OK)
		return ret;
	cli_dkim_format_time(plan.signs_from, when, sizeof(when));
	if (!cli->json)
		printf("; publish the records above now: they sign from %s, or as soon as\n"
		       "; 'mailbag dkim activate %s' finds them in DNS\n", when, domain);
	return EX_OK;
}

/* print_checked - a pending record found in DNS, or why not */
static void print_checked(const char *name, bool published, const char *why, void *context)
{
	const struct cli *cli = context;

	if (!published)
		fprintf(stderr, "mailbag: dkim activate: %s: %s\n", name, why);
	else if (!cli->json)
		printf("%s: published\n", name);
}

static int activate(struct cli *cli, const char *domain, bool force)
{
	struct mb_dkim_set signing;
	int ret = cli_dkim_activate(cli, domain, force, print_checked, cli, &signing);

	if (ret == EX_OK && !cli->json)
		printf("%s now signs with %s%s%s\n", domain, signing.selectors[0],
		       signing.count > 1 ? " and " : "", signing.count > 1 ? signing.selectors[1] : "");
	return ret;
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

