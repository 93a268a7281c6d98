/* account.c - the rules about one account
 *
 * SUMMARY
 *	One place that decides what a new user gets when nothing else is
 *	said: limits left to the defaults, a home at mail_root/DOMAIN/LOCAL,
 *	enabled, created now. `mailbag user add` and the Dovecot driver's
 *	auto-create both use it, and the driver asks here first whether a
 *	first login may create its account at all (auto_create.domains,
 *	the local part, the password's length).
 *
 *	And one place that says which quota and message-size limit are in
 *	force for a user: the user's own if set, else the domain's default
 *	(`mailbag domain quota`), else the context's defaults. Resolved at
 *	each lookup, so changing a default applies to every user that has
 *	none of its own at once.
 */
#include "account.h"
#include "context.h"
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void mb_account_prepare(const struct mb_context *ctx, const char *address, struct mb_user *user,
			char *home, size_t home_size)
{
	const char *at = strrchr(address, '@');

	memset(user, 0, sizeof(*user));
	snprintf(user->address, sizeof(user->address), "%s", address);
	user->quota_bytes = MB_LIMIT_DEFAULT;
	user->max_message_bytes = MB_LIMIT_DEFAULT;
	if (at != NULL)
		snprintf(home, home_size, "%s/%s/%.*s", ctx->mail_root, at + 1, (int)(at - address), address);
	else
		snprintf(home, home_size, "%s", ctx->mail_root);
	user->home = home;
	user->enabled = true;
	user->created = (int64_t)time(NULL);
}

/* mb_auto_create_refusal - may a first login create this account */
const char *mb_auto_create_refusal(const struct mb_context *ctx, const char *address,
				   const char *password)
{
	const char *at = strrchr(address, '@');
	size_t local_len = at != NULL ? (size_t)(at - address) : 0;
	size_t password_len = strlen(password);
	bool served = false;

	for (size_t i = 0; at != NULL && i < ctx->auto_create_domain_count; i++)
		served = served || strcmp(at + 1, ctx->auto_create_domains[i]) == 0;
	if (!served)
		return "its domain does not create accounts on first login";
	if (local_len < 3 || local_len > 32 ||
	    strspn(address, "abcdefghijklmnopqrstuvwxyz0123456789") != local_len)
		return "the local part is not 3 to 32 of a-z and 0-9";
	if (password_len < ctx->auto_create_min_password || password_len > 200)
		return "the password is too short (or over 200 characters)";
	return NULL;
}

/* pick - the first set limit of user, domain, server */
static void pick(uint64_t user_value, uint64_t domain_value, uint64_t server_value,
		 uint64_t *value_r, enum mb_limit_source *source_r)
{
	if (user_value != MB_LIMIT_DEFAULT) {
		*value_r = user_value;
		*source_r = MB_LIMIT_FROM_USER;
	} else if (domain_value != MB_LIMIT_DEFAULT) {
		*value_r = domain_value;
		*source_r = MB_LIMIT_FROM_DOMAIN;
	} else {
		*value_r = server_value;
		*source_r = MB_LIMIT_FROM_SERVER;
	}
}

void mb_limits_resolve(const struct mb_context *ctx, const struct mb_domain *domain,
		       const struct mb_user *user, struct mb_limits *limits_r)
{
	uint64_t domain_quota = domain != NULL ? domain->quota_bytes : MB_LIMIT_DEFAULT;
	uint64_t domain_size = domain != NULL ? domain->max_message_bytes : MB_LIMIT_DEFAULT;

	pick(user->quota_bytes, domain_quota, ctx->default_quota_bytes,
	     &limits_r->quota_bytes, &limits_r->quota_source);
	pick(user->max_message_bytes, domain_size, ctx->default_max_message_bytes,
	     &limits_r->max_message_bytes, &limits_r->max_message_source);
}

int mb_user_limits(const struct mb_context *ctx, struct mb_store *store, const struct mb_user *user,
		   struct mb_limits *limits_r, char *error, size_t error_size)
{
	struct mb_domain domain;
	const char *at = strrchr(user->address, '@');
	int found = 0;

	/* the domain record is read only when the user leaves a limit to it */
	if ((user->quota_bytes == MB_LIMIT_DEFAULT || user->max_message_bytes == MB_LIMIT_DEFAULT) &&
	    at != NULL) {
		found = mb_store_domain_get(store, at + 1, &domain, error, error_size);
		if (found < 0)
			return -1;
	}
	mb_limits_resolve(ctx, found > 0 ? &domain : NULL, user, limits_r);
	return 0;
}

const char *mb_limit_source_name(enum mb_limit_source source)
{
	switch (source) {
	case MB_LIMIT_FROM_USER: return "user";
	case MB_LIMIT_FROM_DOMAIN: return "domain";
	case MB_LIMIT_FROM_SERVER: return "server";
	}
	return "?";
}
