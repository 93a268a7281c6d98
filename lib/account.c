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
 *
 *	And the one rule for "does this message fit this mailbox", which
 *	policyd asks at RCPT (for every user a recipient reaches) and
 *	mailbag-lmtpd at its own RCPT: the declared size against the
 *	message-size limit in force, then the usage Dovecot last reported
 *	(quota_clone, policyd's usage socket) against the quota in force.
 *	Each daemon words the answer in its own protocol.
 *
 * DIAGNOSTICS
 *	mb_mailbox_admit answers MB_ADMIT_STORE_FAILED, with the store's
 *	error, when a domain record or the usage could not be read; the
 *	daemons answer 4xx so the sender retries.
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
	/* on a node of several, the mailbox is made here: name this node,
	   as "" would mean whichever node reads the record */
	snprintf(user->node, sizeof(user->node), "%s", ctx->node);
}

/* mb_auto_create_refusal - may a first login create this account */
const char *mb_auto_create_refusal(const struct mb_context *ctx, const char *address,
				   const char *password)
{
	const char *at = strrchr(address, '@');
	size_t local_len = at != NULL ? (size_t)(at - address) : 0;
	size_t password_len = strlen(password);
	bool served = false;

	for (size_t i = 0; at != NULL && i < ctx->auto_create.domains.count; i++)
		served = served || strcmp(at + 1, ctx->auto_create.domains.items[i]) == 0;
	if (!served)
		return "its domain does not create accounts on first login";
	if (local_len < 3 || local_len > 32 ||
	    strspn(address, "abcdefghijklmnopqrstuvwxyz0123456789") != local_len)
		return "the local part is not 3 to 32 of a-z and 0-9";
	if (password_len < ctx->auto_create.min_password_length || password_len > 200)
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

	pick(user->quota_bytes, domain_quota, ctx->defaults.quota_bytes,
	     &limits_r->quota_bytes, &limits_r->quota_source);
	pick(user->max_message_bytes, domain_size, ctx->defaults.max_message_bytes,
	     &limits_r->max_message_bytes, &limits_r->max_message_source);
}

const char *mb_user_limits_domain(const struct mb_user *user)
{
	const char *at = strrchr(user->address, '@');

	if (at == NULL ||
	    (user->quota_bytes != MB_LIMIT_DEFAULT && user->max_message_bytes != MB_LIMIT_DEFAULT))
		return NULL;
	return at + 1;
}

int mb_user_limits(const struct mb_context *ctx, struct mb_store *store, const struct mb_user *user,
		   struct mb_limits *limits_r, char *error, size_t error_size)
{
	struct mb_domain domain;
	const char *name = mb_user_limits_domain(user);
	int found = 0;

	if (name != NULL) {
		found = mb_store_domain_get(store, name, &domain, error, error_size);
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

/* admit_quota - the usage Dovecot last reported against quota: full, or
   too full for size */
static enum mb_admission admit_quota(struct mb_store *store, const struct mb_user *user,
				     uint64_t quota, uint64_t size, int64_t now,
				     struct mb_admission_detail *detail, char *error, size_t error_size)
{
	uint64_t used, messages;
	int found;

	if (quota == 0)
		return MB_ADMIT_FITS;
	found = mb_usage_get(store, user->address, now, &used, &messages, error, error_size);
	if (found < 0)
		return MB_ADMIT_STORE_FAILED;
	if (found == 0)
		return MB_ADMIT_FITS; /* nothing reported yet: Dovecot still enforces */
	/* quota - used, not used + size: that could wrap */
	if (used < quota && size <= quota - used)
		return MB_ADMIT_FITS;
	detail->limit_bytes = quota;
	detail->used_bytes = used;
	return used >= quota ? MB_ADMIT_FULL : MB_ADMIT_NO_ROOM;
}

enum mb_admission mb_mailbox_admit(const struct mb_context *ctx, struct mb_store *store,
				   const struct mb_user *user, uint64_t size, int64_t now,
				   struct mb_admission_detail *detail_r, char *error, size_t error_size)
{
	struct mb_admission_detail detail;
	enum mb_admission verdict = MB_ADMIT_FITS;

	memset(&detail, 0, sizeof(detail));
	/* the user's own limits, else the domain's, else the server's */
	if (mb_user_limits(ctx, store, user, &detail.limits, error, error_size) < 0) {
		verdict = MB_ADMIT_STORE_FAILED;
	} else if (ctx->checks.message_size && size > 0 && detail.limits.max_message_bytes > 0 &&
		   size > detail.limits.max_message_bytes) {
		detail.limit_bytes = detail.limits.max_message_bytes;
		verdict = MB_ADMIT_TOO_BIG;
	} else if (ctx->checks.quota) {
		verdict = admit_quota(store, user, detail.limits.quota_bytes, size, now, &detail,
				      error, error_size);
	}
	if (detail_r != NULL)
		*detail_r = detail;
	return verdict;
}
