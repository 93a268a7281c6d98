/* aliases.c - aliases added to and taken from
 *
 * SUMMARY
 *	The actions of `mailbag alias add|del` (cmd-alias.c parses their
 *	arguments and prints what they did). add checks first what the
 *	alias would do: a domain alias needs a source domain that is not
 *	served and a target domain that is; any other alias needs a served
 *	source domain, a source that is not a mailbox, and targets on
 *	domains served here that exist (a user, an alias, via +detail or a
 *	domain alias; a disabled user is allowed with a note, a missing one
 *	only with allow_missing).
 */
#include "aliases.h"
#include "system-aliases.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* check_target - a target of alias add on a domain served here must
   exist (a user, an alias, via +detail or a domain alias); a disabled
   user is allowed with a note */
static int check_target(struct cli *cli, const char *source, const char *target, bool allow_missing)
{
	char error[512];
	int state = mb_store_target_state(cli->store, cli->ctx->recipient_delimiter, target,
					  error, sizeof(error));

	if (state < 0)
		return cli_fail(cli, EX_TEMPFAIL, "%s", error);
	if (state == MB_TARGET_DISABLED) {
		fprintf(stderr, "mailbag: alias add: note: %s is a disabled user; mail to %s skips it until it is enabled\n",
			target, source);
		return EX_OK;
	}
	if (state != MB_TARGET_MISSING && state != MB_TARGET_CATCH_ALL)
		return EX_OK;
	if (allow_missing) {
		fprintf(stderr, "mailbag: alias add: note: %s is neither a user nor an alias here; %s\n", target,
			state == MB_TARGET_CATCH_ALL ? "mail to it goes to the domain's catch-all" :
			"mail to the alias skips it until it exists");
		return EX_OK;
	}
	return cli_fail(cli, EX_NOUSER, "target %s is on a domain served here but is neither a user nor an alias%s "
			"(add it first, or use --allow-missing)", target,
			state == MB_TARGET_CATCH_ALL ? " (only the catch-all would receive it)" : "");
}

static int check_add(struct cli *cli, const char *source, const char *const *targets,
		     size_t count, bool allow_missing)
{
	char error[512];
	struct mb_user user;
	bool domain_alias = source[0] == '@' && count == 1 && targets[0][0] == '@';
	const char *source_domain = strrchr(source, '@') + 1;
	int served = mb_store_domain_exists(cli->store, source_domain, error, sizeof(error));

	if (served < 0)
		return cli_fail(cli, EX_TEMPFAIL, "%s", error);
	if (domain_alias) {
		/* Postfix's mydestination names these: never a virtual domain too */
		int own = cli_refuse_host_name_domain(cli, source_domain);
		if (own != EX_OK)
			return own;
		if (served > 0)
			return cli_fail(cli, EX_DATAERR, "%s has mailboxes here; a domain alias needs a domain that is not served (use a catch-all target address instead)", source_domain);
		struct mb_relay_domain relay;
		int relayed = mb_store_relay_domain_get(cli->store, source_domain, &relay, error, sizeof(error));
		if (relayed < 0)
			return cli_fail(cli, EX_TEMPFAIL, "%s", error);
		if (relayed > 0) {
			mb_relay_domain_clear(&relay);
			return cli_fail(cli, EX_DATAERR, "%s is a relay domain (we are its backup MX); take it off with 'mailbag relay domain del %s' first",
					source_domain, source_domain);
		}
		int target = mb_store_domain_exists(cli->store, targets[0] + 1, error, sizeof(error));
		if (target <= 0)
			return cli_fail(cli, target < 0 ? EX_TEMPFAIL : EX_NOUSER,
					"target domain %s is not served here", targets[0] + 1);
		return EX_OK;
	}
	if (served == 0)
		return cli_fail(cli, EX_NOUSER, "domain %s is not served here (add it with 'mailbag domain add %s')",
				source_domain, source_domain);
	if (source[0] != '@') {
		int ret = mb_store_user_get(cli->store, source, &user, error, sizeof(error));
		if (ret > 0) {
			mb_user_clear(&user);
			return cli_fail(cli, EX_DATAERR, "%s is a mailbox; an alias would take its mail", source);
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (targets[i][0] == '@')
			return cli_fail(cli, EX_DATAERR, "target %s: a domain target is only allowed alone, for a domain alias @a.example -> @b.example", targets[i]);
		if (strcmp(targets[i], source) == 0)
			return cli_fail(cli, EX_DATAERR, "target %s is the alias itself", targets[i]);
		int ret = check_target(cli, source, targets[i], allow_missing);
		if (ret != EX_OK)
			return ret;
	}
	return EX_OK;
}

int cli_alias_add(struct cli *cli, const char *source, const char *const *targets, size_t count,
		  bool allow_missing)
{
	char error[1024];
	int ret = check_add(cli, source, targets, count, allow_missing);

	if (ret != EX_OK)
		return ret;
	ret = mb_store_alias_add(cli->store, source, targets, count, error, sizeof(error));
	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_alias_del(struct cli *cli, const char *source, const char *const *targets, size_t count)
{
	char error[1024];
	int ret = mb_store_alias_del(cli->store, source, targets, count, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_alias_check_target(struct cli *cli, const char *source, const char *target, bool allow_missing)
{
	return check_target(cli, source, target, allow_missing);
}
