/* cmd-srs.c - mailbag srs rotate: a new SRS secret
 *
 * SUMMARY
 *	mailbag srs rotate [--keep N]
 *
 *	Puts a new random secret first in srs.secret_file (mailbag-policyd
 *	signs forwarded mail's senders with it from the next lookup on) and
 *	keeps the N (3) newest of the older ones after it, so that bounces
 *	to addresses signed before still find their way back. Secrets are
 *	never printed. The file is made when it is missing.
 *
 *	This file parses the arguments and prints; srs-secrets.c writes.
 */
#include "cli.h"
#include "commands.h"
#include "context.h"
#include "srs-secrets.h"
#include "srs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char srs_usage[] =
	"usage: mailbag srs rotate [--keep N]\n"
	"\n"
	"A new random secret first in srs.secret_file (the context's, by default\n"
	"/etc/mailbag/srs.secrets): mailbag-policyd signs the SRS senders of\n"
	"forwarded mail with it at once. The N newest older secrets (default 3)\n"
	"stay after it and still verify the SRS addresses of bounces; older ones\n"
	"are dropped. Keep as many as rotations happen within srs.max_age.\n";

static int parse_keep(const char *text, size_t *keep_r)
{
	char *end;
	unsigned long n = strtoul(text, &end, 10);

	if (*text == '\0' || *end != '\0' || n >= MB_SRS_MAX_SECRETS)
		return -1;
	*keep_r = n;
	return 0;
}

int cmd_srs(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keep", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t keep = CLI_SRS_KEEP_DEFAULT;
	int opt, exit_code;

	cli->command = "srs";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hk:", options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (parse_keep(optarg, &keep) < 0)
				return cli_fail(cli, EX_USAGE, "--keep: expected a number from 0 to %d, got '%s'",
						MB_SRS_MAX_SECRETS - 1, optarg);
			break;
		case 'h': fputs(srs_usage, stdout); return EX_OK;
		default: fputs(srs_usage, stderr); return EX_USAGE;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "rotate") != 0) {
		fputs(srs_usage, stderr);
		return EX_USAGE;
	}
	cli->command = "srs rotate";
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	char error[512];
	bool made;
	if (cli_srs_secrets_write(cli->ctx->srs.secret_file, cli->ctx->daemon_user, keep, false, &made,
				  error, sizeof(error)) < 0)
		return cli_fail(cli, EX_CANTCREAT, "%s", error);
	printf("a new SRS secret signs from now on in %s; the %zu newest older ones (if any) still verify\n",
	       cli->ctx->srs.secret_file, keep);
	return EX_OK;
}
