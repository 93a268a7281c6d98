/* lockout.c - failed logins counted per client address and per account
 *
 * SUMMARY
 *	Brute-force protection for the Dovecot passdb: each failed login
 *	counts against the client's address and against the account, in the
 *	store's state (so, with Redis, across every node). At
 *	auth.failures_per_ip (or auth.failures_per_account) failures the
 *	address (or account) is locked out for auth.lockout, and every
 *	further failure doubles that time, up to auth.lockout_max; a locked
 *	login is refused without its password being checked. A successful
 *	login starts the account's count again. Counters are
 *	"authfail/ip/ADDRESS" and "authfail/user/ACCOUNT" = "COUNT", expiring
 *	when their lock-out (or, below the threshold, auth.lockout after the
 *	last failure) ends. A threshold of 0 switches that count off.
 *
 * SECURITY
 *	The per-account count lets anyone lock an account out by guessing:
 *	its default threshold is higher than the per-address one, and a lock
 *	ends by itself.
 */
#include "lockout.h"

#include "context.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCKOUT_MAX_DOUBLINGS 20

static void counter_key(const char *kind, const char *who, char *key, size_t size)
{
	snprintf(key, size, "authfail/%s/%.300s", kind, who);
}

/* count_of - the live failure count under key; -1 on failure */
static int64_t count_of(struct mb_store *store, const char *key, int64_t now,
			char *error, size_t error_size)
{
	char value[32];
	int found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);

	if (found < 0)
		return -1;
	return found == 0 ? 0 : strtoll(value, NULL, 10);
}

int mb_lockout_check(struct mb_store *store, const struct mb_context *ctx, const char *ip,
		     const char *account, int64_t now, char *why, size_t why_size)
{
	const struct { const char *kind, *who; uint64_t threshold; } counts[] = {
		{ "ip", ip, ctx->auth.failures_per_ip },
		{ "user", account, ctx->auth.failures_per_account },
	};
	char key[MB_STATE_KEY_MAX + 1];

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (counts[i].threshold == 0 || counts[i].who[0] == '\0')
			continue;
		counter_key(counts[i].kind, counts[i].who, key, sizeof(key));
		int64_t count = count_of(store, key, now, why, why_size);
		if (count < 0)
			return -1;
		if ((uint64_t)count >= counts[i].threshold) {
			snprintf(why, why_size, "locked out after %" PRId64 " failed logins from this %s",
				 count, i == 0 ? "address" : "account");
			return 1;
		}
	}
	return 0;
}

/* lock_time - auth.lockout, doubled for each failure past the threshold */
static int64_t lock_time(const struct mb_context *ctx, int64_t count, uint64_t threshold)
{
	int64_t seconds = ctx->auth.lockout;
	int64_t past = count - (int64_t)threshold;

	for (int64_t i = 0; i < past && i < LOCKOUT_MAX_DOUBLINGS && seconds < ctx->auth.lockout_max; i++)
		seconds *= 2;
	return seconds < ctx->auth.lockout_max ? seconds : ctx->auth.lockout_max;
}

static int count_failure(struct mb_store *store, const struct mb_context *ctx, const char *kind,
			 const char *who, uint64_t threshold, int64_t now, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int64_t count = 0;

	if (threshold == 0 || who[0] == '\0')
		return 0;
	counter_key(kind, who, key, sizeof(key));
	if (mb_state_add(store, key, 1, now + ctx->auth.lockout, now, &count, error, error_size) < 0)
		return -1;
	/* every failure keeps the count alive for a (growing) lock-out time */
	snprintf(value, sizeof(value), "%" PRId64, count);
	return mb_state_put(store, key, value, now + lock_time(ctx, count, threshold), error, error_size);
}

int mb_lockout_failed(struct mb_store *store, const struct mb_context *ctx, const char *ip,
		      const char *account, int64_t now, char *error, size_t error_size)
{
	if (count_failure(store, ctx, "ip", ip, ctx->auth.failures_per_ip, now, error, error_size) < 0)
		return -1;
	return count_failure(store, ctx, "user", account, ctx->auth.failures_per_account, now,
			     error, error_size);
}

int mb_lockout_succeeded(struct mb_store *store, const struct mb_context *ctx,
			 const char *account, int64_t now, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int found;

	if (ctx->auth.failures_per_account == 0 || account[0] == '\0')
		return 0;
	counter_key("user", account, key, sizeof(key));
	/* most logins had no failure before: read first, write only if needed */
	found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);
	if (found <= 0)
		return found;
	/* expiring now: gone for every reader */
	return mb_state_put(store, key, "0", now, error, error_size);
}
