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
 *	A target on a domain served here must exist, so an alias never
 *	accepts mail that would then bounce.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char alias_usage[] =
	"usage: mailbag alias add SOURCE TARGET [TARGET...]\n"
	"       mailbag alias del SOURCE [TARGET...]\n"
	"       mailbag alias list [DOMAIN]\n"
	"\n"
	"SOURCE is user@domain, or @domain for a catch-all.\n"
	"TARGET is an address here or elsewhere; @other.domain as the only\n"
	"target of @domain makes a domain alias.\n"
	"add adds targets (creating the alias), del removes the given targets\n"
	"or, with none, the whole alias.\n";

/* local_target_exists - a target on a served domain must be a user or
   an alias: 1 yes or not local, 0 missing, -1 store failure */
static int local_target_exists(struct cli *cli, const char *target)
{
	char error[512];
	struct mb_user user;
	struct mb_alias alias;
	const char *at = strrchr(target, '@');
	int ret = mb_store_domain_exists(cli->store, at + 1, error, sizeof(error));

	if (ret <= 0)
		return ret < 0 ? -1 : 1;
	ret = mb_store_user_get(cli->store, target, &user, error, sizeof(error));
	if (ret > 0) {
		mb_user_clear(&user);
		return 1;
	}
	if (ret < 0)
		return -1;
	ret = mb_store_alias_get(cli->store, target, &alias, error, sizeof(error));
	if (ret > 0)
		mb_alias_clear(&alias);
	return ret;
}

static int check_add(struct cli *cli, const char *source, char targets[][MB_ADDRESS_MAX + 1],
		     size_t count)
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
		int ret = local_target_exists(cli, targets[i]);
		if (ret <= 0)
			return cli_fail(cli, ret < 0 ? EX_TEMPFAIL : EX_NOUSER,
					"target %s is on a domain served here but is neither a user nor an alias", targets[i]);
	}
	return EX_OK;
}

static int print_alias(const struct mb_alias *alias, void *context)
{
	json_t *list = context;

	if (list != NULL) {
		json_t *targets = json_array();
		for (size_t i = 0; i < alias->target_count; i++)
			json_array_append_new(targets, json_string(alias->targets[i]));
		json_array_append_new(list, json_pack("{s:s, s:o}", "source", alias->source,
						      "targets", targets));
		return 0;
	}
	printf("%s ->", alias->source);
	for (size_t i = 0; i < alias->target_count; i++)
		printf("%s %s", i > 0 ? "," : "", alias->targets[i]);
	putchar('\n');
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
	json_t *list = cli->json ? json_array() : NULL;
	int ret = mb_store_aliases_foreach(cli->store, argc == 3 ? domain : NULL,
					   print_alias, list, error, sizeof(error));
	return cli_list_done(cli, list, ret, error);
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
	bool adding = strcmp(argv[1], "add") == 0;
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
		ret = check_add(cli, source, targets, count);
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
