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
 *	accepts mail that would then bounce; list marks them. This file
 *	parses the arguments, lists the aliases and prints; add and del are
 *	actions in aliases.c.
 *	A SOURCE without '@' is a system alias (system-aliases.c): a host
 *	account name ("root") whose mail from the host's programs goes to
 *	the targets; list shows it by its bare name.
 */
#include "aliases.h"
#include "cli.h"
#include "relay.h"
#include "system-alias.h"
#include "system-aliases.h"
#include "commands.h"
#include "grow.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char alias_usage[] =
	"usage: mailbag alias add [--allow-missing] SOURCE TARGET [TARGET...]\n"
	"       mailbag alias add [--allow-missing] NAME ADDRESS [ADDRESS...]\n"
	"       mailbag alias del SOURCE [TARGET...]\n"
	"       mailbag alias list [DOMAIN]\n"
	"       mailbag alias add|del --global LOCAL TARGET...\n"
	"       mailbag alias list --global\n"
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
	"\"dangling\" with their \"state\".\n"
	"--global: LOCAL (postmaster, abuse) at every domain served here, listed\n"
	"as LOCAL@*; a domain's own LOCAL@ alias or user comes first, its\n"
	"catch-all after. postmaster@ with neither goes to the context's\n"
	"postmaster addresses (list --global shows them).\n"
	"A SOURCE without '@' (root, www-data) is a system alias: mail the host's\n"
	"programs send to that account (cron's to root) goes to the TARGETs, full\n"
	"addresses; it is live at once, and listed by its bare name.\n";

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
	char system_name[MB_LOCAL_MAX + 1];
	if (mb_alias_is_routing(alias->source) && !mb_alias_is_global(alias->source) &&
	    !mb_alias_system_name(alias->source, system_name))
		return 0; /* a relay record: `mailbag relay domain|network list` */
	struct mb_alias *grown = mb_grow(lc->aliases, &lc->capacity, lc->count + 1, sizeof(*grown), 0);

	if (grown == NULL)
		goto oom;
	lc->aliases = grown;
	struct mb_alias *copy = &grown[lc->count];
	memset(copy, 0, sizeof(*copy));
	memcpy(copy->source, alias->source, sizeof(copy->source));
	/* a system alias is shown by its account name: "root" */
	mb_alias_system_name(alias->source, copy->source);
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

/* print_postmaster_default - the context's postmaster, when no global
   postmaster alias takes its place */
static void print_postmaster_default(struct cli *cli, struct list_context *lc)
{
	struct mb_alias alias = { .target_count = cli->ctx->postmaster.count };

	for (size_t i = 0; i < lc->count; i++) {
		if (strcmp(lc->aliases[i].source, "postmaster@" MB_GLOBAL_DOMAIN) == 0)
			return;
	}
	if (alias.target_count == 0)
		return;
	alias.targets = calloc(alias.target_count + 1, sizeof(char *));
	if (alias.targets == NULL)
		return;
	for (size_t i = 0; i < alias.target_count; i++)
		alias.targets[i] = cli->ctx->postmaster.items[i];
	snprintf(alias.source, sizeof(alias.source), "postmaster@%s", MB_GLOBAL_DOMAIN);
	if (lc->list == NULL)
		printf("(default, context key postmaster) ");
	print_alias(&alias, lc);
	free(alias.targets);
}

static int alias_list(struct cli *cli, int argc, char **argv)
{
	char domain[MB_DOMAIN_MAX + 1], error[1024];
	int exit_code;

	cli->command = "alias list";
	bool global = argc == 3 && strcmp(argv[2], "--global") == 0;
	if (argc > 3) {
		fputs(alias_usage, stderr);
		return EX_USAGE;
	}
	if (global)
		snprintf(domain, sizeof(domain), "%s", MB_GLOBAL_DOMAIN);
	else if (argc == 3 && cli_parse_domain(cli, argv[2], domain) < 0)
		return EX_DATAERR;
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	struct list_context lc = { cli->store, cli->ctx->recipient_delimiter,
				   cli->json ? json_array() : NULL, "", NULL, 0, 0 };
	int ret = mb_store_aliases_foreach(cli->store, argc == 3 ? domain : NULL,
					   keep_alias, &lc, error, sizeof(error));
	for (size_t i = 0; ret == 0 && lc.error[0] == '\0' && i < lc.count; i++)
		print_alias(&lc.aliases[i], &lc);
	if (ret == 0 && lc.error[0] == '\0' && global)
		print_postmaster_default(cli, &lc);
	for (size_t i = 0; i < lc.count; i++)
		mb_alias_clear(&lc.aliases[i]);
	free(lc.aliases);
	if (ret == 0 && lc.error[0] != '\0') {
		snprintf(error, sizeof(error), "%s", lc.error);
		ret = -1;
	}
	return cli_list_done(cli, lc.list, ret, error);
}

/* alias_global - add|del --global LOCAL [TARGET...] (relay.c) */
static int alias_global(struct cli *cli, bool adding, bool allow_missing, int argc, char **argv)
{
	char local[MB_LOCAL_MAX + 1];
	size_t count = (size_t)(argc - 3);
	int ret;

	if (cli_parse_local_part(cli, argv[2], local) < 0)
		return EX_DATAERR;
	char (*targets)[MB_ADDRESS_MAX + 1] = calloc(count + 1, sizeof(*targets));
	const char **target_ptrs = calloc(count + 1, sizeof(char *));
	ret = targets == NULL || target_ptrs == NULL ? cli_fail(cli, EX_OSERR, "out of memory") : EX_OK;
	for (size_t i = 0; ret == EX_OK && i < count; i++) {
		if (cli_parse_address(cli, argv[3 + i], false, targets[i]) < 0)
			ret = EX_DATAERR;
		target_ptrs[i] = targets[i];
	}
	if (ret == EX_OK && cli_store(cli, &ret) < 0) {
		/* ret holds the exit code */
	} else if (ret == EX_OK) {
		ret = adding ? cli_global_alias_add(cli, local, target_ptrs, count, allow_missing) :
			cli_global_alias_del(cli, local, target_ptrs, count);
		if (ret == EX_OK)
			printf(cli->json ? "{\"alias\": \"%s@*\", \"ok\": true}\n" : "updated %s@*\n", local);
	}
	free(targets);
	free(target_ptrs);
	return ret;
}

int cmd_alias(struct cli *cli, int argc, char **argv)
{
	char source[MB_ADDRESS_MAX + 1];
	int exit_code, ret;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(alias_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return alias_list(cli, argc, argv);
	bool adding = strcmp(argv[1], "add") == 0, allow_missing = false, global = false;
	/* the options, before SOURCE or among the targets: add's
	   --allow-missing, add's and del's --global */
	for (int i = 2; i < argc; i++) {
		bool is_global = strcmp(argv[i], "--global") == 0;
		if ((!adding || strcmp(argv[i], "--allow-missing") != 0) && !is_global)
			continue;
		if (is_global)
			global = true;
		else
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
	if (global)
		return alias_global(cli, adding, allow_missing, argc, argv);
	if (strchr(argv[2], '@') == NULL)
		return cli_system_alias_command(cli, adding, allow_missing, argv[2], argv + 3, (size_t)(argc - 3));
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
	if (ret == EX_OK) {
		ret = adding ? cli_alias_add(cli, source, target_ptrs, count, allow_missing) :
			cli_alias_del(cli, source, target_ptrs, count);
		if (ret == EX_OK && !cli->json)
			printf("%s %s\n", adding ? "updated" : (count == 0 ? "deleted" : "updated"), source);
		else if (ret == EX_OK)
			printf("{\"alias\": \"%s\", \"ok\": true}\n", source);
	}
	free(targets);
	free(target_ptrs);
	return ret;
}
