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
 *	  max_recipients_per_message: RCPTs past the cap in one message
 *	  (Postfix's "instance") get 452 4.5.3, which tells the client to
 *	  send the rest in another message.
 *	  greylisting: an unauthenticated client's first attempt for a
 *	  (client network, sender, recipient) triplet is deferred; a retry
 *	  after the delay, within the retry window, passes and is known for
 *	  the lifetime; a network with enough passed retries is allowed
 *	  outright. Allowlisted networks and client host names skip it.
 *	  rate_limits: fixed windows aligned to the clock (minute, hour,
 *	  day). A limit counting recipients counts each accepted RCPT; one
 *	  counting messages is checked at RCPT and counted at
 *	  END-OF-MESSAGE (Postfix's smtpd_end_of_data_restrictions). Over a
 *	  limit: 450 4.7.1 naming the limit and when to retry.
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
#include "context.h"
#include "log.h"
#include "socketmap.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

const char *policy_get(const struct policy_request *req, const char *name)
{
	for (size_t i = 0; i < req->count; i++) {
		if (strcmp(req->attributes[i].name, name) == 0)
			return req->attributes[i].value;
	}
	return NULL;
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

/* user_limit - the max_message_bytes of the user an address delivers to
   (exact, else without its subaddress): 1 found, 0 none, -1 failure */
static int user_limit(struct mb_store *store, const char *delimiters, const char *address,
		      unsigned long long *limit_r, char *error, size_t error_size)
{
	struct mb_user user;
	struct mb_address parsed;
	const char *parse_error;
	char base[MB_ADDRESS_MAX + 1];
	int ret = mb_store_user_get(store, address, &user, error, error_size);

	if (ret == 0 && mb_address_parse(address, delimiters, &parsed, &parse_error) == 0 &&
	    parsed.has_detail) {
		mb_address_format(&parsed, base, sizeof(base));
		ret = mb_store_user_get(store, base, &user, error, error_size);
	}
	if (ret > 0) {
		*limit_r = user.max_message_bytes;
		mb_user_clear(&user);
	}
	return ret;
}

/* size_over_limit - 1 (reason written) if size exceeds a reached user's
   limit, 0 if not, -1 on store failure (reason written) */
static int size_over_limit(struct mb_store *store, const char *delimiters,
			   const char *recipient, unsigned long long size,
			   struct policy_scratch *res, char *reason, size_t reason_size)
{
	if (resolve(store, delimiters, recipient, res, reason, reason_size) < 0)
		return -1;
	for (size_t i = 0; i < res->count; i++) {
		unsigned long long limit = 0;
		int found = user_limit(store, delimiters, res->addresses[i], &limit, reason, reason_size);
		if (found < 0)
			return -1;
		if (found > 0 && limit > 0 && size > limit) {
			snprintf(reason, reason_size,
				 "552 5.3.4 Message too big for <%s>: %llu bytes declared, the limit is %llu",
				 recipient, size, limit);
			return 1;
		}
	}
	return 0;
}

static void lower_copy(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

/* sender_not_owned - 1 (reason written) when login may not use sender,
   0 when it may, -1 on store failure (reason written) */
static int sender_not_owned(struct mb_store *store, const char *delimiters,
			    const char *sender, const char *login, struct policy_scratch *scratch,
			    char *reason, size_t reason_size)
{
	char request[MB_ADDRESS_MAX + 40], want[MB_ADDRESS_MAX + 1];
	char *reply = scratch->reply;
	size_t len;

	lower_copy(login, want, sizeof(want));
	snprintf(request, sizeof(request), "smtpd_sender_login_maps %s", sender);
	len = socketmap_answer(store, delimiters, request, strlen(request), reply, SOCKETMAP_MAX_REPLY);
	reply[len] = '\0';
	if (strncmp(reply, "TEMP ", 5) == 0) {
		snprintf(reason, reason_size, "%.400s", reply + 5);
		return -1;
	}
	if (strncmp(reply, "OK ", 3) == 0) {
		for (char *save = NULL, *owner = strtok_r(reply + 3, ",", &save); owner != NULL;
		     owner = strtok_r(NULL, ",", &save)) {
			if (strcmp(owner, want) == 0)
				return 0;
		}
	}
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

/* Everything a check may look at. */
struct policy_call {
	const struct policy_request *req;
	const struct mb_context *ctx;
	struct mb_store *store;
	struct policy_scratch *scratch;
	int64_t now;
};

/* attribute - a request attribute, "" when absent */
static const char *attribute(const struct policy_call *call, const char *name)
{
	const char *value = policy_get(call->req, name);

	return value != NULL ? value : "";
}

/* A check: 1 refuse (reason holds "CODE text" or an action), 0 pass, -1
   the store failed (reason holds why). Only RCPT requests reach them. */
typedef int policy_check_fn(const struct policy_call *call, char *reason, size_t reason_size);

static int check_sender_login(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *login = attribute(call, "sasl_username");
	const char *sender = attribute(call, "sender");

	if (login[0] == '\0' || sender[0] == '\0')
		return 0; /* unauthenticated, or the null sender */
	return sender_not_owned(call->store, call->ctx->recipient_delimiter, sender, login,
				call->scratch, reason, reason_size);
}

static int check_message_size(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *recipient = attribute(call, "recipient");
	const char *size_text = attribute(call, "size");
	char lower[MB_ADDRESS_MAX + 1], *end;
	unsigned long long size;

	if (size_text[0] == '\0' || strlen(recipient) > MB_ADDRESS_MAX)
		return 0;
	errno = 0;
	size = strtoull(size_text, &end, 10);
	if (errno != 0 || *end != '\0' || size == 0)
		return 0; /* no size, or a bad one: Postfix's to judge */
	lower_copy(recipient, lower, sizeof(lower));
	return size_over_limit(call->store, call->ctx->recipient_delimiter, lower, size,
			       call->scratch, reason, reason_size);
}

/* check_recipient_cap - count RCPTs per message (Postfix's instance) */
static int check_recipient_cap(const struct policy_call *call, char *reason, size_t reason_size)
{
	const char *instance = attribute(call, "instance");
	uint64_t cap = call->ctx->max_recipients_per_message;
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

/* allowlisted - the client is in an allowlisted network, or its verified
   host name is an allowlisted domain or below one */
static bool allowlisted(const struct policy_call *call, const char *client_address)
{
	const char *client_name = attribute(call, "client_name");
	size_t name_len = strlen(client_name);

	for (size_t i = 0; i < call->ctx->greylist_allow_count; i++) {
		const struct mb_allow_entry *entry = &call->ctx->greylist_allowlist[i];
		if (entry->is_network) {
			if (mb_network_contains(&entry->network, client_address))
				return true;
			continue;
		}
		size_t domain_len = strlen(entry->domain);
		if (name_len < domain_len || strcasecmp(client_name + name_len - domain_len, entry->domain) != 0)
			continue;
		if (name_len == domain_len || client_name[name_len - domain_len - 1] == '.')
			return true;
	}
	return false;
}

/* triplet_key - "grey/NETWORK/HASH": the network stays readable for the
   operator, sender and recipient (long, case-insensitive) are hashed */
static void triplet_key(const char *network, const char *sender, const char *recipient,
			char *key, size_t size)
{
	char lower[2 * (MB_ADDRESS_MAX + 1) + 2], hex[33];
	unsigned char hash[16];

	lower_copy(sender, lower, MB_ADDRESS_MAX + 1);
	size_t used = strlen(lower);
	lower[used++] = '\n';
	lower_copy(recipient, lower + used, MB_ADDRESS_MAX + 1);
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)lower, strlen(lower), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(key, size, "grey/%s/%s", network, hex);
}

static int greylist_defer(char *reason, size_t reason_size, int64_t wait)
{
	snprintf(reason, reason_size,
		 "DEFER_IF_PERMIT 4.7.1 Greylisted: this server delays first mail from new senders; please try again in %" PRId64 " seconds",
		 wait);
	return 1;
}

static int check_greylisting(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	const char *client_address = attribute(call, "client_address");
	char network[64], key[MB_STATE_KEY_MAX + 1], value[64], allow_key[96];
	int64_t first_seen = 0, passed = 0, count;
	int found;

	if (attribute(call, "sasl_username")[0] != '\0' || allowlisted(call, client_address))
		return 0;
	if (mb_client_network(client_address, network, sizeof(network)) < 0)
		return 0; /* not an IP address: not an SMTP client to greylist */
	snprintf(allow_key, sizeof(allow_key), "grey-ok/%s", network);
	if (ctx->greylist_auto_allow > 0) {
		found = mb_state_get(call->store, allow_key, call->now, value, sizeof(value),
				     reason, reason_size);
		if (found < 0)
			return -1;
		if (found > 0 && strtoull(value, NULL, 10) >= ctx->greylist_auto_allow)
			return 0;
	}
	triplet_key(network, attribute(call, "sender"), attribute(call, "recipient"), key, sizeof(key));
	found = mb_state_get(call->store, key, call->now, value, sizeof(value), reason, reason_size);
	if (found < 0)
		return -1;
	if (found == 0 || sscanf(value, "%" SCNd64 " %" SCNd64, &first_seen, &passed) != 2) {
		/* first attempt: remember it for the retry window */
		snprintf(value, sizeof(value), "%" PRId64 " 0", call->now);
		if (mb_state_put(call->store, key, value, call->now + ctx->greylist_retry_window,
				 reason, reason_size) < 0)
			return -1;
		return greylist_defer(reason, reason_size, ctx->greylist_delay);
	}
	if (passed == 0 && call->now - first_seen < ctx->greylist_delay)
		return greylist_defer(reason, reason_size, first_seen + ctx->greylist_delay - call->now);
	/* a retry after the delay, or a known triplet: pass, and keep it */
	snprintf(value, sizeof(value), "%" PRId64 " 1", first_seen);
	if (mb_state_put(call->store, key, value, call->now + ctx->greylist_lifetime,
			 reason, reason_size) < 0)
		return -1;
	if (passed == 0 && ctx->greylist_auto_allow > 0 &&
	    mb_state_add(call->store, allow_key, 1, call->now + ctx->greylist_lifetime, call->now,
			 &count, reason, reason_size) < 0)
		return -1;
	return 0;
}

/* rate_subject - the value a limit counts per, lower-cased into out; ""
   when the request has none (the limit does not apply) */
static void rate_subject(const struct policy_call *call, const struct mb_rate_limit *limit,
			 char *out, size_t size)
{
	const char *value = "", *at;

	switch (limit->subject) {
	case MB_RATE_SASL_USERNAME: value = attribute(call, "sasl_username"); break;
	case MB_RATE_CLIENT_ADDRESS: value = attribute(call, "client_address"); break;
	case MB_RATE_RECIPIENT: value = attribute(call, "recipient"); break;
	case MB_RATE_SENDER_DOMAIN:
		at = strrchr(attribute(call, "sender"), '@');
		value = at != NULL ? at + 1 : "";
		break;
	case MB_RATE_CLIENT_NETWORK:
		if (mb_client_network(attribute(call, "client_address"), out, size) == 0)
			return;
		break;
	}
	if (strlen(value) > MB_ADDRESS_MAX)
		value = ""; /* longer than any address: not ours to count */
	lower_copy(value, out, size);
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
static int check_rate_limits(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	char subject[MB_ADDRESS_MAX + 1], key[MB_STATE_KEY_MAX + 1], value[32];
	size_t counted[MB_RATE_LIMITS_MAX], counted_count = 0;
	int ret = 0;

	for (size_t i = 0; i < ctx->rate_limit_count && ret == 0; i++) {
		const struct mb_rate_limit *limit = &ctx->rate_limits[i];
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
		const struct mb_rate_limit *limit = &ctx->rate_limits[counted[j]];
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
static int count_message(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	char subject[MB_ADDRESS_MAX + 1], key[MB_STATE_KEY_MAX + 1];

	for (size_t i = 0; i < ctx->rate_limit_count; i++) {
		const struct mb_rate_limit *limit = &ctx->rate_limits[i];
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

static bool sender_login_on(const struct mb_context *ctx) { return ctx->check_sender_login; }
static bool message_size_on(const struct mb_context *ctx) { return ctx->check_message_size; }
static bool recipient_cap_on(const struct mb_context *ctx) { return ctx->max_recipients_per_message > 0; }
static bool greylisting_on(const struct mb_context *ctx) { return ctx->greylisting; }
static bool rate_limits_on(const struct mb_context *ctx) { return ctx->rate_limit_count > 0; }

struct policy_check {
	const char *name;
	bool (*enabled)(const struct mb_context *ctx);
	policy_check_fn *run;
};

/* In order: the first refusal answers. Greylisting comes before the rate
   limits so that a deferred first attempt uses up no one's quota. */
static const struct policy_check policy_checks[] = {
	{ "sender_login", sender_login_on, check_sender_login },
	{ "message_size", message_size_on, check_message_size },
	{ "max_recipients_per_message", recipient_cap_on, check_recipient_cap },
	{ "greylisting", greylisting_on, check_greylisting },
	{ "rate_limits", rate_limits_on, check_rate_limits },
};

static size_t decide_rcpt(const struct policy_call *call, char *reply, size_t reply_size)
{
	char reason[POLICY_MAX_ACTION];

	if (attribute(call, "recipient")[0] == '\0')
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
	const char *request = attribute(&call, "request");
	const char *state = attribute(&call, "protocol_state");
	char reason[POLICY_MAX_ACTION];

	if (strcmp(request, "smtpd_access_policy") != 0)
		return action(reply, reply_size, "DUNNO");
	if (strcmp(state, "RCPT") == 0)
		return decide_rcpt(&call, reply, reply_size);
	/* the message is in: failing to count it must not refuse it */
	if (strcmp(state, "END-OF-MESSAGE") == 0 && rate_limits_on(ctx) &&
	    count_message(&call, reason, sizeof(reason)) < 0)
		mb_warning("policy: a message could not be counted for the rate limits: %s", reason);
	return action(reply, reply_size, "DUNNO");
}
