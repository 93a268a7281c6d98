/* cmd-user-move.c - `mailbag user move [--purge | --cancel] ADDRESS NODE`
 *
 * SUMMARY
 *	Parses the arguments and prints each step of the move as
 *	user-move.c takes it; the move itself, its phases and why they are
 *	safe to interrupt, are there (and in mailbag(1)).
 */
#include "cli.h"
#include "commands.h"
#include "user-move.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const char move_usage[] =
	"usage: mailbag user move [--purge] ADDRESS NODE\n"
	"       mailbag user move --cancel ADDRESS NODE\n"
	"\n"
	"Moves the mailbox of ADDRESS to node NODE (the context's nodes) with\n"
	"Dovecot's dsync, deferring her mail and refusing her logins (temporary\n"
	"failures) only while the last changes are copied. Run it on the node\n"
	"that holds the mailbox; if it is interrupted, run it again: it goes on\n"
	"from where it stopped. The old copy is kept until --purge (given with\n"
	"the move, or after it). --cancel gives up a move not yet switched.\n";

static void print_step(const char *line, void *context)
{
	struct cli *cli = context;

	if (!cli->json) {
		printf("%s\n", line);
		fflush(stdout);
	}
}

int cmd_user_move(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "purge", no_argument, NULL, 'P' },
		{ "cancel", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_move_options o = { 0 };
	char address[MB_ADDRESS_MAX + 1];
	int c, exit_code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'P': o.purge = true; break;
		case 'C': o.cancel = true; break;
		case 'h': fputs(move_usage, stdout); return EX_OK;
		default: fputs(move_usage, stderr); return EX_USAGE;
		}
	}
	if (argc - optind != 2 || (o.purge && o.cancel)) {
		fputs(move_usage, stderr);
		return EX_USAGE;
	}
	if (cli_parse_address(cli, argv[optind], false, address) < 0)
		return EX_DATAERR;
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	return cli_user_move(cli, address, argv[optind + 1], &o, print_step, cli);
}
