/* cli.h - what the subcommands of `mailbag` share (see main.c). */
#ifndef MAILBAG_CLI_H
#define MAILBAG_CLI_H

#include <stdbool.h>
#include <stddef.h>

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

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

/* When a user was last seen (*seen_r): 1 the last login Dovecot
   reported, 0 never logged in (the account's creation), -1 the state
   could not be read (error). */
struct mb_user;
int cli_user_last_seen(struct mb_store *store, const struct mb_user *user, int64_t now,
		       int64_t *seen_r, char *error, size_t error_size);

/* when as "YYYY-MM-DD" (UTC), "?" if it cannot be shown. */
void cli_format_day(int64_t when, char *buf, size_t size);

/* Delete a mailbox directory, refusing anything not below mail_root. */
int cli_purge_home(struct cli *cli, const char *home);

int cmd_user_app_password(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_expire(struct cli *cli, int argc, char **argv);
int cmd_domain(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_alias(struct cli *cli, int argc, char **argv);

#endif
