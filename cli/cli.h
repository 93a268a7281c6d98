/* cli.h - what every subcommand of `mailbag` shares (see cli.c). */
#ifndef MAILBAG_CLI_H
#define MAILBAG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "context.h"
#include "store.h"

struct cli {
	const char *context_path;
	bool json;
	struct mb_context *ctx;  /* loaded on demand by cli_context() */
	struct mb_store *store;  /* opened on demand by cli_store() */
	const char *command;     /* "user add", for messages */
};

/* Print "mailbag: COMMAND: message" on stderr and return exit_code. */
int cli_fail(struct cli *cli, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The sysexits code for a negative errno from the store. */
int cli_store_exit_code(int store_ret);

/* Load the context / open the store for writing; on failure print the
   reason and return -1 (and *exit_r the code to exit with). */
int cli_context(struct cli *cli, int *exit_r);
int cli_store(struct cli *cli, int *exit_r);

/* Parse an address (normalised, without the subaddress) or "@domain"
   into buf; prints the reason and returns -1 if it is not one. */
int cli_parse_address(struct cli *cli, const char *text, bool allow_domain_only,
		      char buf[MB_ADDRESS_MAX + 1]);
int cli_parse_domain(struct cli *cli, const char *text, char buf[MB_DOMAIN_MAX + 1]);

/* End a listing: on foreach failure print error and return EX_TEMPFAIL;
   otherwise print the JSON array (when --json collected one). Frees list. */
struct json_t;
int cli_list_done(struct cli *cli, struct json_t *list, int foreach_ret, const char *error);

/* A quota or size limit argument: a size (0 = none) or "default"
   (MB_LIMIT_DEFAULT); prints the reason and returns -1 if neither. */
int cli_parse_limit(struct cli *cli, const char *what, const char *text, uint64_t *bytes_r);
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
