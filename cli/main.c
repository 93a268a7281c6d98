/* main.c - `mailbag`, the admin command: its options and the table of commands
 *
 * SUMMARY
 *	mailbag [--context PATH] [--json] COMMAND [ARGS]
 *
 *	Git-style subcommands (init, domain, user, alias, ...), each with its
 *	own --help, dispatched from one table (name, argv wrapper, the lines
 *	`mailbag --help` lists); the commands live in libmailbag_cli. Every change is one store transaction and live for the
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

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* One command of `mailbag COMMAND`: its name, its argv wrapper, and how
   `mailbag --help` lists it. A command listed on two lines (dns) has two
   rows; the first row of a name is the one run. */
struct command {
	const char *name;
	cli_command_fn *run;
	const char *synopsis; /* "NAME ARGS" */
	const char *help;     /* what it does; a "\n" continues it below */
};

static const struct command commands[] = {
	{ "setup", cmd_setup, "setup --hostname HOST --domain DOMAIN [--root DIR] [--dry-run]",
	  "wire mailbag into this host's Postfix and Dovecot" },
	{ "unsetup", cmd_setup, "unsetup", "put Postfix's and Dovecot's own configuration back" },
	{ "init", cmd_init, "init", "create the context file and the store" },
	{ "domain", cmd_domain, "domain add|del|list", "the domains whose mail is kept here" },
	{ "user", cmd_user, "user add|del|list|passwd|disable|enable|quota|node|move", "mailboxes and their passwords" },
	{ "alias", cmd_alias, "alias add|del|list", "forwarding: fan-out, catch-all, domain alias" },
	{ "expire", cmd_expire, "expire [--apply]", "disable or delete accounts unused for expire.after" },
	{ "dkim", cmd_dkim, "dkim keygen|rotate|activate|show DOMAIN",
	  "DKIM keys (RSA and Ed25519) and their DNS records" },
	{ "dns", cmd_dns, "dns records [DOMAIN]", "every DNS record the domains need for mail here" },
	{ "dns", cmd_dns, "dns check [DOMAIN]", "ask DNS whether those records are there and right" },
	{ "tls", cmd_tls, "tls status|apply", "the certificates of each host name; SNI for Postfix\nand Dovecot" },
	{ "import", cmd_import, "import FORMAT PATH [--dry-run]",
	  "move another set-up in: courier, mailorama (see import --help)" },
	{ "web", cmd_web, "web build DIR", "client autoconfig, autodiscover and MTA-STS files\nand an nginx server for them" },
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))
/* where the help text of each row starts */
#define HELP_COLUMN 26

/* list_commands - the table as `mailbag --help` shows it: the synopsis,
   then the help from HELP_COLUMN (below it when the synopsis is longer) */
static void list_commands(FILE *f)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		const struct command *c = &commands[i];
		int width = HELP_COLUMN - 2;
		if (strlen(c->synopsis) < (size_t)width)
			fprintf(f, "  %-*s", width, c->synopsis);
		else
			fprintf(f, "  %s\n%*s", c->synopsis, HELP_COLUMN, "");
		for (const char *line = c->help; line != NULL;) {
			const char *end = strchr(line, '\n');
			fprintf(f, "%.*s\n", end != NULL ? (int)(end - line) : (int)strlen(line), line);
			line = end != NULL ? end + 1 : NULL;
			if (line != NULL)
				fprintf(f, "%*s", HELP_COLUMN, "");
		}
	}
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailbag [--context PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Manage the domains, users and aliases of a mailbag mail server.\n"
		"Changes are live for Postfix and Dovecot at once.\n"
		"\n"
		"commands:\n");
	list_commands(f);
	fprintf(f,
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

	const struct command *command = find_command(name);
	if (command != NULL) {
		ret = command->run(&cli, sub_argc, sub_argv);
	} else if (strcmp(name, "help") == 0) {
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
