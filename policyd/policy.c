/* policy.c - Postfix policy delegation: requests and decisions
 *
 * SUMMARY
 *	Postfix's check_policy_service sends "name=value" lines ending in an
 *	empty line and waits for "action=...", then an empty line
 *	(SMTPD_POLICY_README). The parser is pure and bounded; the decision
 *	reads the store and the context and nothing else.
 *
 *	Checks so far (each switched in the context's "checks"):
 *	  sender_login: an authenticated client (sasl_username) may use as
 *	  envelope sender only an address its login owns, as the socketmap's
 *	  smtpd_sender_login_maps says (itself, or aliases it receives);
 *	  otherwise 553 5.7.1. The null sender stays allowed (bounces, MDNs).
 *	  message size at RCPT: a declared SIZE= over the limit of any local
 *	  user the recipient reaches (through aliases, catch-alls and domain
 *	  aliases, resolved as the socketmap resolves them) is refused with
 *	  552 5.3.4, before the message is accepted, so it never bounces.
 *	Everything else is DUNNO, for Postfix's other restrictions to judge.
 *
 * DIAGNOSTICS
 *	A store failure answers DEFER_IF_PERMIT (4xx, never an accept of what
 *	should be refused, never 5xx). Malformed lines are skipped; the
 *	caller logs them.
 */
#include "policy.h"
#include "context.h"
#include "socketmap.h"
#include "store.h"

#include <errno.h>
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

/* A check: 1 refuse (reason holds "CODE text"), 0 pass, -1 the store
   failed (reason holds why). Only RCPT requests reach the checks. */
typedef int policy_check_fn(const struct policy_request *req, const struct mb_context *ctx,
			    struct mb_store *store, struct policy_scratch *scratch,
			    char *reason, size_t reason_size);

static int check_sender_login(const struct policy_request *req, const struct mb_context *ctx,
			      struct mb_store *store, struct policy_scratch *scratch,
			      char *reason, size_t reason_size)
{
	const char *login = policy_get(req, "sasl_username");
	const char *sender = policy_get(req, "sender");

	if (login == NULL || login[0] == '\0' || sender == NULL || sender[0] == '\0')
		return 0; /* unauthenticated, or the null sender */
	return sender_not_owned(store, ctx->recipient_delimiter, sender, login, scratch,
				reason, reason_size);
}

static int check_message_size(const struct policy_request *req, const struct mb_context *ctx,
			      struct mb_store *store, struct policy_scratch *scratch,
			      char *reason, size_t reason_size)
{
	const char *recipient = policy_get(req, "recipient");
	const char *size_text = policy_get(req, "size");
	char lower[MB_ADDRESS_MAX + 1], *end;
	unsigned long long size;

	if (size_text == NULL || size_text[0] == '\0' || strlen(recipient) > MB_ADDRESS_MAX)
		return 0;
	errno = 0;
	size = strtoull(size_text, &end, 10);
	if (errno != 0 || *end != '\0' || size == 0)
		return 0; /* no size, or a bad one: Postfix's to judge */
	lower_copy(recipient, lower, sizeof(lower));
	return size_over_limit(store, ctx->recipient_delimiter, lower, size, scratch,
			       reason, reason_size);
}

struct policy_check {
	const char *name;
	size_t enabled_offset; /* an int switch in struct mb_context */
	policy_check_fn *run;
};

/* In order: the first refusal answers. */
static const struct policy_check policy_checks[] = {
	{ "sender_login", offsetof(struct mb_context, check_sender_login), check_sender_login },
	{ "message_size", offsetof(struct mb_context, check_message_size), check_message_size },
};

size_t policy_decide(const struct policy_request *req, const struct mb_context *ctx,
		     struct mb_store *store, struct policy_scratch *scratch,
		     char *reply, size_t reply_size)
{
	const char *request = policy_get(req, "request");
	const char *state = policy_get(req, "protocol_state");
	const char *recipient = policy_get(req, "recipient");
	char reason[POLICY_MAX_ACTION];

	if (request == NULL || strcmp(request, "smtpd_access_policy") != 0 ||
	    state == NULL || strcmp(state, "RCPT") != 0 || recipient == NULL || recipient[0] == '\0')
		return action(reply, reply_size, "DUNNO");
	for (size_t i = 0; i < sizeof(policy_checks) / sizeof(policy_checks[0]); i++) {
		const struct policy_check *check = &policy_checks[i];
		if (!*(const int *)((const char *)ctx + check->enabled_offset))
			continue;
		int ret = check->run(req, ctx, store, scratch, reason, sizeof(reason));
		if (ret < 0)
			return defer_store(reply, reply_size, reason);
		if (ret > 0)
			return action(reply, reply_size, reason);
	}
	return action(reply, reply_size, "DUNNO");
}
