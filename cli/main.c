/* main.c - `mailbag`, the admin command: dispatch and shared helpers
 *
 * SUMMARY
 *	mailbag [--context PATH] [--json] COMMAND [ARGS]
 *
 *	Git-style subcommands (init, domain, user, alias), each with its own
 *	--help. Every change is one store transaction and live for the
 *	daemons at once. Errors are one line on stderr naming the command
 *	and the bad input; exit codes follow sysexits(3):
 *	64 usage, 65 bad input or conflicting state, 67 no such user, domain
 *	or alias, 69 store unavailable, 73 already exists, 75 store failure,
 *	77 permission, 78 bad context file.
 */
#include "cli.h"
#include "log.h"
#include "password.h"

#include "mailbag-config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int cli_fail(struct cli *cli, int exit_code, const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "mailbag: %s%s", cli->command != NULL ? cli->command : "",
		cli->command != NULL ? ": " : "");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	return exit_code;
}

int cli_store_exit_code(int ret)
{
	switch (ret) {
	case 0: return EX_OK;
	case -EEXIST: return EX_CANTCREAT;
	case -ENOENT: return EX_NOUSER;
	case -ENOTEMPTY: case -EINVAL: case -E2BIG: return EX_DATAERR;
	case -EPERM: return EX_NOPERM;
	default: return EX_TEMPFAIL;
	}
}

int cli_context(struct cli *cli, int *exit_r)
{
	char error[1024];

	if (cli->ctx != NULL)
		return 0;
	if (mb_context_load(mb_context_path(cli->context_path), &cli->ctx,
			    error, sizeof(error)) < 0) {
		*exit_r = cli_fail(cli, EX_CONFIG, "%s", error);
		return -1;
	}
	return 0;
}

int cli_store(struct cli *cli, int *exit_r)
{
	char error[1024];

	if (cli->store != NULL)
		return 0;
	if (cli_context(cli, exit_r) < 0)
		return -1;
	if (mb_store_open(cli->ctx->store, MB_STORE_WRITE, &cli->store,
			  error, sizeof(error)) < 0) {
		*exit_r = cli_fail(cli, EX_UNAVAILABLE, "%s", error);
		return -1;
	}
	return 0;
}

int cli_parse_domain(struct cli *cli, const char *text, char buf[MB_DOMAIN_MAX + 1])
{
	const char *error;

	if (mb_domain_parse(text, buf, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "'%s' is not a domain: %s", text, error);
		return -1;
	}
	return 0;
}

int cli_parse_address(struct cli *cli, const char *text, bool allow_domain_only,
		      char buf[MB_ADDRESS_MAX + 1])
{
	struct mb_address addr;
	const char *error;

	if (allow_domain_only && text[0] == '@') {
		char domain[MB_DOMAIN_MAX + 1];
		if (cli_parse_domain(cli, text + 1, domain) < 0)
			return -1;
		snprintf(buf, MB_ADDRESS_MAX + 1, "@%s", domain);
		return 0;
	}
	/* no delimiter: the store keeps whole addresses, so "a+b@x" is
	   stored as given (policyd tries the exact address first) */
	if (mb_address_parse(text, NULL, &addr, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "'%s' is not an address: %s", text, error);
		return -1;
	}
	mb_address_format(&addr, buf, MB_ADDRESS_MAX + 1);
	return 0;
}

int cli_list_done(struct cli *cli, json_t *list, int foreach_ret, const char *error)
{
	int ret = EX_OK;

	if (foreach_ret < 0)
		ret = cli_fail(cli, EX_TEMPFAIL, "%s", error);
	else if (list != NULL) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(list);
	return ret;
}

int cli_parse_limit(struct cli *cli, const char *what, const char *text, uint64_t *bytes_r)
{
	const char *error;

	if (strcmp(text, "default") == 0) {
		*bytes_r = MB_LIMIT_DEFAULT;
		return 0;
	}
	if (mb_parse_size(text, bytes_r, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "%s '%s': %s (or 'default')", what, text, error);
		return -1;
	}
	return 0;
}

void cli_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "BKMGT";
	double v = (double)bytes;
	int u = 0;

	if (bytes == 0) {
		snprintf(buf, size, "unlimited");
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f%c", v, units[u]);
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
		if (strcmp(argv[i], "--") == 0)
			break;
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailbag [--context PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Manage the domains, users and aliases of a mailbag mail server.\n"
		"Changes are live for Postfix and Dovecot at once.\n"
		"\n"
		"commands:\n"
		"  setup --hostname HOST --domain DOMAIN [--root DIR] [--dry-run]\n"
		"                          wire mailbag into this host's Postfix and Dovecot\n"
		"  unsetup                 put Postfix's and Dovecot's own configuration back\n"
		"  init                    create the context file and the store\n"
		"  domain add|del|list     the domains whose mail is kept here\n"
		"  user add|del|list|passwd|disable|enable|quota\n"
		"                          mailboxes and their passwords\n"
		"  alias add|del|list      forwarding: fan-out, catch-all, domain alias\n"
		"  expire [--apply]        disable or delete accounts unused for expire.after\n"
		"  dkim keygen|rotate|activate|show DOMAIN\n"
		"                          DKIM keys (RSA and Ed25519) and their DNS records\n"
		"  dns records [DOMAIN]    every DNS record the domains need for mail here\n"
		"  dns check [DOMAIN]      ask DNS whether those records are there and right\n"
		"  tls status|apply        the certificates of each host name; SNI for Postfix\n"
		"                          and Dovecot\n"
		"  web build DIR           client autoconfig, autodiscover and MTA-STS files\n"
		"                          and an nginx server for them\n"
		"\n"
		"options:\n"
		"  -c, --context PATH  context file (default: $MAILBAG_CONTEXT or %s)\n"
		"  --json              print results as JSON for scripts\n"
		"  -h, --help          this text; 'mailbag COMMAND --help' for a command\n"
		"  -V, --version       print the version\n"
		"\n"
		"See mailbag(1).\n", MAILBAG_DEFAULT_CONTEXT);
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const char *error;
	int i, ret;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.json = true;
		} else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--context") == 0) &&
			   i + 1 < argc) {
			cli.context_path = argv[++i];
		} else if (strncmp(argv[i], "--context=", 10) == 0) {
			cli.context_path = argv[i] + 10;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EX_OK;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("mailbag %s\n", MAILBAG_VERSION);
			return EX_OK;
		} else {
			fprintf(stderr, "mailbag: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EX_USAGE;
	}
	mb_log_init("mailbag", false);
	if (mb_password_init(&error) < 0) {
		fprintf(stderr, "mailbag: %s\n", error);
		return EX_SOFTWARE;
	}
	const char *name = argv[i];
	int sub_argc = argc - i;
	char **sub_argv = argv + i;

	if (strcmp(name, "init") == 0)
		ret = cmd_init(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "domain") == 0)
		ret = cmd_domain(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "user") == 0)
		ret = cmd_user(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "alias") == 0)
		ret = cmd_alias(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "expire") == 0)
		ret = cmd_expire(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "dkim") == 0)
		ret = cmd_dkim(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "dns") == 0)
		ret = cmd_dns(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "tls") == 0)
		ret = cmd_tls(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "web") == 0)
		ret = cmd_web(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "setup") == 0 || strcmp(name, "unsetup") == 0)
		ret = cmd_setup(&cli, sub_argc, sub_argv);
	else if (strcmp(name, "help") == 0) {
		usage(stdout);
		ret = EX_OK;
	} else {
		fprintf(stderr, "mailbag: unknown command '%s' (try 'mailbag --help')\n", name);
		ret = EX_USAGE;
	}
	mb_store_close(&cli.store);
	mb_context_free(&cli.ctx);
	return ret;
}
