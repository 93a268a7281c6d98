/* cmd-expire.c - mailbag expire: the accounts nobody uses any more
 *
 * SUMMARY
 *	mailbag expire [--apply]
 *
 *	Lists every account whose last login (as Dovecot's last_login plugin
 *	reported it; for an account that never logged in, its creation) is
 *	older than expire.after in the context. With --apply it disables
 *	them, or with expire.delete true deletes them and their mail. Without
 *	--apply nothing changes: a timer can run it daily, and an operator
 *	can see first what it would do. expire.after of 0 (the default)
 *	expires nothing.
 *
 * SAFETY
 *	It refuses to act when last logins cannot be read, and when none is
 *	recorded for any account (last_login not reporting, or the state
 *	lost): either would make every old account look unused.
 *
 *	This file parses the arguments and prints; finding and expiring
 *	the accounts are actions in expire.c.
 */
#include "cli.h"
#include "commands.h"
#include "expire.h"
#include "format.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

static const char expire_usage[] =
	"usage: mailbag expire [--apply]\n"
	"\n"
	"Accounts whose last login (or creation, if they never logged in) is older\n"
	"than expire.after in the context: listed, and with --apply disabled (or,\n"
	"with expire.delete true, deleted with their mailbox). Without --apply\n"
	"nothing changes.\n";

static void report(struct cli *cli, json_t *out, const struct cli_expire_candidate *c, bool apply)
{
	bool delete = cli->ctx->expire.delete;
	char day[16];

	if (out != NULL) {
		json_array_append_new(out, json_pack("{s:s, s:s, s:b, s:I, s:b}", "address",
			c->address, "action", delete ? "delete" : "disable", "applied", apply,
			c->logged_in ? "last_login" : "created", (json_int_t)c->seen,
			"logged_in", c->logged_in));
		return;
	}
	cli_format_day(c->seen, day, sizeof(day));
	printf("%s %s (%s %s)\n", apply ? (delete ? "deleted" : "disabled") :
	       (delete ? "would delete" : "would disable"),
	       c->address, c->logged_in ? "last login" : "created, never logged in,", day);
}

static int parse_arguments(int argc, char **argv, bool *apply_r, int *exit_r)
{
	static const struct option options[] = {
		{ "apply", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*apply_r = false;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'a': *apply_r = true; break;
		case 'h': fputs(expire_usage, stdout); *exit_r = EX_OK; return -1;
		default: fputs(expire_usage, stderr); *exit_r = EX_USAGE; return -1;
		}
	}
	if (optind != argc) {
		fputs(expire_usage, stderr);
		*exit_r = EX_USAGE;
		return -1;
	}
	return 0;
}

int cmd_expire(struct cli *cli, int argc, char **argv)
{
	struct cli_expire_candidates found;
	bool apply;
	int exit_code;

	cli->command = "expire";
	if (parse_arguments(argc, argv, &apply, &exit_code) < 0 || cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (cli->ctx->expire.after == 0) {
		puts(cli->json ? "[]" : "expire.after is 0 in the context: no account expires");
		return EX_OK;
	}
	if ((exit_code = cli_expire_find(cli, (int64_t)time(NULL), &found)) != EX_OK)
		return exit_code;
	json_t *out = cli->json ? json_array() : NULL;
	for (size_t i = 0; i < found.count && exit_code == EX_OK; i++) {
		if (apply)
			exit_code = cli_expire_one(cli, found.items[i].address);
		if (exit_code == EX_OK)
			report(cli, out, &found.items[i], apply);
	}
	cli_list_done(cli, out, 0, NULL);
	cli_expire_candidates_free(&found);
	return exit_code;
}
