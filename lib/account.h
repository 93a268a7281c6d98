/* account.h - the rules about one account: whether a first login may
   create it, what a new one gets, which limits are in force and whether
   a message fits its mailbox (see account.c). */
#ifndef MAILBAG_ACCOUNT_H
#define MAILBAG_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct mb_context;
struct mb_domain;
struct mb_store;
struct mb_user;

/* Whether a first login with an unknown address may create it: its
   domain is in auto_create.domains, its local part is 3 to 32 of a-z and
   0-9, and the password is auto_create.min_password_length to 200
   characters. NULL when allowed, else why not. */
const char *mb_auto_create_refusal(const struct mb_context *ctx, const char *address,
				   const char *password);

/* Fill user for a new account at address: quota and message size left
   to its domain and the context (MB_LIMIT_DEFAULT), home under
   mail_root, enabled, created now, on this node (the context's node);
   home is the caller's buffer for the home path. The hash is the
   caller's. */
void mb_account_prepare(const struct mb_context *ctx, const char *address, struct mb_user *user,
			char *home, size_t home_size);

/* Where a limit in force came from. */
enum mb_limit_source { MB_LIMIT_FROM_USER, MB_LIMIT_FROM_DOMAIN, MB_LIMIT_FROM_SERVER };

/* The limits in force for a user (0 = none): the user's own, else its
   domain's, else the context's defaults. */
struct mb_limits {
	uint64_t quota_bytes;
	uint64_t max_message_bytes;
	enum mb_limit_source quota_source;
	enum mb_limit_source max_message_source;
};
/* The same from a domain record the caller has read (NULL: none). */
void mb_limits_resolve(const struct mb_context *ctx, const struct mb_domain *domain,
		       const struct mb_user *user, struct mb_limits *limits_r);
/* The domain whose record the user's limits need (the user leaves a
   limit to it), or NULL: then no domain record is read. */
const char *mb_user_limits_domain(const struct mb_user *user);
/* 0, or -1 when the domain record could not be read (error says why). */
int mb_user_limits(const struct mb_context *ctx, struct mb_store *store, const struct mb_user *user,
		   struct mb_limits *limits_r, char *error, size_t error_size);
/* "user", "domain", "server" */
const char *mb_limit_source_name(enum mb_limit_source source);

/* Whether a message fits a mailbox (mb_mailbox_admit). */
enum mb_admission {
	MB_ADMIT_FITS,         /* within the limits, or nothing to judge by */
	MB_ADMIT_TOO_BIG,      /* over the message-size limit */
	MB_ADMIT_FULL,         /* usage at or over the quota */
	MB_ADMIT_NO_ROOM,      /* not full, but the message does not fit what is left */
	MB_ADMIT_STORE_FAILED, /* the domain or the usage could not be read */
};

/* What the answer was judged by, for the reply's wording. */
struct mb_admission_detail {
	struct mb_limits limits; /* in force (zero when the domain could not be read) */
	uint64_t limit_bytes;    /* TOO_BIG: the message-size limit; FULL, NO_ROOM: the quota */
	uint64_t used_bytes;     /* FULL, NO_ROOM: the usage Dovecot last reported */
};

/* Whether a message of size bytes (0: not declared) fits user's mailbox
   at now, as far as the context's checks say: checks.message_size, the
   limit in force; checks.quota, the usage Dovecot last reported against
   the quota in force (nothing reported yet: fits, Dovecot still
   enforces). MB_ADMIT_STORE_FAILED with error written when the store
   could not answer; the limits are resolved first whatever the checks,
   so an unreadable domain record fails even with both off. detail_r
   may be NULL. */
enum mb_admission mb_mailbox_admit(const struct mb_context *ctx, struct mb_store *store,
				   const struct mb_user *user, uint64_t size, int64_t now,
				   struct mb_admission_detail *detail_r, char *error, size_t error_size);

#endif
