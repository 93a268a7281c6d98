/* main.c - `mailbag`, the admin command: its options and the table of commands
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
#include "commands.h"
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
