/* cmd-alias.c - `mailbag alias add|del|list`
 *
 * SUMMARY
 *	Aliases forward mail for a source to one or more targets:
 *	  user@a.example -> other users here and/or external addresses
 *	  @a.example     -> a catch-all for addresses with no mailbox
 *	  @a.example -> @b.example
 *	                 a domain alias: every user of b.example also
 *	                 receives at a.example (a.example must not be a
 *	                 mailbox domain itself)
 *	A target on a domain served here (a mailbox domain or a domain
 *	alias) must exist when added: a user (disabled is allowed, with a
 *	note), an alias, or an address a domain alias maps to one; a +detail
 *	of one counts, a catch-all does not. --allow-missing adds it anyway.
 *	Whatever is stored, policyd leaves out of an alias's answer the
 *	local targets nothing receives (mb_store_route), so an alias never
 *	accepts mail that would then bounce; list marks them.
 */
#include "cli.h"
#include "commands.h"
#include "grow.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char alias_usage[] =
	"usage: mailbag alias add [--allow-missing] SOURCE TARGET [TARGET...]\n"
	"       mailbag alias del SOURCE [TARGET...]\n"
	"       mailbag alias list [DOMAIN]\n"
	"\n"
	"SOURCE is user@domain, or @domain for a catch-all.\n"
	"TARGET is an address here or elsewhere; @other.domain as the only\n"
	"target of @domain makes a domain alias.\n"
	"add adds targets (creating the alias), del removes the given targets\n"
	"or, with none, the whole alias.\n"
	"A target on a domain served here must be a user or an alias (or its\n"
	"+detail, or reach one through a domain alias); --allow-missing adds one\n"
	"that is not. Mail to the alias skips targets here that are missing or\n"
	"disabled users; an alias left with none is refused at RCPT like an\n"
	"unknown address. list marks them: (missing), (disabled), or (catch-all)\n"
	"for one only the domain's catch-all receives; --json lists them under\n"
	"\"dangling\" with their \"state\".\n";

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

static int check_add(struct cli *cli, const char *source, char targets[][MB_ADDRESS_MAX + 1],
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
		if (served > 0)
			return cli_fail(cli, EX_DATAERR, "%s has mailboxes here; a domain alias needs a domain that is not served (use a catch-all target address instead)", source_domain);
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

struct list_context {
	struct mb_store *store;
	const char *delimiters;
	json_t *list;        /* NULL: print lines */
	char error[512];     /* why the listing stopped, or "" */
	struct mb_alias *aliases; /* read first: no lookup under the store's cursor */
	size_t count, capacity;
};

/* keep_alias - copy one alias into the list context */
static int keep_alias(const struct mb_alias *alias, void *context)
{
	struct list_context *lc = context;
	struct mb_alias *grown = mb_grow(lc->aliases, &lc->capacity, lc->count + 1, sizeof(*grown), 0);

	if (grown == NULL)
		goto oom;
	lc->aliases = grown;
	struct mb_alias *copy = &grown[lc->count];
	memset(copy, 0, sizeof(*copy));
	memcpy(copy->source, alias->source, sizeof(copy->source));
	copy->targets = calloc(alias->target_count + 1, sizeof(char *));
	lc->count++;
	if (copy->targets == NULL)
		goto oom;
	for (size_t i = 0; i < alias->target_count; i++) {
		if ((copy->targets[i] = strdup(alias->targets[i])) == NULL)
			goto oom;
		copy->target_count++;
	}
	return 0;
oom:
	snprintf(lc->error, sizeof(lc->error), "out of memory");
	return 1;
}

static int print_alias(const struct mb_alias *alias, struct list_context *lc)
{
	json_t *targets = lc->list != NULL ? json_array() : NULL;
	json_t *dangling = lc->list != NULL ? json_array() : NULL;

	if (lc->list == NULL)
		printf("%s ->", alias->source);
	for (size_t i = 0; i < alias->target_count; i++) {
		const char *t = alias->targets[i];
		/* a domain alias's "@domain" target: dangling when not served */
		int state = mb_store_target_state(lc->store, lc->delimiters, t, lc->error, sizeof(lc->error));
		if (state < 0) {
			json_decref(targets);
			json_decref(dangling);
			if (lc->list == NULL)
				putchar('\n');
			return 1;
		}
		bool marked = state == MB_TARGET_MISSING || state == MB_TARGET_DISABLED ||
			state == MB_TARGET_CATCH_ALL;
		if (lc->list == NULL) {
			printf("%s %s", i > 0 ? "," : "", t);
			if (marked)
				printf(" (%s)", mb_target_state_name((enum mb_target_state)state));
			continue;
		}
		json_array_append_new(targets, json_string(t));
		if (marked)
			json_array_append_new(dangling, json_pack("{s:s, s:s}", "target", t, "state",
				mb_target_state_name((enum mb_target_state)state)));
	}
	if (lc->list == NULL) {
		putchar('\n');
		return 0;
	}
	json_array_append_new(lc->list, json_pack("{s:s, s:o, s:o}", "source", alias->source,
						  "targets", targets, "dangling", dangling));
	return 0;
}

static int alias_list(struct cli *cli, int argc, char **argv)
{
	char domain[MB_DOMAIN_MAX + 1], error[1024];
	int exit_code;

	cli->command = "alias list";
	if (argc > 3) {
		fputs(alias_usage, stderr);
		return EX_USAGE;
	}
	if (argc == 3 && cli_parse_domain(cli, argv[2], domain) < 0)
		return EX_DATAERR;
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	struct list_context lc = { cli->store, cli->ctx->recipient_delimiter,
				   cli->json ? json_array() : NULL, "", NULL, 0, 0 };
	int ret = mb_store_aliases_foreach(cli->store, argc == 3 ? domain : NULL,
					   keep_alias, &lc, error, sizeof(error));
	for (size_t i = 0; ret == 0 && lc.error[0] == '\0' && i < lc.count; i++)
		print_alias(&lc.aliases[i], &lc);
	for (size_t i = 0; i < lc.count; i++)
		mb_alias_clear(&lc.aliases[i]);
	free(lc.aliases);
	if (ret == 0 && lc.error[0] != '\0') {
		snprintf(error, sizeof(error), "%s", lc.error);
		ret = -1;
	}
	return cli_list_done(cli, lc.list, ret, error);
}

int cmd_alias(struct cli *cli, int argc, char **argv)
{
	char source[MB_ADDRESS_MAX + 1], error[1024];
	int exit_code, ret;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(alias_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return alias_list(cli, argc, argv);
	bool adding = strcmp(argv[1], "add") == 0, allow_missing = false;
	/* add's one option, before SOURCE or among the targets */
	for (int i = 2; adding && i < argc; i++) {
		if (strcmp(argv[i], "--allow-missing") != 0)
			continue;
		allow_missing = true;
		memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(char *));
		argc--;
		i--;
	}
	if ((!adding && strcmp(argv[1], "del") != 0) || argc < 3 || (adding && argc < 4) ||
	    argc - 3 > MB_ALIAS_MAX_TARGETS) {
		fputs(alias_usage, stderr);
		return EX_USAGE;
	}
	cli->command = adding ? "alias add" : "alias del";
	if (cli_parse_address(cli, argv[2], true, source) < 0)
		return EX_DATAERR;

	size_t count = (size_t)(argc - 3);
	char (*targets)[MB_ADDRESS_MAX + 1] = calloc(count + 1, sizeof(*targets));
	const char **target_ptrs = calloc(count + 1, sizeof(char *));
	if (targets == NULL || target_ptrs == NULL) {
		free(targets);
		free(target_ptrs);
		return cli_fail(cli, EX_OSERR, "out of memory");
	}
	ret = EX_OK;
	for (size_t i = 0; i < count && ret == EX_OK; i++) {
		if (cli_parse_address(cli, argv[3 + i], source[0] == '@', targets[i]) < 0)
			ret = EX_DATAERR;
		target_ptrs[i] = targets[i];
	}
	if (ret == EX_OK && cli_store(cli, &exit_code) < 0)
		ret = exit_code;
	if (ret == EX_OK && adding)
		ret = check_add(cli, source, targets, count, allow_missing);
	if (ret == EX_OK) {
		int sret = adding ?
			mb_store_alias_add(cli->store, source, target_ptrs, count, error, sizeof(error)) :
			mb_store_alias_del(cli->store, source, target_ptrs, count, error, sizeof(error));
		if (sret < 0)
			ret = cli_fail(cli, cli_store_exit_code(sret), "%s", error);
		else if (!cli->json)
			printf("%s %s\n", adding ? "updated" : (count == 0 ? "deleted" : "updated"), source);
		else
			printf("{\"alias\": \"%s\", \"ok\": true}\n", source);
	}
	free(targets);
	free(target_ptrs);
	return ret;
}
