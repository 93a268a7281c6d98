/* policy-call.h - what a policy check sees, shared by the check modules
 * (policy.c, greylist.c, ratelimit.c). Internal to mailbag-policyd. */
#ifndef MAILBAG_POLICY_CALL_H
#define MAILBAG_POLICY_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct mb_context;
struct mb_store;

/* Everything a check may look at. */
struct policy_call {
	const struct policy_request *req;
	const struct mb_context *ctx;
	struct mb_store *store;
	struct policy_scratch *scratch;
	int64_t now;
};

/* A check: 1 refuse (reason holds "CODE text" or an action), 0 pass, -1
   the store failed (reason holds why). Only RCPT requests reach them. */
typedef int policy_check_fn(const struct policy_call *call, char *reason, size_t reason_size);

/* A request attribute, "" when absent. Inline, so that greylist.c and
   ratelimit.c need policy.h's request type but nothing of policy.c. */
static inline const char *policy_attribute(const struct policy_call *call, const char *name)
{
	const char *value = policy_get(call->req, name);

	return value != NULL ? value : "";
}

/* greylist.c */
policy_check_fn policy_check_greylisting;

/* ratelimit.c: the RCPT check, and the END-OF-MESSAGE count (0 or -1) */
policy_check_fn policy_check_rate_limits;
int policy_count_message(const struct policy_call *call, char *reason, size_t reason_size);

#endif
