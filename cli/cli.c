/* cli.c - what every subcommand of `mailbag` shares
 *
 * SUMMARY
 *	The one way a command fails (one line on stderr naming the command,
 *	a sysexits(3) code), the context and the store loaded on demand,
 *	and the parsers of the arguments most commands take: an address, a
 *	domain, a size limit, -h/--help.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int cli_fail(struct cli *cli, int exit_code, const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "mailbag: %s%s", cli->command != NULL ? cli->command : "",
		cli->command != NULL ? ": " : "");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	return exit_code;
}

int cli_store_exit_code(int ret)
{
	switch (ret) {
	case 0: return EX_OK;
	case -EEXIST: return EX_CANTCREAT;
	case -ENOENT: return EX_NOUSER;
	case -ENOTEMPTY: case -EINVAL: case -E2BIG: return EX_DATAERR;
	case -EPERM: return EX_NOPERM;
	default: return EX_TEMPFAIL;
	}
}

int cli_context(struct cli *cli, int *exit_r)
{
	char error[1024];

	if (cli->ctx != NULL)
		return 0;
	if (mb_context_load(mb_context_path(cli->context_path), &cli->ctx,
			    error, sizeof(error)) < 0) {
		*exit_r = cli_fail(cli, EX_CONFIG, "%s", error);
		return -1;
	}
	return 0;
}

int cli_store(struct cli *cli, int *exit_r)
{
	char error[1024];

	if (cli->store != NULL)
		return 0;
	if (cli_context(cli, exit_r) < 0)
		return -1;
	if (mb_store_open(cli->ctx->store, MB_STORE_WRITE, &cli->store,
			  error, sizeof(error)) < 0) {
		*exit_r = cli_fail(cli, EX_UNAVAILABLE, "%s", error);
		return -1;
	}
	/* what postmaster@ reaches, as policyd has it (alias add's checks) */
	mb_store_set_postmaster(cli->store, cli->ctx->postmaster.items, cli->ctx->postmaster.count);
	return 0;
}

int cli_parse_domain(struct cli *cli, const char *text, char buf[MB_DOMAIN_MAX + 1])
{
	const char *error;

	if (mb_domain_parse(text, buf, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "'%s' is not a domain: %s", text, error);
		return -1;
	}
	return 0;
}

int cli_parse_address(struct cli *cli, const char *text, bool allow_domain_only,
		      char buf[MB_ADDRESS_MAX + 1])
{
	struct mb_address addr;
	const char *error;

	if (allow_domain_only && text[0] == '@') {
		char domain[MB_DOMAIN_MAX + 1];
		if (cli_parse_domain(cli, text + 1, domain) < 0)
			return -1;
		snprintf(buf, MB_ADDRESS_MAX + 1, "@%s", domain);
		return 0;
	}
	/* no delimiter: the store keeps whole addresses, so "a+b@x" is
	   stored as given (policyd tries the exact address first) */
	if (mb_address_parse(text, NULL, &addr, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "'%s' is not an address: %s", text, error);
		return -1;
	}
	mb_address_format(&addr, buf, MB_ADDRESS_MAX + 1);
	return 0;
}

int cli_list_done(struct cli *cli, json_t *list, int foreach_ret, const char *error)
{
	int ret = EX_OK;

	if (foreach_ret < 0)
		ret = cli_fail(cli, EX_TEMPFAIL, "%s", error);
	else if (list != NULL) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(list);
	return ret;
}

int cli_parse_limit(struct cli *cli, const char *what, const char *text, uint64_t *bytes_r)
{
	const char *error;

	if (strcmp(text, "default") == 0) {
		*bytes_r = MB_LIMIT_DEFAULT;
		return 0;
	}
	if (mb_parse_size(text, bytes_r, &error) < 0) {
		cli_fail(cli, EX_DATAERR, "%s '%s': %s (or 'default')", what, text, error);
		return -1;
	}
	return 0;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
		if (strcmp(argv[i], "--") == 0)
			break;
	}
	return false;
}
