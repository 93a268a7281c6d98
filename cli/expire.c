/* expire.c - the accounts nobody uses any more, found and expired
 *
 * SUMMARY
 *	The actions of `mailbag expire` (cmd-expire.c parses its arguments
 *	and prints what it did): every account whose last login (for one
 *	that never logged in, its creation) is older than expire.after,
 *	collected first and changed after (no change under a running store
 *	walk); then one by one disabled, or with expire.delete deleted with
 *	their mailbox.
 *
 * SAFETY
 *	Finding refuses when last logins cannot be read, and when none is
 *	recorded for any account: either would make every old account look
 *	unused.
 */
#include "expire.h"
#include "grow.h"
#include "home.h"
#include "last-seen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct expire_scan {
	struct mb_store *store;
	int64_t now, before;
	bool skip_disabled;      /* disabling: the already disabled are done */
	size_t logins_recorded;  /* accounts with any last login */
	struct cli_expire_candidates found;
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
	struct cli_expire_candidates *found = &scan->found;
	struct cli_expire_candidate *grown = mb_grow(found->items, &found->capacity, found->count + 1,
						     sizeof(*grown), 64);
	if (grown == NULL) {
		snprintf(scan->error, sizeof(scan->error), "out of memory");
		return 1;
	}
	found->items = grown;
	struct cli_expire_candidate *c = &found->items[found->count++];
	snprintf(c->address, sizeof(c->address), "%s", user->address);
	c->seen = seen;
	c->logged_in = logged_in > 0;
	return 0;
}

int cli_expire_one(struct cli *cli, const char *address)
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

int cli_expire_find(struct cli *cli, int64_t now, struct cli_expire_candidates *found_r)
{
	struct expire_scan scan = { .store = cli->store, .now = now,
				    .before = now - cli->ctx->expire.after,
				    .skip_disabled = !cli->ctx->expire.delete };
	char error[1024];
	int exit_code = EX_OK;

	int ret = mb_store_users_foreach(cli->store, NULL, collect, &scan, error, sizeof(error));
	if (ret < 0 || scan.error[0] != '\0') {
		exit_code = cli_fail(cli, EX_TEMPFAIL, "nothing expired: %s", ret < 0 ? error : scan.error);
	} else if (scan.found.count > 0 && scan.logins_recorded == 0) {
		exit_code = cli_fail(cli, EX_UNAVAILABLE,
			"nothing expired: no account has a recorded last login, so every old account would "
			"look unused; check that Dovecot's last_login plugin reports to policyd "
			"(last_login_dict in dovecot.conf)");
	}
	if (exit_code != EX_OK)
		cli_expire_candidates_free(&scan.found);
	*found_r = scan.found;
	return exit_code;
}

void cli_expire_candidates_free(struct cli_expire_candidates *found)
{
	free(found->items);
	memset(found, 0, sizeof(*found));
}
