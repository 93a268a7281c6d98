/* last-seen.c - when a user was last seen, for `user list` and `expire`
 *
 * SUMMARY
 *	The last login Dovecot reported to the store, or, for a user who
 *	never logged in, the account's creation: the one time both the
 *	listing's LAST LOGIN column and expire's idle rule go by.
 */
#include "last-seen.h"

int cli_user_last_seen(struct mb_store *store, const struct mb_user *user, int64_t now,
		       int64_t *seen_r, char *error, size_t error_size)
{
	int found = mb_last_login_get(store, user->address, now, seen_r, error, error_size);

	if (found == 0)
		*seen_r = user->created;
	return found;
}

