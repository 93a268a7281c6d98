/* lockout.h - failed logins counted per client address and per account (see lockout.c). */
#ifndef MAILBAG_LOCKOUT_H
#define MAILBAG_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

struct mb_store;
struct mb_context;

/* Whether ip (may be "") or account (may be "") is locked out now: 1
   locked (why says which, without secrets), 0 not, -1 the state could not
   be read (error). */
int mb_lockout_check(struct mb_store *store, const struct mb_context *ctx, const char *ip,
		     const char *account, int64_t now, char *why, size_t why_size);

/* Count one failed login for ip and account (either may be ""). 0 or -1. */
int mb_lockout_failed(struct mb_store *store, const struct mb_context *ctx, const char *ip,
		      const char *account, int64_t now, char *error, size_t error_size);

/* A successful login: the account's count starts again. 0 or -1. */
int mb_lockout_succeeded(struct mb_store *store, const struct mb_context *ctx,
			 const char *account, int64_t now, char *error, size_t error_size);

#endif
