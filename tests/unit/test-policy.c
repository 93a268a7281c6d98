/* test-policy.c - the policy delegation parser and decisions */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "account.h"
#include "context.h"
#include "policy.h"
#include "state-journal.h"
#include "store-fixture.h"

/* When set, decisions run as the daemon runs them on Redis: through a
   state journal (lib/state-journal.c), again and again until no state
   result is missing, the operations carried out between runs. The same
   expectations must hold: one implementation of each rule. */
static bool via_journal;
static struct mb_state_journal journal;

struct parse_case {
	const char *input;
	size_t input_len; /* 0: strlen */
	enum policy_parse_result want;
	size_t want_count, want_malformed, want_consumed;
};

static const struct parse_case parse_cases[] = {
	{ "request=smtpd_access_policy\nrecipient=a@b.c\n\n", 0, POLICY_PARSE_OK, 2, 0, 45 },
	{ "\n", 0, POLICY_PARSE_OK, 0, 0, 1 },
	{ "a=1\n\nb=2\n\n", 0, POLICY_PARSE_OK, 1, 0, 5 },
	{ "a=1\nnot a line\nB=2\n=3\nc=\n\n", 0, POLICY_PARSE_OK, 2, 3, 0 },
	{ "a=x\0y\nb=2\n\n", 11, POLICY_PARSE_OK, 1, 1, 11 },
	{ "a=1\n", 0, POLICY_PARSE_NEED_MORE, 0, 0, 0 },
	{ "a=1", 0, POLICY_PARSE_NEED_MORE, 0, 0, 0 },
	{ "", 0, POLICY_PARSE_NEED_MORE, 0, 0, 0 },
};

static void test_parse_table(void **state)
{
	static struct policy_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->input_len != 0 ? c->input_len : strlen(c->input), consumed = 0;
		enum policy_parse_result got = policy_request_parse(c->input, len, &req, &consumed);

		if (got != c->want)
			fail_msg("case %zu: got %d want %d", i, got, c->want);
		if (got != POLICY_PARSE_OK)
			continue;
		if (req.count != c->want_count || req.malformed_lines != c->want_malformed ||
		    (c->want_consumed != 0 && consumed != c->want_consumed))
			fail_msg("case %zu: got %zu attributes, %zu malformed, consumed %zu", i,
				 req.count, req.malformed_lines, consumed);
	}
	assert_int_equal(policy_request_parse("a=1\nrecipient=x@y.z\n\n", 21, &req, &(size_t){ 0 }),
			 POLICY_PARSE_OK);
	assert_string_equal(policy_get(&req, "recipient"), "x@y.z");
	assert_null(policy_get(&req, "sender"));
}

static void test_bounds(void **state)
{
	static struct policy_request req;
	static char buf[POLICY_MAX_REQUEST * 2];
	size_t consumed, used = 0;

	(void)state;
	/* a line over POLICY_MAX_LINE, complete or not */
	memset(buf, 'x', POLICY_MAX_LINE + 10);
	buf[0] = 'a';
	buf[1] = '=';
	assert_int_equal(policy_request_parse(buf, POLICY_MAX_LINE + 10, &req, &consumed),
			 POLICY_PARSE_TOO_LARGE);
	/* more attributes than POLICY_MAX_ATTRIBUTES */
	for (int i = 0; i <= POLICY_MAX_ATTRIBUTES; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "a%d=1\n", i);
	buf[used++] = '\n';
	assert_int_equal(policy_request_parse(buf, used, &req, &consumed), POLICY_PARSE_TOO_LARGE);
}

static size_t decide_at(struct store_fixture *f, const struct mb_context *ctx, int64_t now,
			const char *request, char *reply, size_t size)
{
	static struct policy_request req;
	struct policy_scratch *scratch = policy_scratch_new();
	size_t consumed, len;

	assert_non_null(scratch);
	assert_int_equal(policy_request_parse(request, strlen(request), &req, &consumed), POLICY_PARSE_OK);
	if (!via_journal) {
		len = policy_decide(&req, ctx, f->store, scratch, now, reply, size);
		policy_scratch_free(&scratch);
		return len;
	}
	mb_state_journal_clear(&journal);
	for (int run = 0;; run++) {
		mb_state_journal_rewind(&journal);
		mb_store_set_journal(f->store, &journal);
		len = policy_decide(&req, ctx, f->store, scratch, now, reply, size);
		mb_store_set_journal(f->store, NULL);
		size_t sent = mb_state_journal_count(&journal, MB_STATE_OP_NEW);
		mb_state_journal_apply(&journal, f->store);
		if (!journal.blocked)
			break;
		if (sent == 0 || run > MB_JOURNAL_MAX_OPS)
			fail_msg("run %d stopped with nothing new to ask", run);
	}
	assert_null(mb_state_journal_failure(&journal));
	policy_scratch_free(&scratch);
	return len;
}

static size_t decide(struct store_fixture *f, const struct mb_context *ctx, const char *request,
		     char *reply, size_t size)
{
	return decide_at(f, ctx, 1700000000, request, reply, size);
}

static struct mb_context *context_from(const char *json)
{
	struct mb_context *ctx;
	char error[512];

	if (mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)) < 0)
		fail_msg("context: %s", error);
	return ctx;
}

/* expect - the reply to attributes at time now starts with want */
static void expect(struct store_fixture *f, const struct mb_context *ctx, int64_t now,
		   const char *attributes, const char *want)
{
	char request[1024], reply[POLICY_MAX_ACTION + 64];

	snprintf(request, sizeof(request), "request=smtpd_access_policy\n%s\n", attributes);
	size_t len = decide_at(f, ctx, now, request, reply, sizeof(reply));
	if (len < strlen(want) || strncmp(reply, want, strlen(want)) != 0)
		fail_msg("at %lld, %s: got '%.*s', want '%s...'", (long long)now, attributes,
			 (int)len, reply, want);
}

struct decide_case {
	const char *attributes;
	const char *want_prefix;
};

static const struct decide_case decide_cases[] = {
	{ "protocol_state=RCPT\nrecipient=small@example.org\nsize=2000\n", "action=552 5.3.4 Message too big for <small@example.org>" },
	{ "protocol_state=RCPT\nrecipient=SMALL+x@Example.org\nsize=2000\n", "action=552 5.3.4" },
	{ "protocol_state=RCPT\nrecipient=list@example.org\nsize=2000\n", "action=552 5.3.4" },
	{ "protocol_state=RCPT\nrecipient=nested@example.org\nsize=2000\n", "action=552 5.3.4" },
	{ "protocol_state=RCPT\nrecipient=anyone@example.org\nsize=2000\n", "action=552 5.3.4" },
	{ "protocol_state=RCPT\nrecipient=small@example.org\nsize=1000\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=big@example.org\nsize=2000\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=small@example.org\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=small@example.org\nsize=junk\n", "action=DUNNO\n\n" },
	{ "protocol_state=DATA\nrecipient=small@example.org\nsize=2000\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nsize=2000\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=ext@elsewhere.test\nsize=2000\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=broken@example.org\nsize=2000\n", "action=DEFER_IF_PERMIT 4.3.0" },
	/* sender login: the login owns itself and the aliases it receives */
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=small@example.org\nsender=small@example.org\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=Big@Example.ORG\nsender=list@example.org\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=big+tag@example.org\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=\nsender=small@example.org\n", "action=DUNNO\n\n" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=small@example.org\n", "action=553 5.7.1 Sender address <small@example.org> is not owned by login big@example.org" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=me@freemail.test\n", "action=553 5.7.1" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=stranger@example.org\n", "action=553 5.7.1" },
	{ "protocol_state=RCPT\nrecipient=x@elsewhere.test\nsasl_username=big@example.org\nsender=broken@example.org\n", "action=DEFER_IF_PERMIT 4.3.0" },
};

static void test_decide_table(void **state)
{
	struct store_fixture *f = *state;
	const char *list[] = { "big@example.org", "small@example.org" };
	const char *nested[] = { "list@example.org" };
	const char *catchall[] = { "nested@example.org" };
	struct mb_context *ctx;
	char error[512], reply[POLICY_MAX_ACTION + 64], request[512];

	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	struct mb_user user = { .max_message_bytes = 1500, .enabled = true };
	snprintf(user.address, sizeof(user.address), "small@example.org");
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/x";
	assert_int_equal(mb_store_user_add(f->store, &user, error, sizeof(error)), 0);
	fixture_add_user(f->store, "big@example.org", true);
	assert_int_equal(mb_store_alias_add(f->store, "list@example.org", list, 2, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "nested@example.org", nested, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "@example.org", catchall, 1, error, sizeof(error)), 0);
	/* a record the store cannot read: the answer must defer */
	fixture_damage_record(f, "users", "example.org/broken");

	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		snprintf(request, sizeof(request), "request=smtpd_access_policy\n%s\n", c->attributes);
		size_t len = decide(f, ctx, request, reply, sizeof(reply));
		if (len < strlen(c->want_prefix) || strncmp(reply, c->want_prefix, strlen(c->want_prefix)) != 0)
			fail_msg("case %zu: got '%.*s', want '%s...'", i, (int)len, reply, c->want_prefix);
	}
	/* switched off in the context: no size or sender refusals */
	ctx->checks.message_size = 0;
	ctx->checks.sender_login = 0;
	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		if (strstr(decide_cases[i].attributes, "broken@") != NULL)
			continue; /* the store failure defers whatever is switched on */
		snprintf(request, sizeof(request), "request=smtpd_access_policy\n%s\n",
			 decide_cases[i].attributes);
		decide(f, ctx, request, reply, sizeof(reply));
		if (strcmp(reply, "action=DUNNO\n\n") != 0)
			fail_msg("case %zu with checks off: got '%s'", i, reply);
	}
	mb_context_free(&ctx);
}

/* A shared address received by many users: its owner list is longer
   than a small buffer, and every one of them may still send as it. */
static void test_sender_login_with_a_large_alias(void **state)
{
	struct store_fixture *f = *state;
	static char names[300][64];
	const char *targets[300];
	struct mb_context *ctx;
	char error[512], reply[POLICY_MAX_ACTION + 64], request[512];

	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "member-with-a-long-name-%03d@example.org", i);
		fixture_add_user(f->store, names[i], true);
		targets[i] = names[i];
	}
	assert_int_equal(mb_store_alias_add(f->store, "everyone@example.org", targets, 300,
					    error, sizeof(error)), 0);
	snprintf(request, sizeof(request),
		 "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=x@elsewhere.test\n"
		 "sasl_username=%s\nsender=everyone@example.org\n\n", names[299]);
	decide(f, ctx, request, reply, sizeof(reply));
	assert_string_equal(reply, "action=DUNNO\n\n");
	mb_context_free(&ctx);
}

/* A user without limits of its own gets the domain's, else the
   context's; a change of the default applies at once. */
#define T0_LIMITS 1700000000
static void test_limits_from_domain_then_server(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from("{\"defaults\": {\"max_message_size\": \"3000\"}}");
	struct mb_user user = { .quota_bytes = MB_LIMIT_DEFAULT, .max_message_bytes = MB_LIMIT_DEFAULT,
				.enabled = true };
	struct mb_domain domain;
	struct mb_limits limits;
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	snprintf(user.address, sizeof(user.address), "dflt@example.org");
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/x";
	assert_int_equal(mb_store_user_add(f->store, &user, error, sizeof(error)), 0);
	fixture_add_user(f->store, "own@example.org", true); /* max message 0: none */
	const char *to_dflt = "protocol_state=RCPT\nrecipient=dflt@example.org\nsize=2000\n";
	const char *to_own = "protocol_state=RCPT\nrecipient=own@example.org\nsize=2000\n";

	/* the server's default, 3000 */
	expect(f, ctx, T0_LIMITS, to_dflt, "action=DUNNO");
	assert_int_equal(mb_store_domain_get(f->store, "example.org", &domain, error, sizeof(error)), 1);
	assert_true(domain.quota_bytes == MB_LIMIT_DEFAULT && domain.max_message_bytes == MB_LIMIT_DEFAULT);
	/* the domain's, 1000, takes over at once */
	domain.max_message_bytes = 1000;
	domain.quota_bytes = 5000;
	assert_int_equal(mb_store_domain_update(f->store, &domain, error, sizeof(error)), 0);
	expect(f, ctx, T0_LIMITS, to_dflt, "action=552 5.3.4 Message too big for <dflt@example.org>: 2000 bytes declared, the limit is 1000");
	expect(f, ctx, T0_LIMITS, to_own, "action=DUNNO");
	struct mb_user got;
	assert_int_equal(mb_store_user_get(f->store, "dflt@example.org", &got, error, sizeof(error)), 1);
	assert_true(got.quota_bytes == MB_LIMIT_DEFAULT);
	assert_int_equal(mb_user_limits(ctx, f->store, &got, &limits, error, sizeof(error)), 0);
	assert_int_equal(limits.quota_bytes, 5000);
	assert_int_equal(limits.quota_source, MB_LIMIT_FROM_DOMAIN);
	assert_int_equal(limits.max_message_bytes, 1000);
	/* the user's own limit wins over the domain's */
	got.max_message_bytes = 2500;
	assert_int_equal(mb_store_user_update(f->store, &got, error, sizeof(error)), 0);
	mb_user_clear(&got);
	expect(f, ctx, T0_LIMITS, to_dflt, "action=DUNNO");
	/* back to the server's */
	domain.max_message_bytes = MB_LIMIT_DEFAULT;
	domain.quota_bytes = MB_LIMIT_DEFAULT;
	assert_int_equal(mb_store_domain_update(f->store, &domain, error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_get(f->store, "dflt@example.org", &got, error, sizeof(error)), 1);
	assert_int_equal(mb_user_limits(ctx, f->store, &got, &limits, error, sizeof(error)), 0);
	assert_int_equal(limits.quota_source, MB_LIMIT_FROM_SERVER);
	assert_int_equal(limits.max_message_source, MB_LIMIT_FROM_USER);
	mb_user_clear(&got);
	/* a domain that is not there cannot be updated into being */
	snprintf(domain.name, sizeof(domain.name), "absent.example");
	assert_int_equal(mb_store_domain_update(f->store, &domain, error, sizeof(error)), -ENOENT);
	mb_context_free(&ctx);
}

#define T0 1700000000
#define FROM_CLIENT(ip, name) "protocol_state=RCPT\nclient_address=" ip "\nclient_name=" name "\n"

static void test_recipient_cap(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from("{\"checks\": {\"max_recipients_per_message\": 2}}");

	expect(f, ctx, T0, "protocol_state=RCPT\ninstance=a.1\nrecipient=x@y.test\n", "action=DUNNO");
	expect(f, ctx, T0, "protocol_state=RCPT\ninstance=a.1\nrecipient=z@y.test\n", "action=DUNNO");
	expect(f, ctx, T0, "protocol_state=RCPT\ninstance=a.1\nrecipient=w@y.test\n",
	       "action=452 4.5.3 Too many recipients for one message (at most 2)");
	expect(f, ctx, T0, "protocol_state=RCPT\ninstance=b.2\nrecipient=w@y.test\n", "action=DUNNO");
	mb_context_free(&ctx);
}

static void test_greylisting(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from(
		"{\"checks\": {\"sender_login\": false},"
		" \"greylisting\": {\"enabled\": true, \"delay\": 300, \"retry_window\": 3600,"
		" \"auto_allow_after\": 0, \"allowlist\": [\"192.0.2.0/24\", \"relay.example\"]}}");
	const char *triplet = FROM_CLIENT("198.51.100.7", "mx.sender.example")
		"sender=Ann@Sender.example\nrecipient=bob@example.org\n";

	expect(f, ctx, T0, triplet, "action=DEFER_IF_PERMIT 4.7.1 Greylisted: this server delays first mail from new senders; please try again in 300 seconds");
	expect(f, ctx, T0 + 100, triplet, "action=DEFER_IF_PERMIT 4.7.1 Greylisted: this server delays first mail from new senders; please try again in 200 seconds");
	/* the retry may come from another host of the same /24, and in
	   other letter case */
	expect(f, ctx, T0 + 300, FROM_CLIENT("198.51.100.99", "mx2.sender.example")
	       "sender=ann@sender.example\nrecipient=BOB@example.org\n", "action=DUNNO");
	/* known now, for its lifetime, well past the retry window */
	expect(f, ctx, T0 + 30 * 86400, triplet, "action=DUNNO");
	/* another recipient, another sender, another network: new triplets */
	expect(f, ctx, T0 + 400, FROM_CLIENT("198.51.100.7", "mx.sender.example")
	       "sender=ann@sender.example\nrecipient=carol@example.org\n", "action=DEFER_IF_PERMIT 4.7.1 Greylisted");
	expect(f, ctx, T0 + 400, FROM_CLIENT("198.51.100.7", "mx.sender.example")
	       "sender=\nrecipient=bob@example.org\n", "action=DEFER_IF_PERMIT 4.7.1 Greylisted");
	expect(f, ctx, T0 + 400, FROM_CLIENT("203.0.113.7", "mx.sender.example")
	       "sender=ann@sender.example\nrecipient=bob@example.org\n", "action=DEFER_IF_PERMIT 4.7.1 Greylisted");
	/* a first attempt not retried within the window is forgotten */
	const char *late = FROM_CLIENT("198.51.100.7", "mx.sender.example")
		"sender=dave@sender.example\nrecipient=bob@example.org\n";
	expect(f, ctx, T0, late, "action=DEFER_IF_PERMIT 4.7.1 Greylisted");
	expect(f, ctx, T0 + 3601, late, "action=DEFER_IF_PERMIT 4.7.1 Greylisted: this server delays first mail from new senders; please try again in 300 seconds");
	/* exempt: authenticated clients, allowlisted networks and names */
	expect(f, ctx, T0, "protocol_state=RCPT\nclient_address=198.51.100.7\nsasl_username=ann@example.org\n"
	       "sender=ann@example.org\nrecipient=x@y.test\n", "action=DUNNO");
	expect(f, ctx, T0, FROM_CLIENT("192.0.2.200", "unknown") "sender=a@b.test\nrecipient=bob@example.org\n",
	       "action=DUNNO");
	expect(f, ctx, T0, FROM_CLIENT("203.0.113.5", "out-1.Relay.example") "sender=a@b.test\nrecipient=bob@example.org\n",
	       "action=DUNNO");
	expect(f, ctx, T0, FROM_CLIENT("203.0.113.5", "relay.example") "sender=a@b.test\nrecipient=bob@example.org\n",
	       "action=DUNNO");
	expect(f, ctx, T0, FROM_CLIENT("203.0.113.5", "evilrelay.example") "sender=a@b.test\nrecipient=bob@example.org\n",
	       "action=DEFER_IF_PERMIT 4.7.1 Greylisted");
	mb_context_free(&ctx);
}

static void test_greylisting_auto_allow(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from(
		"{\"greylisting\": {\"enabled\": true, \"delay\": 60, \"auto_allow_after\": 2}}");
	const char *first = FROM_CLIENT("198.51.100.7", "mx") "sender=a@s.test\nrecipient=r1@example.org\n";
	const char *second = FROM_CLIENT("198.51.100.8", "mx") "sender=b@s.test\nrecipient=r2@example.org\n";

	expect(f, ctx, T0, first, "action=DEFER_IF_PERMIT");
	expect(f, ctx, T0, second, "action=DEFER_IF_PERMIT");
	expect(f, ctx, T0 + 60, first, "action=DUNNO");
	/* one passed retry is not enough yet */
	expect(f, ctx, T0 + 61, FROM_CLIENT("198.51.100.9", "mx") "sender=c@s.test\nrecipient=r3@example.org\n",
	       "action=DEFER_IF_PERMIT");
	expect(f, ctx, T0 + 70, second, "action=DUNNO");
	/* two: the whole /24 now passes with triplets never seen */
	expect(f, ctx, T0 + 71, FROM_CLIENT("198.51.100.10", "mx") "sender=d@s.test\nrecipient=r4@example.org\n",
	       "action=DUNNO");
	expect(f, ctx, T0 + 71, FROM_CLIENT("198.51.101.10", "mx") "sender=d@s.test\nrecipient=r4@example.org\n",
	       "action=DEFER_IF_PERMIT");
	mb_context_free(&ctx);
}

static void test_rate_limit_recipients(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from(
		"{\"rate_limits\": ["
		" {\"name\": \"ip-hourly\", \"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"hour\", \"limit\": 2},"
		" {\"name\": \"net-minute\", \"key\": \"client_network\", \"count\": \"recipients\", \"per\": \"minute\", \"limit\": 1}]}");
	const char *rcpt = "protocol_state=RCPT\nclient_address=198.51.100.7\nrecipient=r@example.org\n";
	int64_t hour = T0 - T0 % 3600;

	expect(f, ctx, hour, rcpt, "action=DUNNO");
	/* the per-minute limit refuses; the hourly one must not count it */
	expect(f, ctx, hour + 1, rcpt,
	       "action=450 4.7.1 Rate limit \"net-minute\" reached for 198.51.100.0/24: 1 recipients per minute; try again in 59 seconds");
	expect(f, ctx, hour + 60, rcpt, "action=DUNNO");
	expect(f, ctx, hour + 120, rcpt,
	       "action=450 4.7.1 Rate limit \"ip-hourly\" reached for 198.51.100.7: 2 recipients per hour; try again in 3480 seconds");
	/* another address of the network: its own hourly count, shared minute */
	expect(f, ctx, hour + 180, "protocol_state=RCPT\nclient_address=198.51.100.8\nrecipient=r@example.org\n",
	       "action=DUNNO");
	expect(f, ctx, hour + 181, "protocol_state=RCPT\nclient_address=198.51.100.9\nrecipient=r@example.org\n",
	       "action=450 4.7.1 Rate limit \"net-minute\"");
	/* the next hour starts afresh */
	expect(f, ctx, hour + 3600, rcpt, "action=DUNNO");
	mb_context_free(&ctx);
}

static void test_rate_limit_messages(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from(
		"{\"checks\": {\"sender_login\": false},"
		" \"rate_limits\": [{\"key\": \"sasl_username\", \"count\": \"messages\", \"per\": \"day\", \"limit\": 2},"
		" {\"key\": \"sender_domain\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 100}]}");
	const char *rcpt = "protocol_state=RCPT\nsasl_username=Ann@example.org\nsender=ann@example.org\nrecipient=r@x.test\n";
	const char *eom = "protocol_state=END-OF-MESSAGE\nsasl_username=ann@example.org\nsender=ann@example.org\nrecipient=\n";
	int64_t day = T0 - T0 % 86400;

	for (int message = 0; message < 2; message++) {
		/* many recipients of one message count once */
		expect(f, ctx, day + 10, rcpt, "action=DUNNO");
		expect(f, ctx, day + 10, rcpt, "action=DUNNO");
		expect(f, ctx, day + 10, rcpt, "action=DUNNO");
		expect(f, ctx, day + 11, eom, "action=DUNNO");
	}
	expect(f, ctx, day + 20, rcpt,
	       "action=450 4.7.1 Rate limit \"sasl_username-messages-per-day\" reached for ann@example.org: 2 messages per day; try again in 86380 seconds");
	/* unauthenticated, or the null sender: the limit does not apply */
	expect(f, ctx, day + 20, "protocol_state=RCPT\nsender=ann@example.org\nrecipient=r@x.test\n", "action=DUNNO");
	expect(f, ctx, day + 20, "protocol_state=RCPT\nsasl_username=bob@example.org\nsender=\nrecipient=r@x.test\n",
	       "action=DUNNO");
	expect(f, ctx, day + 86400, rcpt, "action=DUNNO");
	mb_context_free(&ctx);
}

static void test_quota_at_rcpt(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = context_from("{}");
	const char *team[] = { "roomy@example.org", "full@example.org" };
	char error[256];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	fixture_add_user(f->store, "full@example.org", true);  /* quota 1000 */
	fixture_add_user(f->store, "roomy@example.org", true); /* quota 1000 */
	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", team, 2, error, sizeof(error)), 0);
	/* nothing reported yet: Dovecot alone enforces */
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=full@example.org\n", "action=DUNNO");
	assert_int_equal(mb_state_put(f->store, "usage/full@example.org", "1000 3", T0 + 999, error, sizeof(error)), 0);
	assert_int_equal(mb_state_put(f->store, "usage/roomy@example.org", "900 3", T0 + 999, error, sizeof(error)), 0);
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=full@example.org\n",
	       "action=452 4.2.2 Mailbox of <full@example.org> is full");
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=Full+tag@Example.org\n", "action=452 4.2.2");
	/* an alias reaching a full mailbox is refused as a whole */
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=team@example.org\n",
	       "action=452 4.2.2 Mailbox of <team@example.org> is full");
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=roomy@example.org\nsize=100\n", "action=DUNNO");
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=roomy@example.org\nsize=101\n",
	       "action=452 4.2.2 Mailbox of <roomy@example.org> has no room for 101 bytes");
	ctx->checks.quota = 0;
	expect(f, ctx, T0, "protocol_state=RCPT\nrecipient=full@example.org\n", "action=DUNNO");
	mb_context_free(&ctx);
}

#define VIA_JOURNAL(name) \
	static void name##_via_journal(void **state) \
	{ \
		via_journal = true; \
		name(state); \
		via_journal = false; \
		mb_state_journal_free(&journal); \
	}
VIA_JOURNAL(test_recipient_cap)
VIA_JOURNAL(test_quota_at_rcpt)
VIA_JOURNAL(test_greylisting)
VIA_JOURNAL(test_greylisting_auto_allow)
VIA_JOURNAL(test_rate_limit_recipients)
VIA_JOURNAL(test_rate_limit_messages)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test_setup_teardown(test_decide_table, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_sender_login_with_a_large_alias, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_limits_from_domain_then_server, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_limits_from_domain_then_server, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_recipient_cap, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quota_at_rcpt, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_greylisting, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_greylisting_auto_allow, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_recipients, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_messages, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_recipient_cap_via_journal, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quota_at_rcpt_via_journal, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_greylisting_via_journal, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_greylisting_auto_allow_via_journal, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_recipients_via_journal, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_messages_via_journal, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
