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
 */
#include "cli.h"

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

#define EXPIRE_MAX_ACCOUNTS 100000

struct expire_list {
	int64_t before;
	bool skip_disabled; /* disabling: the already disabled are done */
	bool truncated;
	struct mb_store *store;
	int64_t now;
	char (*addresses)[MB_ADDRESS_MAX + 1];
	int64_t *seen;
	bool *logged_in;
	size_t count;
};

static int collect(const struct mb_user *user, void *context)
{
	struct expire_list *list = context;
	bool logged_in;
	int64_t seen = cli_user_last_seen(list->store, user, list->now, &logged_in);

	if (seen >= list->before || (list->skip_disabled && !user->enabled))
		return 0;
	if (list->count == EXPIRE_MAX_ACCOUNTS) {
		list->truncated = true;
		return 1;
	}
	snprintf(list->addresses[list->count], MB_ADDRESS_MAX + 1, "%s", user->address);
	list->seen[list->count] = seen;
	list->logged_in[list->count] = logged_in;
	list->count++;
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
	if (cli->ctx->expire_delete) {
		ret = mb_store_user_del(cli->store, address, error, sizeof(error));
		int exit_code = ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) :
			cli_purge_home(cli, user.home);
		mb_user_clear(&user);
		return exit_code;
	}
	if (!user.enabled) {
		mb_user_clear(&user);
		return EX_OK;
	}
	user.enabled = false;
	ret = mb_store_user_update(cli->store, &user, error, sizeof(error));
	mb_user_clear(&user);
	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

static void print_entry(struct cli *cli, json_t *out, const struct expire_list *list, size_t i,
			bool apply)
{
	const char *action = cli->ctx->expire_delete ? "delete" : "disable";
	char day[16] = "?";
	time_t t = (time_t)list->seen[i];
	struct tm tm;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	if (out != NULL) {
		json_array_append_new(out, json_pack("{s:s, s:s, s:b, s:I, s:b}", "address",
			list->addresses[i], "action", action, "applied", apply,
			list->logged_in[i] ? "last_login" : "created", (json_int_t)list->seen[i],
			"logged_in", list->logged_in[i]));
		return;
	}
	printf("%s %s (%s %s)\n", apply ? (cli->ctx->expire_delete ? "deleted" : "disabled") :
	       (cli->ctx->expire_delete ? "would delete" : "would disable"),
	       list->addresses[i], list->logged_in[i] ? "last login" : "created, never logged in,", day);
}

int cmd_expire(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "apply", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct expire_list list = { 0 };
	char error[1024];
	bool apply = false;
	int opt, exit_code;

	cli->command = "expire";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'a': apply = true; break;
		case 'h': fputs(expire_usage, stdout); return EX_OK;
		default: fputs(expire_usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs(expire_usage, stderr);
		return EX_USAGE;
	}
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (cli->ctx->expire_after == 0) {
		if (!cli->json)
			printf("expire.after is 0 in the context: no account expires\n");
		else
			printf("[]\n");
		return EX_OK;
	}
	list.now = (int64_t)time(NULL);
	list.before = list.now - cli->ctx->expire_after;
	list.store = cli->store;
	list.skip_disabled = !cli->ctx->expire_delete;
	list.addresses = calloc(EXPIRE_MAX_ACCOUNTS, sizeof(*list.addresses));
	list.seen = calloc(EXPIRE_MAX_ACCOUNTS, sizeof(*list.seen));
	list.logged_in = calloc(EXPIRE_MAX_ACCOUNTS, sizeof(*list.logged_in));
	if (list.addresses == NULL || list.seen == NULL || list.logged_in == NULL) {
		exit_code = cli_fail(cli, EX_OSERR, "out of memory");
		goto done;
	}
	/* collect first, change after: no change under a running iteration */
	if (mb_store_users_foreach(cli->store, NULL, collect, &list, error, sizeof(error)) < 0) {
		exit_code = cli_fail(cli, EX_TEMPFAIL, "%s", error);
		goto done;
	}
	json_t *out = cli->json ? json_array() : NULL;
	exit_code = EX_OK;
	for (size_t i = 0; i < list.count && exit_code == EX_OK; i++) {
		if (apply)
			exit_code = expire_one(cli, list.addresses[i]);
		if (exit_code == EX_OK)
			print_entry(cli, out, &list, i, apply);
	}
	if (list.truncated)
		fprintf(stderr, "mailbag: expire: more than %d accounts to expire; run it again for the rest\n",
			EXPIRE_MAX_ACCOUNTS);
	if (out != NULL) {
		char *text = json_dumps(out, JSON_INDENT(2));
		if (text != NULL)
			puts(text);
		free(text);
		json_decref(out);
	}
done:
	free(list.addresses);
	free(list.seen);
	free(list.logged_in);
	return exit_code;
}
