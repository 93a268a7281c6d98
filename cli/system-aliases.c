/* system-aliases.c - the host's own aliases added and taken
 *
 * SUMMARY
 *	`mailbag alias add root al@example.org`: a SOURCE without '@' is a
 *	host account name, and its alias takes the mail the host's programs
 *	send to it (cron's to root) to a mailbox here or an outside address
 *	(lib/system-alias.c keeps it, policyd answers it). Targets are full
 *	addresses and are checked as an alias's are (aliases.c). Also the
 *	one rule about the host's own names that the domain commands share:
 *	none of them can be a virtual domain.
 */
#include "system-aliases.h"
#include "aliases.h"
#include "host-names.h"
#include "system-alias.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int cli_system_alias_check(struct cli *cli, const char *name, const char *const *targets,
			   size_t count, bool allow_missing)
{
	char parsed[MB_LOCAL_MAX + 1], source[MB_LOCAL_MAX + 16];
	const char *why;

	if (mb_system_alias_name_parse(name, parsed, &why) < 0)
		return cli_fail(cli, EX_DATAERR, "system alias '%s': %s (a host account name such as root or www-data)",
				name, why);
	snprintf(source, sizeof(source), "%s (system alias)", parsed);
	for (size_t i = 0; i < count; i++) {
		if (!mb_system_alias_target_ok(targets[i]))
			return cli_fail(cli, EX_DATAERR, "target '%s' of system alias %s: give a full address "
					"(a mailbox here or an outside address)", targets[i], parsed);
		int ret = cli_alias_check_target(cli, source, targets[i], allow_missing);
		if (ret != EX_OK)
			return ret;
	}
	return EX_OK;
}

int cli_system_alias_add(struct cli *cli, const char *name, const char *const *targets,
			 size_t count, bool allow_missing)
{
	char error[1024];
	int ret = cli_system_alias_check(cli, name, targets, count, allow_missing);

	if (ret != EX_OK)
		return ret;
	ret = mb_system_alias_add(cli->store, name, targets, count, error, sizeof(error));
	return ret < 0 ? cli_fail(cli, ret == -EINVAL ? EX_DATAERR : cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_system_alias_del(struct cli *cli, const char *name, const char *const *targets, size_t count)
{
	char error[1024];
	int ret = mb_system_alias_del(cli->store, name, targets, count, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, ret == -EINVAL ? EX_DATAERR : cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_system_alias_command(struct cli *cli, bool adding, bool allow_missing, const char *name,
			     char *const *targets, size_t count)
{
	char parsed[MB_LOCAL_MAX + 1];
	const char *why;
	int exit_code, ret = EX_OK;

	if (mb_system_alias_name_parse(name, parsed, &why) < 0)
		return cli_fail(cli, EX_DATAERR, "'%s' is neither an address nor a host account name: %s", name, why);
	char (*parsed_targets)[MB_ADDRESS_MAX + 1] = calloc(count + 1, sizeof(*parsed_targets));
	const char **target_ptrs = calloc(count + 1, sizeof(char *));
	if (parsed_targets == NULL || target_ptrs == NULL) {
		free(parsed_targets);
		free(target_ptrs);
		return cli_fail(cli, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < count && ret == EX_OK; i++) {
		if (strchr(targets[i], '@') == NULL)
			ret = cli_fail(cli, EX_DATAERR, "target '%s' of system alias %s: give a full address "
				       "(%s@example.org): a system alias sends the host's mail to a mailbox or outside",
				       targets[i], parsed, targets[i]);
		else if (cli_parse_address(cli, targets[i], false, parsed_targets[i]) < 0)
			ret = EX_DATAERR;
		target_ptrs[i] = parsed_targets[i];
	}
	if (ret == EX_OK && cli_store(cli, &exit_code) < 0)
		ret = exit_code;
	if (ret == EX_OK)
		ret = adding ? cli_system_alias_add(cli, parsed, target_ptrs, count, allow_missing) :
			cli_system_alias_del(cli, parsed, target_ptrs, count);
	if (ret == EX_OK && !cli->json)
		printf("%s system alias %s\n", !adding && count == 0 ? "deleted" : "updated", parsed);
	else if (ret == EX_OK)
		printf("{\"alias\": \"%s\", \"system\": true, \"ok\": true}\n", parsed);
	free(parsed_targets);
	free(target_ptrs);
	return ret;
}

int cli_refuse_host_name_domain(struct cli *cli, const char *domain)
{
	struct mb_host_names names;

	mb_host_names(cli->ctx != NULL ? cli->ctx->hostname : NULL, &names);
	if (!mb_host_names_contain(&names, domain))
		return EX_OK;
	return cli_fail(cli, EX_DATAERR, "%s is this host's own name (the context's hostname %s; Postfix's "
			"mydestination): its mail is the host's local mail, not a virtual domain's. Serve mail for "
			"%s by giving this host another name (hostname in %s) and running 'mailbag setup' again; "
			"the host's own mail goes to a mailbox with 'mailbag alias add root ADDRESS'",
			domain, cli->ctx != NULL ? cli->ctx->hostname : "?", domain, cli->context_path);
}
