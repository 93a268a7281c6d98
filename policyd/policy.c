/* policy.c - Postfix policy delegation: requests and decisions
 *
 * SUMMARY
 *	Postfix's check_policy_service sends "name=value" lines ending in an
 *	empty line and waits for "action=...", then an empty line
 *	(SMTPD_POLICY_README). The parser is pure and bounded; the decision
 *	reads the store and the context and nothing else.
 *
 *	Checks, in order (the first refusal answers; each is switched or
 *	configured in the context):
 *	  sender_login: an authenticated client (sasl_username) may use as
 *	  envelope sender only an address its login owns, as the socketmap's
 *	  smtpd_sender_login_maps says (itself, or aliases it receives);
 *	  otherwise 553 5.7.1. The null sender stays allowed (bounces, MDNs).
 *	  message size at RCPT: a declared SIZE= over the limit of any local
 *	  user the recipient reaches (through aliases, catch-alls and domain
 *	  aliases, resolved as the socketmap resolves them) is refused with
 *	  552 5.3.4, before the message is accepted, so it never bounces.
 *	  quota: a local user the recipient reaches whose mailbox is full
 *	  (usage as Dovecot's quota_clone last reported it, usage.c), or
 *	  has no room for the declared SIZE=, gets 452 4.2.2: the sender
 *	  keeps the message and retries, and nothing bounces.
 *	  max_recipients_per_message: RCPTs past the cap in one message
 *	  (Postfix's "instance") get 452 4.5.3, which tells the client to
 *	  send the rest in another message.
 *	  greylisting (greylist.c): unauthenticated clients' first attempts.
 *	  rate_limits (ratelimit.c): per login, sender domain, client,
 *	  network or recipient, counting messages or recipients.
 *	The size and quota judgements are one rule, mb_mailbox_admit
 *	(lib/account.c, shared with mailbag-lmtpd), asked for each user in
 *	one walk of the recipient's aliases; policy.c only words the
 *	answer. A check is one function (policy-call.h) and one row in
 *	policy_checks[] below, with its switch in the context.
 *	Everything else is DUNNO, for Postfix's other restrictions to judge.
 *
 *	State (counters, triplets) lives in the store's state area with an
 *	expiry, so it survives restarts and, with Redis, is shared by nodes.
 *
 * DIAGNOSTICS
 *	A store failure answers DEFER_IF_PERMIT (4xx, never an accept of what
 *	should be refused, never 5xx). Malformed lines are skipped; the
 *	caller logs them.
 */
#include "policy.h"
#include "account.h"
#include "sender.h"
#include "context.h"
#include "log.h"
#include "policy-call.h"
#include "socketmap.h"
#include "store.h"
#include "usage.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE_MAX_ADDRESSES 1000 /* addresses one recipient may expand to */

static bool attribute_name_ok(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

enum policy_parse_result
policy_request_parse(const char *buf, size_t len, struct policy_request *req,
		     size_t *consumed_r)
{
	const char *end = NULL;
	size_t line_start = 0;

	/* find the empty line that ends the request, bounding each line */
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i - line_start > POLICY_MAX_LINE)
			return POLICY_PARSE_TOO_LARGE;
		if (i == line_start) {
			end = buf + i + 1;
			break;
		}
		line_start = i + 1;
	}
	if (end == NULL)
		return len - line_start > POLICY_MAX_LINE || len > POLICY_MAX_REQUEST ?
			POLICY_PARSE_TOO_LARGE : POLICY_PARSE_NEED_MORE;
	size_t total = (size_t)(end - buf);
	if (total > POLICY_MAX_REQUEST)
		return POLICY_PARSE_TOO_LARGE;

	memcpy(req->text, buf, total);
	req->text[total] = '\0';
	req->count = 0;
	req->malformed_lines = 0;
	/* every line ends in '\n' (found above) and the last one is empty;
	   memchr, not strchr: a NUL byte may sit anywhere */
	char *line = req->text;
	char *text_end = req->text + total;
	while (line < text_end && *line != '\n') {
		char *nl = memchr(line, '\n', (size_t)(text_end - line));
		size_t line_len = (size_t)(nl - line);
		char *eq = memchr(line, '=', line_len);
		bool has_nul = memchr(line, '\0', line_len) != NULL;
		*nl = '\0';
		if (eq == NULL || has_nul || !attribute_name_ok(line, (size_t)(eq - line))) {
			req->malformed_lines++;
		} else if (req->count == POLICY_MAX_ATTRIBUTES) {
			return POLICY_PARSE_TOO_LARGE;
		} else {
			*eq = '\0';
			req->attributes[req->count].name = line;
			req->attributes[req->count].value = eq + 1;
			req->count++;
		}
		line = nl + 1;
	}
	*consumed_r = total;
	return POLICY_PARSE_OK;
}

static size_t action(char *reply, size_t size, const char *text)
{
	int n = snprintf(reply, size, "action=%s\n\n", text);

	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* Working memory for one decision, allocated once per process: the
   addresses a recipient reaches and a socketmap reply of full size. */
struct policy_scratch {
	char addresses[RESOLVE_MAX_ADDRESSES][MB_ADDRESS_MAX + 1];
	size_t count;
	char reply[SOCKETMAP_MAX_REPLY + 1];
};

struct policy_scratch *policy_scratch_new(void)
{
	return malloc(sizeof(struct policy_scratch));
}

void policy_scratch_free(struct policy_scratch **scratch)
{
	free(*scratch);
	*scratch = NULL;
}

static bool already_listed(const struct policy_scratch *res, const char *address)
{
	for (size_t i = 0; i < res->count; i++) {
		if (strcmp(res->addresses[i], address) == 0)
			return true;
	}
	return false;
}

/* resolve - fill res with recipient and every address it expands to
   (aliases of aliases included, each once), found breadth-first by asking
   the socketmap's own resolver, so policy and routing never disagree.
   0, or -1 with reason. */
static int resolve(struct mb_store *store, const char *delimiters, const char *recipient,
		   struct policy_scratch *res, char *reason, size_t reason_size)
{
	char request[MB_ADDRESS_MAX + 32];

	snprintf(res->addresses[0], MB_ADDRESS_MAX + 1, "%s", recipient);
	res->count = 1;
	for (size_t next = 0; next < res->count; next++) {
		snprintf(request, sizeof(request), "virtual_alias_maps %s", res->addresses[next]);
		size_t len = socketmap_answer(store, delimiters, request, strlen(request),
					      res->reply, SOCKETMAP_MAX_REPLY);
		res->reply[len] = '\0';
		if (strncmp(res->reply, "TEMP ", 5) == 0) {
			snprintf(reason, reason_size, "%.400s", res->reply + 5);
			return -1;
		}
		if (strncmp(res->reply, "OK ", 3) != 0)
			continue;
		for (char *save = NULL, *t = strtok_r(res->reply + 3, ",", &save);
		     t != NULL && res->count < RESOLVE_MAX_ADDRESSES; t = strtok_r(NULL, ",", &save)) {
			if (strlen(t) <= MB_ADDRESS_MAX && !already_listed(res, t))
				snprintf(res->addresses[res->count++], MB_ADDRESS_MAX + 1, "%s", t);
		}
	}
	return 0;
}

/* A judgement on one local user a recipient reaches: 1 refuse (reason
   written), 0 pass, -1 store failure (reason written). */
typedef int user_judge_fn(const struct policy_call *call, const struct mb_user *user,
			  const char *recipient, unsigned long long size,
			  char *reason, size_t reason_size);

/* judge_reached_users - resolve recipient and judge every local user it
   reaches; the first refusal answers */
static int judge_reached_users(const struct policy_call *call, const char *recipient,
			       unsigned long long size, user_judge_fn *judge,
			       char *reason, size_t reason_size)
{
	const char *delimiters = call->ctx->recipient_delimiter;
	struct policy_scratch *res = call->scratch;

	if (resolve(call->store, delimiters, recipient, res, reason, reason_size) < 0)
		return -1;
	for (size_t i = 0; i < res->count; i++) {
		struct mb_user user;
		int found = mb_store_user_find(call->store, res->addresses[i], delimiters, &user, reason, reason_size);
		if (found < 0)
			return -1;
		if (found == 0)
			continue;
		int ret = judge(call, &user, recipient, size, reason, reason_size);
		mb_user_clear(&user);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* sender_not_owned - 1 (reason written) when login may not use sender,
   0 when it may, -1 on store failure (reason written) */
static int sender_not_owned(struct mb_store *store, const char *delimiters,
			    const char *sender, const char *login,
			    char *reason, size_t reason_size)
{
	int ret = mb_login_may_send_as(store, delimiters, login, sender, reason, reason_size);

	if (ret != 0)
		return ret < 0 ? -1 : 0;
	/* unknown here, or owned by other logins, or not an address */
	snprintf(reason, reason_size, "553 5.7.1 Sender address <%.200s> is not owned by login %.200s",
		 sender, login);
	return 1;
}

static size_t defer_store(char *reply, size_t reply_size, const char *reason)
{
	char text[POLICY_MAX_ACTION + 64];

	snprintf(text, sizeof(text), "DEFER_IF_PERMIT 4.3.0 mailbag store unavailable: %.300s", reason);
	return action(reply, reply_size, text);
}


static int check_sender_login(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *login = policy_attribute(call, "sasl_username");
	const char *sender = policy_attribute(call, "sender");

	if (login[0] == '\0' || sender[0] == '\0')
		return 0; /* unauthenticated, or the null sender */
	return sender_not_owned(call->store, call->ctx->recipient_delimiter, sender, login,
				reason, reason_size);
}

/* declared_size - the SIZE= of the request; 0 when none or a bad one
   (Postfix's to judge) */
static unsigned long long declared_size(const struct policy_call *call)
{
	const char *size_text = policy_attribute(call, "size");
	unsigned long long size;
	char *end;

	if (size_text[0] < '0' || size_text[0] > '9')
		return 0;
	errno = 0;
	size = strtoull(size_text, &end, 10);
	return errno != 0 || *end != '\0' ? 0 : size;
}

/* judge_mailbox - whether the message fits the user's mailbox
   (mb_mailbox_admit, account.c: the checks that are on), worded for
   Postfix; one walk of the recipient's aliases serves both judgements */
static int judge_mailbox(const struct policy_call *call, const struct mb_user *user,
			 const char *recipient, unsigned long long size, char *reason, size_t reason_size)
{
	struct mb_admission_detail detail;

	switch (mb_mailbox_admit(call->ctx, call->store, user, size, call->now, &detail,
				 reason, reason_size)) {
	case MB_ADMIT_FITS:
		return 0;
	case MB_ADMIT_TOO_BIG:
		snprintf(reason, reason_size,
			 "552 5.3.4 Message too big for <%s>: %llu bytes declared, the limit is %llu",
			 recipient, size, (unsigned long long)detail.limit_bytes);
		return 1;
	case MB_ADMIT_FULL:
		snprintf(reason, reason_size, "452 4.2.2 Mailbox of <%s> is full; try again later", recipient);
		return 1;
	case MB_ADMIT_NO_ROOM:
		snprintf(reason, reason_size,
			 "452 4.2.2 Mailbox of <%s> has no room for %llu bytes; try again later",
			 recipient, size);
		return 1;
	case MB_ADMIT_STORE_FAILED:
		break;
	}
	return -1; /* reason is the store's error */
}

/* check_mailboxes - message size (552 5.3.4) and quota (452 4.2.2) of
   every local user the recipient reaches */
static int check_mailboxes(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *recipient = policy_attribute(call, "recipient");
	char lower[MB_ADDRESS_MAX + 1];

	if (strlen(recipient) > MB_ADDRESS_MAX)
		return 0;
	mb_lower_copy(recipient, lower, sizeof(lower));
	return judge_reached_users(call, lower, declared_size(call), judge_mailbox, reason, reason_size);
}

/* check_recipient_cap - count RCPTs per message (Postfix's instance) */
static int check_recipient_cap(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *instance = policy_attribute(call, "instance");
	uint64_t cap = call->ctx->checks.max_recipients_per_message;
	char key[MB_STATE_KEY_MAX + 1];
	int64_t count;

	if (instance[0] == '\0' || strlen(instance) > 200)
		return 0; /* not from smtpd: nothing to count by */
	snprintf(key, sizeof(key), "rcpt/%s", instance);
	/* an hour outlives any SMTP transaction */
	if (mb_state_add(call->store, key, 1, call->now + 3600, call->now, &count,
			 reason, reason_size) < 0)
		return -1;
	if (count <= (int64_t)cap)
		return 0;
	snprintf(reason, reason_size,
		 "452 4.5.3 Too many recipients for one message (at most %" PRIu64 "); send the rest in another message",
		 cap);
	return 1;
}

static bool sender_login_on(const struct mb_context *ctx) { return ctx->checks.sender_login; }
static bool mailboxes_on(const struct mb_context *ctx)
{
	return ctx->checks.message_size || ctx->checks.quota;
}
static bool recipient_cap_on(const struct mb_context *ctx) { return ctx->checks.max_recipients_per_message > 0; }
static bool greylisting_on(const struct mb_context *ctx) { return ctx->greylisting.enabled; }
static bool rate_limits_on(const struct mb_context *ctx) { return ctx->rate_limits.count > 0; }

struct policy_check {
	const char *name;
	bool (*enabled)(const struct mb_context *ctx);
	policy_check_fn *run;
};

/* In order: the first refusal answers. Greylisting comes before the rate
   limits so that a deferred first attempt uses up no one's quota. */
static const struct policy_check policy_checks[] = {
	{ "sender_login", sender_login_on, check_sender_login },
	{ "message_size and quota", mailboxes_on, check_mailboxes },
	{ "max_recipients_per_message", recipient_cap_on, check_recipient_cap },
	{ "greylisting", greylisting_on, policy_check_greylisting },
	{ "rate_limits", rate_limits_on, policy_check_rate_limits },
};

static size_t decide_rcpt(const struct policy_call *call, char *reply, size_t reply_size)
{
	char reason[POLICY_MAX_ACTION];

	if (policy_attribute(call, "recipient")[0] == '\0')
		return action(reply, reply_size, "DUNNO");
	for (size_t i = 0; i < sizeof(policy_checks) / sizeof(policy_checks[0]); i++) {
		const struct policy_check *check = &policy_checks[i];
		if (!check->enabled(call->ctx))
			continue;
		int ret = check->run(call, reason, sizeof(reason));
		if (ret < 0)
			return defer_store(reply, reply_size, reason);
		if (ret > 0)
			return action(reply, reply_size, reason);
	}
	return action(reply, reply_size, "DUNNO");
}

size_t policy_decide(const struct policy_request *req, const struct mb_context *ctx,
		     struct mb_store *store, struct policy_scratch *scratch, int64_t now,
		     char *reply, size_t reply_size)
{
	const struct policy_call call = { req, ctx, store, scratch, now };
	const char *request = policy_attribute(&call, "request");
	const char *state = policy_attribute(&call, "protocol_state");
	char reason[POLICY_MAX_ACTION];

	if (strcmp(request, "smtpd_access_policy") != 0)
		return action(reply, reply_size, "DUNNO");
	if (strcmp(state, "RCPT") == 0)
		return decide_rcpt(&call, reply, reply_size);
	/* the message is in: failing to count it must not refuse it */
	if (strcmp(state, "END-OF-MESSAGE") == 0 && rate_limits_on(ctx) &&
	    policy_count_message(&call, reason, sizeof(reason)) < 0 && !mb_store_waiting(store))
		mb_warning("policy: a message could not be counted for the rate limits: %s", reason);
	return action(reply, reply_size, "DUNNO");
}
