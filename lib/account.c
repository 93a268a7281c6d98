/* account.c - a new account's record from the context's defaults
 *
 * SUMMARY
 *	One place that decides what a new user gets when nothing else is
 *	said: the default quota and message-size limit, a home at
 *	mail_root/DOMAIN/LOCAL, enabled, created now. `mailbag user add` and
 *	the Dovecot driver's auto-create both use it.
 */
#include "context.h"
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void mb_account_prepare(const struct mb_context *ctx, const char *address, struct mb_user *user,
			char *home, size_t home_size)
{
	const char *at = strrchr(address, '@');

	memset(user, 0, sizeof(*user));
	snprintf(user->address, sizeof(user->address), "%s", address);
	user->quota_bytes = ctx->default_quota_bytes;
	user->max_message_bytes = ctx->default_max_message_bytes;
	if (at != NULL)
		snprintf(home, home_size, "%s/%s/%.*s", ctx->mail_root, at + 1, (int)(at - address), address);
	else
		snprintf(home, home_size, "%s", ctx->mail_root);
	user->home = home;
	user->enabled = true;
	user->created = (int64_t)time(NULL);
}
