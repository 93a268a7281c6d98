/* test-credential-cache.c - the verified-login cache: only a remembered
   (user, password, stored hash) matches, within its lifetime, in bounded space */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "credential-cache.h"

#define HASH "{SHA512-CRYPT}$6$salt$abc"
#define OTHER_HASH "{SHA512-CRYPT}$6$salt$def"

static struct mb_credential_cache *new_cache(size_t entries, int64_t lifetime)
{
	struct mb_credential_cache *cache;
	struct mb_error_text error;

	if (mb_credential_cache_create(entries, lifetime, &cache, &error) < 0)
		fail_msg("%s", error.text);
	return cache;
}

static void test_only_the_remembered_triple_hits(void **state)
{
	struct mb_credential_cache *cache = new_cache(64, 3600);

	(void)state;
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "right password", HASH, 1000));
	mb_credential_cache_remember(cache, "ann@example.org", "right password", HASH, 1000);
	assert_true(mb_credential_cache_hit(cache, "ann@example.org", "right password", HASH, 1001));
	/* a wrong password, a changed stored hash, another user */
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "wrong password", HASH, 1001));
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "right password", OTHER_HASH, 1001));
	assert_false(mb_credential_cache_hit(cache, "bob@example.org", "right password", HASH, 1001));
	/* parts cannot run into each other */
	mb_credential_cache_remember(cache, "a", "bc", HASH, 1000);
	assert_false(mb_credential_cache_hit(cache, "ab", "c", HASH, 1001));
	mb_credential_cache_free(&cache);
	assert_null(cache);
}

static void test_entries_expire(void **state)
{
	struct mb_credential_cache *cache = new_cache(64, 60);

	(void)state;
	mb_credential_cache_remember(cache, "ann@example.org", "pw", HASH, 1000);
	assert_true(mb_credential_cache_hit(cache, "ann@example.org", "pw", HASH, 1059));
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "pw", HASH, 1060));
	/* a clock stepped back before the verification: not trusted */
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "pw", HASH, 999));
	mb_credential_cache_free(&cache);
}

static void test_clear_forgets(void **state)
{
	struct mb_credential_cache *cache = new_cache(64, 60);

	(void)state;
	mb_credential_cache_remember(cache, "ann@example.org", "pw", HASH, 1000);
	mb_credential_cache_clear(cache);
	assert_false(mb_credential_cache_hit(cache, "ann@example.org", "pw", HASH, 1001));
	mb_credential_cache_free(&cache);
}

/* far more logins than entries: the space stays bounded, the newest are
   kept, the oldest make room */
static void test_bounded_keeps_the_newest(void **state)
{
	struct mb_credential_cache *cache = new_cache(16, 3600);
	char user[64];
	int newest_kept = 0;

	(void)state;
	assert_int_equal(mb_credential_cache_entries(cache), 16);
	for (int i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "u%d@example.org", i);
		mb_credential_cache_remember(cache, user, "pw", HASH, 1000 + i);
	}
	snprintf(user, sizeof(user), "u%d@example.org", 999);
	assert_true(mb_credential_cache_hit(cache, user, "pw", HASH, 2000));
	int kept = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(user, sizeof(user), "u%d@example.org", i);
		if (mb_credential_cache_hit(cache, user, "pw", HASH, 2000)) {
			kept++;
			if (i >= 990)
				newest_kept++;
		}
	}
	assert_true(kept <= 16);
	assert_true(newest_kept >= 1);
	mb_credential_cache_free(&cache);
}

static void test_refuses_an_empty_cache(void **state)
{
	struct mb_credential_cache *cache;
	struct mb_error_text error;

	(void)state;
	assert_int_equal(mb_credential_cache_create(0, 60, &cache, &error), -1);
	assert_null(cache);
	assert_int_equal(mb_credential_cache_create(8, 0, &cache, &error), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_the_remembered_triple_hits),
		cmocka_unit_test(test_entries_expire),
		cmocka_unit_test(test_clear_forgets),
		cmocka_unit_test(test_bounded_keeps_the_newest),
		cmocka_unit_test(test_refuses_an_empty_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
