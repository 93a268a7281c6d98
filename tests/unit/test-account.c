/* test-account.c - mb_mailbox_admit, the one mailbox-admission rule, on both stores */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "account.h"
#include "context.h"
#include "store-fixture.h"

#define NOT_REPORTED UINT64_MAX /* no usage in the store for this case */

struct admit_case {
	const char *name;
	bool check_size, check_quota;  /* checks.message_size, checks.quota */
	uint64_t quota, max_message;   /* the user's own limits */
	uint64_t used;                 /* reported usage, or NOT_REPORTED */
	uint64_t size;                 /* declared; 0 none */
	enum mb_admission want;
	uint64_t want_limit, want_used;
};

static const struct admit_case admit_cases[] = {
	{ "fits", true, true, 1000, 500, 400, 300, MB_ADMIT_FITS, 0, 0 },
	{ "fits at both limits exactly", true, true, 1000, 500, 500, 500, MB_ADMIT_FITS, 0, 0 },
	{ "no size declared, nearly full", true, true, 1000, 500, 999, 0, MB_ADMIT_FITS, 0, 0 },
	{ "nothing reported: Dovecot enforces", true, true, 1000, 500, NOT_REPORTED, 500, MB_ADMIT_FITS, 0, 0 },
	{ "no limits at all", true, true, 0, 0, 5000, 1000000, MB_ADMIT_FITS, 0, 0 },
	{ "too big", true, true, 1000, 500, 0, 501, MB_ADMIT_TOO_BIG, 500, 0 },
	{ "too big is judged before full", true, true, 1000, 500, 1000, 501, MB_ADMIT_TOO_BIG, 500, 0 },
	{ "full", true, true, 1000, 500, 1000, 0, MB_ADMIT_FULL, 1000, 1000 },
	{ "over full", true, true, 1000, 500, 1200, 10, MB_ADMIT_FULL, 1000, 1200 },
	{ "no room", true, true, 1000, 500, 600, 401, MB_ADMIT_NO_ROOM, 1000, 600 },
	{ "no room for a size that would wrap", true, true, 1000, 0, 10, UINT64_MAX - 5,
	  MB_ADMIT_NO_ROOM, 1000, 10 },
	/* negative controls: the same inputs as refusals above, their check off */
	{ "too big, message_size off", false, true, 1000, 500, 0, 501, MB_ADMIT_FITS, 0, 0 },
	{ "full, quota off", true, false, 1000, 500, 1000, 0, MB_ADMIT_FITS, 0, 0 },
	{ "no room, quota off", true, false, 1000, 500, 600, 401, MB_ADMIT_FITS, 0, 0 },
	{ "both off", false, false, 1000, 500, 1200, 501, MB_ADMIT_FITS, 0, 0 },
};

static struct mb_context *context_from(const char *json)
{
	struct mb_context *ctx;
	char error[512];

	if (mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)) < 0)
		fail_msg("context: %s", error);
	return ctx;
}

/* case_user - a user with limits of its own, not in the store: the rule
   reads only its domain (when it leaves a limit to it) and its usage */
static struct mb_user case_user(size_t i, uint64_t quota, uint64_t max_message)
{
	struct mb_user user = { .quota_bytes = quota, .max_message_bytes = max_message, .enabled = true };

	snprintf(user.address, sizeof(user.address), "case%zu@example.org", i);
	return user;
}

static void test_admit_table(void **state)
{
	struct store_fixture *f = *state;
	/* the real time: Redis expires a report by its own clock */
	int64_t now = (int64_t)time(NULL);
	struct mb_context *ctx = context_from("{}");
	char error[512];

	for (size_t i = 0; i < sizeof(admit_cases) / sizeof(admit_cases[0]); i++) {
		const struct admit_case *c = &admit_cases[i];
		struct mb_user user = case_user(i, c->quota, c->max_message);
		struct mb_admission_detail detail;

		if (c->used != NOT_REPORTED)
			assert_int_equal(mb_usage_put(f->store, user.address, c->used, 1, now + 3600,
						      error, sizeof(error)), 0);
		ctx->checks.message_size = c->check_size;
		ctx->checks.quota = c->check_quota;
		error[0] = '\0';
		enum mb_admission got = mb_mailbox_admit(ctx, f->store, &user, c->size, now, &detail,
							 error, sizeof(error));
		if (got != c->want || detail.limit_bytes != c->want_limit || detail.used_bytes != c->want_used)
			fail_msg("%s: got %d (limit %llu, used %llu), want %d (limit %llu, used %llu); error '%s'",
				 c->name, got, (unsigned long long)detail.limit_bytes,
				 (unsigned long long)detail.used_bytes, c->want,
				 (unsigned long long)c->want_limit, (unsigned long long)c->want_used, error);
		if (detail.limits.quota_bytes != c->quota || detail.limits.quota_source != MB_LIMIT_FROM_USER)
			fail_msg("%s: limits in force: quota %llu from %s, want %llu from user", c->name,
				 (unsigned long long)detail.limits.quota_bytes,
				 mb_limit_source_name(detail.limits.quota_source), (unsigned long long)c->quota);
	}
	/* a detail is optional */
	struct mb_user user = case_user(100, 1000, 500);
	ctx->checks.message_size = ctx->checks.quota = 1;
	assert_int_equal(mb_usage_put(f->store, user.address, 1000, 1, now + 3600, error, sizeof(error)), 0);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 0, now, NULL, error, sizeof(error)),
			 MB_ADMIT_FULL);
	mb_context_free(&ctx);
}

/* Limits the user leaves to its domain, and to the server, judge the same way. */
static void test_admit_by_domain_and_server_limits(void **state)
{
	struct store_fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	struct mb_context *ctx = context_from("{\"defaults\": {\"quota\": \"2000\", \"max_message_size\": \"800\"}}");
	struct mb_user user = case_user(0, MB_LIMIT_DEFAULT, MB_LIMIT_DEFAULT);
	struct mb_admission_detail detail;
	struct mb_domain domain;
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_usage_put(f->store, user.address, 1500, 1, now + 3600, error, sizeof(error)), 0);
	/* the server's: 800 per message, 2000 in all */
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 500, now, &detail, error, sizeof(error)),
			 MB_ADMIT_FITS);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 801, now, &detail, error, sizeof(error)),
			 MB_ADMIT_TOO_BIG);
	assert_int_equal(detail.limit_bytes, 800);
	assert_int_equal(detail.limits.max_message_source, MB_LIMIT_FROM_SERVER);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 501, now, &detail, error, sizeof(error)),
			 MB_ADMIT_NO_ROOM);
	assert_int_equal(detail.limit_bytes, 2000);
	/* the domain's, 1500, takes over: now full */
	assert_int_equal(mb_store_domain_get(f->store, "example.org", &domain, error, sizeof(error)), 1);
	domain.quota_bytes = 1500;
	assert_int_equal(mb_store_domain_update(f->store, &domain, error, sizeof(error)), 0);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 0, now, &detail, error, sizeof(error)),
			 MB_ADMIT_FULL);
	assert_int_equal(detail.limit_bytes, 1500);
	assert_int_equal(detail.used_bytes, 1500);
	assert_int_equal(detail.limits.quota_source, MB_LIMIT_FROM_DOMAIN);
	mb_context_free(&ctx);
}

/* A domain record that cannot be read is a store failure, not a pass:
   the daemons answer 4xx. A user with limits of its own does not need
   the record (the negative control). */
static void test_admit_store_failure_domain(void **state)
{
	struct store_fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	struct mb_context *ctx = context_from("{}");
	struct mb_user leaves = case_user(0, MB_LIMIT_DEFAULT, MB_LIMIT_DEFAULT);
	struct mb_user own = case_user(1, 1000, 500);
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	fixture_damage_record(f, "domains", "example.org");
	error[0] = '\0';
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &leaves, 100, now, NULL, error, sizeof(error)),
			 MB_ADMIT_STORE_FAILED);
	assert_true(error[0] != '\0');
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &own, 100, now, NULL, error, sizeof(error)),
			 MB_ADMIT_FITS);
	mb_context_free(&ctx);
}

/* The usage cannot be read when Redis is down: a store failure when the
   quota is checked; with the quota check off the usage is not read. */
static void test_admit_store_failure_usage(void **state)
{
	struct store_fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	struct mb_context *ctx = context_from("{}");
	struct mb_user user = case_user(0, 1000, 500);
	char error[512];

	assert_int_equal(mb_usage_put(f->store, user.address, 100, 1, now + 3600, error, sizeof(error)), 0);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 100, now, NULL, error, sizeof(error)),
			 MB_ADMIT_FITS);
	fixture_stop_redis(f);
	error[0] = '\0';
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 100, now, NULL, error, sizeof(error)),
			 MB_ADMIT_STORE_FAILED);
	assert_non_null(strstr(error, "Redis"));
	ctx->checks.quota = 0;
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 100, now, NULL, error, sizeof(error)),
			 MB_ADMIT_FITS);
	assert_int_equal(mb_mailbox_admit(ctx, f->store, &user, 501, now, NULL, error, sizeof(error)),
			 MB_ADMIT_TOO_BIG);
	mb_context_free(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_admit_table, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_admit_table, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_admit_by_domain_and_server_limits, store_fixture_setup,
						store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_admit_by_domain_and_server_limits, store_fixture_setup_redis,
						store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_admit_store_failure_domain, store_fixture_setup,
						store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_admit_store_failure_usage, store_fixture_setup_redis,
						store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
