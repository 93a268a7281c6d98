/* test-user-cache.c - decoded records kept while the store is unchanged,
   and every change (from another handle, as another process makes it)
   seen at the next lookup */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "context.h"
#include "store-fixture.h"
#include "user-cache.h"

static void add_user(struct store_fixture *f, const char *address, const char *hash, uint64_t quota)
{
	struct mb_user user = { .quota_bytes = quota, .max_message_bytes = MB_LIMIT_DEFAULT, .enabled = true };
	char error[512];

	snprintf(user.address, sizeof(user.address), "%s", address);
	user.password_hash = (char *)hash;
	user.home = (char *)"/var/vmail/example.org/x";
	if (mb_store_user_add(f->store, &user, error, sizeof(error)) != 0)
		fail_msg("%s", error);
}

static struct mb_user_cache *new_cache(size_t slots)
{
	struct mb_user_cache *cache;
	struct mb_error_text error;

	if (mb_user_cache_create(slots, &cache, &error) < 0)
		fail_msg("%s", error.text);
	return cache;
}

static void test_changes_show_at_the_next_lookup(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *reader;
	struct mb_user_cache *cache = new_cache(16);
	const struct mb_user *user, *again;
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	add_user(f, "ann@example.org", "{SHA512-CRYPT}$6$old", MB_LIMIT_DEFAULT);
	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &reader, error, sizeof(error)), 0);
	assert_int_equal(mb_user_cache_get(cache, reader, "ann@example.org", &user, error, sizeof(error)), 1);
	assert_string_equal(user->password_hash, "{SHA512-CRYPT}$6$old");
	assert_true(user->enabled);
	/* unchanged: the very same decoded record */
	assert_int_equal(mb_user_cache_get(cache, reader, "ann@example.org", &again, error, sizeof(error)), 1);
	assert_ptr_equal(again, user);
	assert_ptr_equal(again->password_hash, user->password_hash);

	struct mb_user changed;
	assert_int_equal(mb_store_user_get(f->store, "ann@example.org", &changed, error, sizeof(error)), 1);
	free(changed.password_hash);
	changed.password_hash = strdup("{SHA512-CRYPT}$6$new");
	changed.enabled = false;
	assert_int_equal(mb_store_user_update(f->store, &changed, error, sizeof(error)), 0);
	mb_user_clear(&changed);
	assert_int_equal(mb_user_cache_get(cache, reader, "ann@example.org", &user, error, sizeof(error)), 1);
	assert_string_equal(user->password_hash, "{SHA512-CRYPT}$6$new");
	assert_false(user->enabled);

	assert_int_equal(mb_store_user_del(f->store, "ann@example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_user_cache_get(cache, reader, "ann@example.org", &user, error, sizeof(error)), 0);
	assert_null(user);
	mb_user_cache_free(&cache);
	mb_store_close(&reader);
}

/* more users than slots: each lookup still answers for the right user */
static void test_colliding_users_answer_for_themselves(void **state)
{
	struct store_fixture *f = *state;
	struct mb_user_cache *cache = new_cache(2);
	const struct mb_user *user;
	char error[512], address[64];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(address, sizeof(address), "u%d@example.org", i);
		add_user(f, address, "{SHA512-CRYPT}$6$x", (uint64_t)i);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 10; i++) {
			snprintf(address, sizeof(address), "u%d@example.org", i);
			assert_int_equal(mb_user_cache_get(cache, f->store, address, &user, error, sizeof(error)), 1);
			assert_string_equal(user->address, address);
			assert_int_equal(user->quota_bytes, (uint64_t)i);
		}
	}
	mb_user_cache_free(&cache);
}

static void test_domain_limits_follow_the_domain(void **state)
{
	struct store_fixture *f = *state;
	struct mb_user_cache *cache = new_cache(16);
	const struct mb_user *user;
	struct mb_limits limits;
	struct mb_context *ctx;
	char error[512];

	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	struct mb_domain domain = { .quota_bytes = 1000, .max_message_bytes = MB_LIMIT_DEFAULT };
	snprintf(domain.name, sizeof(domain.name), "example.org");
	assert_int_equal(mb_store_domain_create(f->store, &domain, error, sizeof(error)), 0);
	add_user(f, "ann@example.org", "{SHA512-CRYPT}$6$x", MB_LIMIT_DEFAULT);
	assert_int_equal(mb_user_cache_get(cache, f->store, "ann@example.org", &user, error, sizeof(error)), 1);
	assert_int_equal(mb_user_cache_limits(cache, ctx, f->store, user, &limits, error, sizeof(error)), 0);
	assert_int_equal(limits.quota_bytes, 1000);
	domain.quota_bytes = 2000;
	assert_int_equal(mb_store_domain_update(f->store, &domain, error, sizeof(error)), 0);
	assert_int_equal(mb_user_cache_get(cache, f->store, "ann@example.org", &user, error, sizeof(error)), 1);
	assert_int_equal(mb_user_cache_limits(cache, ctx, f->store, user, &limits, error, sizeof(error)), 0);
	assert_int_equal(limits.quota_bytes, 2000);
	mb_context_free(&ctx);
	mb_user_cache_free(&cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changes_show_at_the_next_lookup, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_colliding_users_answer_for_themselves, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_domain_limits_follow_the_domain, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
