/* expire.h - the accounts nobody uses any more, found and expired (see expire.c). */
#ifndef MAILBAG_CLI_EXPIRE_H
#define MAILBAG_CLI_EXPIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

struct cli_expire_candidate {
	char address[MB_ADDRESS_MAX + 1];
	int64_t seen;   /* last login, or creation when never logged in */
	bool logged_in;
};

struct cli_expire_candidates {
	struct cli_expire_candidate *items;
	size_t count, capacity;
};

/* Every account last seen longer than expire.after before now (to
   disable: only the enabled ones) into found_r, which is empty on
   failure and freed with cli_expire_candidates_free(). The store open
   (cli_store()), expire.after not 0. EX_OK, or the exit code with the
   reason printed: EX_TEMPFAIL when last logins cannot be read,
   EX_UNAVAILABLE when there are candidates but no account has a
   recorded last login (every old account would look unused). */
int cli_expire_find(struct cli *cli, int64_t now, struct cli_expire_candidates *found_r);
void cli_expire_candidates_free(struct cli_expire_candidates *found);

/* Disable the account, or with expire.delete delete it and its mailbox;
   gone already is EX_OK. EX_OK, or the exit code with the reason printed. */
int cli_expire_one(struct cli *cli, const char *address);

#endif
