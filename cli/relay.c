/* relay.c - global aliases, relay domains and relay networks changed
 *
 * SUMMARY
 *	The checks and store calls of relay.h: a global alias's targets
 *	exist as alias add wants them (aliases.c), a relay domain is a
 *	domain name not served here whose recipients are at it, a next
 *	hop and a network parse. cmd-relay.c and cmd-alias.c parse the
 *	arguments; the import applier calls these directly.
 */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int cli_parse_local_part(struct cli *cli, const char *text, char buf[MB_LOCAL_MAX + 1])
{
	char address[MB_ADDRESS_MAX + 8];
	struct mb_address parsed;
	const char *why;
	size_t len = strlen(text);

	if (len > 0 && text[len - 1] == '@')
		len--;
	if (len == 0 || len > MB_LOCAL_MAX || memchr(text, '@', len) != NULL) {
		cli_fail(cli, EX_DATAERR, "'%s' is not a local part: give one like postmaster or abuse", text);
		return -1;
	}
	snprintf(address, sizeof(address), "%.*s@example.org", (int)len, text);
	if (mb_address_parse(address, NULL, &parsed, &why) < 0) {
		cli_fail(cli, EX_DATAERR, "'%s' is not a local part: %s", text, why);
		return -1;
	}
	snprintf(buf, MB_LOCAL_MAX + 1, "%s", parsed.local);
	return 0;
}

/* check_global_target - as alias add's: a target here must exist */
static int check_global_target(struct cli *cli, const char *local, const char *target, bool allow_missing)
{
	char error[512];
	int state = mb_store_target_state(cli->store, cli->ctx->recipient_delimiter, target,
					  error, sizeof(error));

	if (state < 0)
		return cli_fail(cli, EX_TEMPFAIL, "%s", error);
	if (target[0] == '@')
		return cli_fail(cli, EX_DATAERR, "target %s: a global alias's target is an address", target);
	if (state == MB_TARGET_DISABLED)
		fprintf(stderr, "mailbag: %s: note: %s is a disabled user; mail to %s@ skips it until it is enabled\n",
			cli->command, target, local);
	if ((state != MB_TARGET_MISSING && state != MB_TARGET_CATCH_ALL) || allow_missing)
		return EX_OK;
	return cli_fail(cli, EX_NOUSER, "target %s is on a domain served here but is neither a user nor an alias "
			"(add it first, or use --allow-missing)", target);
}

int cli_global_alias_add(struct cli *cli, const char *local_text, const char *const *targets, size_t count,
			 bool allow_missing)
{
	char local[MB_LOCAL_MAX + 1], error[1024];
	int ret;

	if (cli_parse_local_part(cli, local_text, local) < 0)
		return EX_DATAERR;
	for (size_t i = 0; i < count; i++) {
		if ((ret = check_global_target(cli, local, targets[i], allow_missing)) != EX_OK)
			return ret;
	}
	ret = mb_store_global_alias_add(cli->store, local, targets, count, error, sizeof(error));
	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_global_alias_del(struct cli *cli, const char *local_text, const char *const *targets, size_t count)
{
	char local[MB_LOCAL_MAX + 1], error[1024];

	if (cli_parse_local_part(cli, local_text, local) < 0)
		return EX_DATAERR;
	int ret = mb_store_global_alias_del(cli->store, local, targets, count, error, sizeof(error));
	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

/* parse_recipients - each an address (normalised) into a new array */
static int parse_recipients(struct cli *cli, const char *domain, const char *const *texts, size_t count,
			    char (**parsed_r)[MB_ADDRESS_MAX + 1], const char ***ptrs_r)
{
	*parsed_r = calloc(count + 1, sizeof(**parsed_r));
	*ptrs_r = calloc(count + 1, sizeof(char *));
	if (*parsed_r == NULL || *ptrs_r == NULL)
		return cli_fail(cli, EX_OSERR, "out of memory");
	for (size_t i = 0; i < count; i++) {
		if (cli_parse_address(cli, texts[i], false, (*parsed_r)[i]) < 0)
			return EX_DATAERR;
		const char *at = strrchr((*parsed_r)[i], '@');
		if (strcmp(at + 1, domain) != 0)
			return cli_fail(cli, EX_DATAERR, "recipient %s is not at relay domain %s", texts[i], domain);
		(*ptrs_r)[i] = (*parsed_r)[i];
	}
	return EX_OK;
}

/* relay_domain_change - add or del, its arguments checked */
static int relay_domain_change(struct cli *cli, const char *domain_text, const char *const *recipients,
			       size_t count, const char *next_hop, bool adding)
{
	char domain[MB_DOMAIN_MAX + 1], error[1024], hop[MB_NEXT_HOP_MAX + 1];
	char (*parsed)[MB_ADDRESS_MAX + 1] = NULL;
	const char **ptrs = NULL;
	const char *why;

	if (cli_parse_domain(cli, domain_text, domain) < 0)
		return EX_DATAERR;
	if (adding && next_hop != NULL && next_hop[0] != '\0' && mb_next_hop_parse(next_hop, hop, &why) < 0)
		return cli_fail(cli, EX_DATAERR, "--next-hop '%s': %s (give HOST, HOST:PORT or [IP]:PORT)", next_hop, why);
	int ret = parse_recipients(cli, domain, recipients, count, &parsed, &ptrs);
	if (ret == EX_OK) {
		ret = adding ?
			mb_store_relay_domain_add(cli->store, domain, ptrs, count, next_hop, error, sizeof(error)) :
			mb_store_relay_domain_del(cli->store, domain, ptrs, count, error, sizeof(error));
		ret = ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
	}
	free(parsed);
	free(ptrs);
	return ret;
}

int cli_relay_domain_add(struct cli *cli, const char *domain, const char *const *recipients,
			 size_t count, const char *next_hop)
{
	return relay_domain_change(cli, domain, recipients, count, next_hop, true);
}

int cli_relay_domain_del(struct cli *cli, const char *domain, const char *const *recipients,
			 size_t count)
{
	return relay_domain_change(cli, domain, recipients, count, NULL, false);
}

int cli_relay_network_add(struct cli *cli, const char *cidr)
{
	char error[1024];
	int ret = mb_store_relay_network_add(cli->store, cidr, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

int cli_relay_network_del(struct cli *cli, const char *cidr)
{
	char error[1024];
	int ret = mb_store_relay_network_del(cli->store, cidr, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}
