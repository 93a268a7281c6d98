/* test-lockout.c - failed logins per address and account, on both stores */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "context.h"
#include "lockout.h"
#include "store-fixture.h"

static struct mb_context *settings(void)
{
	const char *json = "{\"auth\": {\"failures_per_ip\": 3, \"failures_per_account\": 5,"
			   " \"lockout\": 60, \"lockout_max\": 200}}";
	struct mb_context *ctx;
	char error[256];

	if (mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)) < 0)
		fail_msg("%s", error);
	return ctx;
}

static int locked(struct store_fixture *f, const struct mb_context *ctx, const char *ip,
		  const char *account, int64_t now)
{
	char why[128];
	int ret = mb_lockout_check(f->store, ctx, ip, account, now, why, sizeof(why));

	assert_true(ret >= 0);
	return ret;
}

static void fail_login(struct store_fixture *f, const struct mb_context *ctx, const char *ip,
		       const char *account, int64_t now)
{
	char error[256];

	if (mb_lockout_failed(f->store, ctx, ip, account, now, error, sizeof(error)) != 0)
		fail_msg("counting a failed login: %s", error);
}

/* real time: Redis expires keys on its own clock */
static void test_address_lockout_grows_and_ends(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = settings();
	int64_t t = (int64_t)time(NULL);
	char why[128];

	for (int i = 0; i < 2; i++)
		fail_login(f, ctx, "192.0.2.1", "", t);
	assert_int_equal(locked(f, ctx, "192.0.2.1", "ann@example.org", t), 0);
	fail_login(f, ctx, "192.0.2.1", "", t);
	assert_int_equal(mb_lockout_check(f->store, ctx, "192.0.2.1", "ann@example.org", t, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "3 failed logins from this address"));
	/* another address is not locked */
	assert_int_equal(locked(f, ctx, "192.0.2.2", "ann@example.org", t), 0);
	mb_context_free(&ctx);
}

static void test_lock_time_doubles_up_to_the_maximum(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = settings();
	int64_t t = 1700000000;

	/* LMDB only (fixed clock): 3 failures lock for 60 s, the 4th for
	   120 s, the 5th for 200 s (the maximum), all from the last failure */
	for (int i = 0; i < 3; i++)
		fail_login(f, ctx, "198.51.100.9", "", t);
	assert_int_equal(locked(f, ctx, "198.51.100.9", "", t + 59), 1);
	assert_int_equal(locked(f, ctx, "198.51.100.9", "", t + 60), 0);
	for (int i = 0; i < 3; i++)
		fail_login(f, ctx, "198.51.100.10", "", t);
	fail_login(f, ctx, "198.51.100.10", "", t);
	assert_int_equal(locked(f, ctx, "198.51.100.10", "", t + 119), 1);
	assert_int_equal(locked(f, ctx, "198.51.100.10", "", t + 120), 0);
	for (int i = 0; i < 10; i++)
		fail_login(f, ctx, "198.51.100.11", "", t);
	assert_int_equal(locked(f, ctx, "198.51.100.11", "", t + 199), 1);
	assert_int_equal(locked(f, ctx, "198.51.100.11", "", t + 200), 0);
	mb_context_free(&ctx);
}

static void test_account_count_and_reset(void **state)
{
	struct store_fixture *f = *state;
	struct mb_context *ctx = settings();
	int64_t t = (int64_t)time(NULL);
	char error[256];

	/* failures from many addresses add up on the account */
	for (int i = 0; i < 4; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		fail_login(f, ctx, ip, "bob@example.org", t);
	}
	assert_int_equal(locked(f, ctx, "203.0.113.99", "bob@example.org", t), 0);
	/* a success starts the account's count again */
	assert_int_equal(mb_lockout_succeeded(f->store, ctx, "bob@example.org", t, error, sizeof(error)), 0);
	fail_login(f, ctx, "203.0.113.50", "bob@example.org", t);
	assert_int_equal(locked(f, ctx, "203.0.113.51", "bob@example.org", t), 0);
	for (int i = 0; i < 4; i++)
		fail_login(f, ctx, "203.0.113.60", "bob@example.org", t);
	/* five on the account now (and four on .60: over its 3) */
	assert_int_equal(locked(f, ctx, "203.0.113.61", "bob@example.org", t), 1);
	assert_int_equal(locked(f, ctx, "203.0.113.61", "carol@example.org", t), 0);
	/* thresholds of 0 switch the counts off */
	ctx->auth.failures_per_ip = 0;
	ctx->auth.failures_per_account = 0;
	assert_int_equal(locked(f, ctx, "203.0.113.60", "bob@example.org", t), 0);
	mb_context_free(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_address_lockout_grows_and_ends, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_lock_time_doubles_up_to_the_maximum, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_account_count_and_reset, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_address_lockout_grows_and_ends, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_account_count_and_reset, store_fixture_setup_redis, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
