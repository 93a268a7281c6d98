/* last-seen.h - when a user was last seen (see last-seen.c). */
#ifndef MAILBAG_CLI_LAST_SEEN_H
#define MAILBAG_CLI_LAST_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* When a user was last seen (*seen_r): 1 the last login Dovecot
   reported, 0 never logged in (the account's creation), -1 the state
   could not be read (error). */
int cli_user_last_seen(struct mb_store *store, const struct mb_user *user, int64_t now,
		       int64_t *seen_r, char *error, size_t error_size);

#endif
