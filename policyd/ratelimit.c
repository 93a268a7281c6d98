/* ratelimit.c - rate limits per login, sender domain, client or recipient
 *
 * SUMMARY
 *	Each entry of the context's rate_limits counts per one request
 *	attribute (sasl_username, the sender's domain, client_address, its
 *	/24 or /64, recipient) in fixed windows aligned to the clock
 *	(minute, hour, day). A limit counting recipients counts each RCPT
 *	it lets through, and takes its count back when another limit
 *	refuses that RCPT; a limit counting messages refuses at RCPT once
 *	its count is reached and is counted once per message at
 *	END-OF-MESSAGE. Over a limit: 450 4.7.1 naming the limit, what it
 *	counted and the seconds until its window turns.
 *
 *	Counters are the store's state: "rate/NAME/WINDOW_START/SUBJECT",
 *	expiring with their window, shared by every node with Redis.
 */
#include "policy-call.h"

#include "address.h"
#include "context.h"
#include "network.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rate_subject - the value a limit counts per, lower-cased into out; ""
   when the request has none (the limit does not apply) */
static void rate_subject(const struct policy_call *call, const struct mb_rate_limit *limit,
			 char *out, size_t size)
{
	const char *value = "", *at;

	switch (limit->subject) {
	case MB_RATE_SASL_USERNAME: value = policy_attribute(call, "sasl_username"); break;
	case MB_RATE_CLIENT_ADDRESS: value = policy_attribute(call, "client_address"); break;
	case MB_RATE_RECIPIENT: value = policy_attribute(call, "recipient"); break;
	case MB_RATE_SENDER_DOMAIN:
		at = strrchr(policy_attribute(call, "sender"), '@');
		value = at != NULL ? at + 1 : "";
		break;
	case MB_RATE_CLIENT_NETWORK:
		if (mb_client_network(policy_attribute(call, "client_address"), out, size) == 0)
			return;
		break;
	}
	if (strlen(value) > MB_ADDRESS_MAX)
		value = ""; /* longer than any address: not ours to count */
	mb_lower_copy(value, out, size);
}

static int64_t window_start(const struct mb_rate_limit *limit, int64_t now)
{
	return now - now % limit->window_seconds;
}

static void rate_key(const struct mb_rate_limit *limit, const char *subject, int64_t now,
		     char *key, size_t size)
{
	snprintf(key, size, "rate/%s/%" PRId64 "/%s", limit->name, window_start(limit, now), subject);
}

static const char *unit_word(const struct mb_rate_limit *limit)
{
	return limit->unit == MB_RATE_MESSAGES ? "messages" : "recipients";
}

static const char *period_word(const struct mb_rate_limit *limit)
{
	return limit->window_seconds == 60 ? "minute" : limit->window_seconds == 3600 ? "hour" : "day";
}

static int rate_refuse(const struct policy_call *call, const struct mb_rate_limit *limit,
		       const char *subject, char *reason, size_t reason_size)
{
	int64_t retry = window_start(limit, call->now) + limit->window_seconds - call->now;

	snprintf(reason, reason_size,
		 "450 4.7.1 Rate limit \"%s\" reached for %.200s: %" PRIu64 " %s per %s; try again in %" PRId64 " seconds",
		 limit->name, subject, limit->limit, unit_word(limit), period_word(limit), retry);
	return 1;
}

/* check_rate_limits - at RCPT: a limit on messages refuses once its count
   has reached the limit (the message is counted at END-OF-MESSAGE); a
   limit on recipients counts this recipient and refuses past the limit.
   A refused recipient is not counted by any limit. */
int policy_check_rate_limits(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	char subject[MB_ADDRESS_MAX + 1], key[MB_STATE_KEY_MAX + 1], value[32];
	size_t counted[MB_RATE_LIMITS_MAX], counted_count = 0;
	int ret = 0;

	for (size_t i = 0; i < ctx->rate_limits.count && ret == 0; i++) {
		const struct mb_rate_limit *limit = &ctx->rate_limits.items[i];
		int64_t count = 0;
		rate_subject(call, limit, subject, sizeof(subject));
		if (subject[0] == '\0')
			continue;
		rate_key(limit, subject, call->now, key, sizeof(key));
		if (limit->unit == MB_RATE_MESSAGES) {
			int found = mb_state_get(call->store, key, call->now, value, sizeof(value),
						 reason, reason_size);
			if (found < 0)
				ret = -1;
			else if (found > 0 && strtoull(value, NULL, 10) >= limit->limit)
				ret = rate_refuse(call, limit, subject, reason, reason_size);
			continue;
		}
		int64_t expires = window_start(limit, call->now) + limit->window_seconds;
		if (mb_state_add(call->store, key, 1, expires, call->now, &count, reason, reason_size) < 0) {
			ret = -1;
			continue;
		}
		counted[counted_count++] = i;
		if (count > (int64_t)limit->limit)
			ret = rate_refuse(call, limit, subject, reason, reason_size);
	}
	if (ret == 0)
		return 0;
	/* refused or failed: take back what this recipient added */
	for (size_t j = 0; j < counted_count; j++) {
		const struct mb_rate_limit *limit = &ctx->rate_limits.items[counted[j]];
		char undo_error[128];
		int64_t count;
		rate_subject(call, limit, subject, sizeof(subject));
		rate_key(limit, subject, call->now, key, sizeof(key));
		mb_state_add(call->store, key, -1, call->now + 1, call->now, &count,
			     undo_error, sizeof(undo_error));
	}
	return ret;
}

/* count_message - at END-OF-MESSAGE: count one message in each limit on
   messages. 0, or -1 with reason. */
int policy_count_message(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	char subject[MB_ADDRESS_MAX + 1], key[MB_STATE_KEY_MAX + 1];

	for (size_t i = 0; i < ctx->rate_limits.count; i++) {
		const struct mb_rate_limit *limit = &ctx->rate_limits.items[i];
		int64_t count;
		if (limit->unit != MB_RATE_MESSAGES)
			continue;
		rate_subject(call, limit, subject, sizeof(subject));
		if (subject[0] == '\0')
			continue;
		rate_key(limit, subject, call->now, key, sizeof(key));
		if (mb_state_add(call->store, key, 1, window_start(limit, call->now) + limit->window_seconds,
				 call->now, &count, reason, reason_size) < 0)
			return -1;
	}
	return 0;
}
