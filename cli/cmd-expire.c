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
 */
#include "cli.h"
#include "commands.h"
#include "format.h"
#include "home.h"
#include "last-seen.h"
#include "grow.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

static const char expire_usage[] =
	"usage: mailbag expire [--apply]\n"
	"\n"
	"Accounts whose last login (or creation, if they never logged in) is older\n"
	"than expire.after in the context: listed, and with --apply disabled (or,\n"
	"with expire.delete true, deleted with their mailbox). Without --apply\n"
	"nothing changes.\n";

struct expire_candidate {
	char address[MB_ADDRESS_MAX + 1];
	int64_t seen;
	bool logged_in;
};

struct expire_scan {
	struct mb_store *store;
	int64_t now, before;
	bool skip_disabled;      /* disabling: the already disabled are done */
	size_t logins_recorded;  /* accounts with any last login */
	struct expire_candidate *found;
	size_t count, alloc;
	char error[512];         /* why the scan stopped, or "" */
};

static int collect(const struct mb_user *user, void *context)
{
	struct expire_scan *scan = context;
	int64_t seen;
	int logged_in = cli_user_last_seen(scan->store, user, scan->now, &seen,
					   scan->error, sizeof(scan->error));

	if (logged_in < 0)
		return 1;
	scan->logins_recorded += (size_t)logged_in;
	if (seen >= scan->before || (scan->skip_disabled && !user->enabled))
		return 0;
	struct expire_candidate *grown = mb_grow(scan->found, &scan->alloc, scan->count + 1,
						 sizeof(*grown), 64);
	if (grown == NULL) {
		snprintf(scan->error, sizeof(scan->error), "out of memory");
		return 1;
	}
	scan->found = grown;
	struct expire_candidate *c = &scan->found[scan->count++];
	snprintf(c->address, sizeof(c->address), "%s", user->address);
	c->seen = seen;
	c->logged_in = logged_in > 0;
	return 0;
}

/* expire_one - disable or delete one account; EX_OK or an exit code */
static int expire_one(struct cli *cli, const char *address)
{
	char error[1024];
	struct mb_user user;
	int ret = mb_store_user_get(cli->store, address, &user, error, sizeof(error));

	if (ret <= 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) : EX_OK;
	if (cli->ctx->expire.delete) {
		ret = mb_store_user_del(cli->store, address, error, sizeof(error));
		int exit_code = ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) :
			cli_purge_home(cli, user.home);
		mb_user_clear(&user);
		return exit_code;
	}
	user.enabled = false;
	ret = mb_store_user_update(cli->store, &user, error, sizeof(error));
	mb_user_clear(&user);
	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

static void report(struct cli *cli, json_t *out, const struct expire_candidate *c, bool apply)
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
	struct expire_scan scan = { 0 };
	char error[1024];
	bool apply;
	int exit_code;

	cli->command = "expire";
	if (parse_arguments(argc, argv, &apply, &exit_code) < 0 || cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (cli->ctx->expire.after == 0) {
		puts(cli->json ? "[]" : "expire.after is 0 in the context: no account expires");
		return EX_OK;
	}
	scan.store = cli->store;
	scan.now = (int64_t)time(NULL);
	scan.before = scan.now - cli->ctx->expire.after;
	scan.skip_disabled = !cli->ctx->expire.delete;
	/* collect first, change after: no change under a running iteration */
	int ret = mb_store_users_foreach(cli->store, NULL, collect, &scan, error, sizeof(error));
	if (ret < 0 || scan.error[0] != '\0') {
		exit_code = cli_fail(cli, EX_TEMPFAIL, "nothing expired: %s", ret < 0 ? error : scan.error);
	} else if (scan.count > 0 && scan.logins_recorded == 0) {
		exit_code = cli_fail(cli, EX_UNAVAILABLE,
			"nothing expired: no account has a recorded last login, so every old account would "
			"look unused; check that Dovecot's last_login plugin reports to policyd "
			"(last_login_dict in dovecot.conf)");
	} else {
		json_t *out = cli->json ? json_array() : NULL;
		exit_code = EX_OK;
		for (size_t i = 0; i < scan.count && exit_code == EX_OK; i++) {
			if (apply)
				exit_code = expire_one(cli, scan.found[i].address);
			if (exit_code == EX_OK)
				report(cli, out, &scan.found[i], apply);
		}
		cli_list_done(cli, out, 0, NULL);
	}
	free(scan.found);
	return exit_code;
}
