/* test-redis-cache.c - the Redis backend's read cache (lib/redis-cache.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "redis-cache.h"

static void test_values_and_absences_are_kept_per_table(void **state)
{
	(void)state;
	struct mb_redis_cache *cache = mb_redis_cache_new(100);
	const char *value;
	size_t len;

	assert_non_null(cache);
	assert_int_equal(mb_redis_cache_get(cache, 1, "d/a", &value, &len), -1);
	assert_int_equal(mb_redis_cache_put(cache, 1, 0, "d/a", "{\"x\":1}", 7), 0);
	assert_int_equal(mb_redis_cache_put(cache, 1, 0, "d/none", NULL, 0), 0);
	assert_int_equal(mb_redis_cache_get(cache, 1, "d/a", &value, &len), 1);
	assert_int_equal(len, 7);
	assert_string_equal(value, "{\"x\":1}");
	assert_int_equal(mb_redis_cache_get(cache, 1, "d/none", &value, &len), 0);
	/* another table has its own keys */
	assert_int_equal(mb_redis_cache_get(cache, 2, "d/a", &value, &len), -1);
	/* a second put replaces */
	assert_int_equal(mb_redis_cache_put(cache, 1, 0, "d/a", "new", 3), 0);
	assert_int_equal(mb_redis_cache_get(cache, 1, "d/a", &value, &len), 1);
	assert_string_equal(value, "new");
	assert_int_equal(mb_redis_cache_count(cache), 2);
	/* out of range tables are never cached */
	assert_int_equal(mb_redis_cache_put(cache, MB_REDIS_CACHE_TABLES, 0, "k", "v", 1), -1);
	assert_int_equal(mb_redis_cache_get(cache, MB_REDIS_CACHE_TABLES, "k", &value, &len), -1);
	mb_redis_cache_free(&cache);
	assert_null(cache);
}

static void test_a_drop_forgets_one_table_and_refuses_older_reads(void **state)
{
	(void)state;
	struct mb_redis_cache *cache = mb_redis_cache_new(100);
	const char *value;
	size_t len;

	mb_redis_cache_put(cache, 0, 0, "a.example", "{}", 2);
	mb_redis_cache_put(cache, 1, 0, "a.example/u", "{}", 2);
	uint64_t before = mb_redis_cache_generation(cache, 1);
	mb_redis_cache_drop(cache, 1);
	assert_int_equal(mb_redis_cache_get(cache, 1, "a.example/u", &value, &len), -1);
	assert_int_equal(mb_redis_cache_get(cache, 0, "a.example", &value, &len), 1);
	/* a reply to a read sent before the drop is not kept */
	assert_int_equal(mb_redis_cache_put(cache, 1, before, "a.example/u", "old", 3), -1);
	assert_int_equal(mb_redis_cache_get(cache, 1, "a.example/u", &value, &len), -1);
	assert_int_equal(mb_redis_cache_put(cache, 1, mb_redis_cache_generation(cache, 1), "a.example/u",
					    "now", 3), 0);
	mb_redis_cache_drop_all(cache);
	assert_int_equal(mb_redis_cache_count(cache), 0);
	assert_int_equal(mb_redis_cache_get(cache, 0, "a.example", &value, &len), -1);
	mb_redis_cache_free(&cache);
}

static void test_the_bound_is_kept(void **state)
{
	(void)state;
	struct mb_redis_cache *cache = mb_redis_cache_new(10);
	char key[32];
	const char *value;
	size_t len;

	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(mb_redis_cache_put(cache, 1, 0, key, key, strlen(key)), 0);
		assert_true(mb_redis_cache_count(cache) <= 10);
	}
	/* the last one put is always there */
	assert_int_equal(mb_redis_cache_get(cache, 1, "k24", &value, &len), 1);
	assert_string_equal(value, "k24");
	assert_null(mb_redis_cache_new(0));
	mb_redis_cache_free(&cache);
}

static void test_a_table_held_whole_answers_absences(void **state)
{
	(void)state;
	struct mb_redis_cache *cache = mb_redis_cache_new(10);
	const char *value;
	size_t len;

	assert_int_equal(mb_redis_cache_whole(cache, 0), 0);
	assert_int_equal(mb_redis_cache_room(cache), 10);
	uint64_t generation = mb_redis_cache_generation(cache, 0);
	mb_redis_cache_put(cache, 0, generation, "a.example", "{}", 2);
	mb_redis_cache_mark_whole(cache, 0, generation, true);
	assert_int_equal(mb_redis_cache_whole(cache, 0), 1);
	assert_int_equal(mb_redis_cache_get(cache, 0, "never.example", &value, &len), 0);
	assert_int_equal(mb_redis_cache_get(cache, 1, "never.example", &value, &len), -1);
	/* a change drops it: no longer whole, and worth loading again */
	mb_redis_cache_drop(cache, 0);
	assert_int_equal(mb_redis_cache_whole(cache, 0), 0);
	assert_int_equal(mb_redis_cache_get(cache, 0, "never.example", &value, &len), -1);
	/* a load that a change overtook marks nothing */
	mb_redis_cache_mark_whole(cache, 0, generation, true);
	assert_int_equal(mb_redis_cache_whole(cache, 0), 0);
	/* too big: remembered until the next change */
	mb_redis_cache_mark_whole(cache, 1, mb_redis_cache_generation(cache, 1), false);
	assert_int_equal(mb_redis_cache_whole(cache, 1), -1);
	mb_redis_cache_drop(cache, 1);
	assert_int_equal(mb_redis_cache_whole(cache, 1), 0);
	/* the bound's eviction empties a whole table: no longer whole */
	generation = mb_redis_cache_generation(cache, 2);
	mb_redis_cache_put(cache, 2, generation, "x", "1", 1);
	mb_redis_cache_mark_whole(cache, 2, generation, true);
	for (int i = 0; i < 12; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		mb_redis_cache_put(cache, 1, mb_redis_cache_generation(cache, 1), key, "v", 1);
	}
	assert_int_equal(mb_redis_cache_whole(cache, 2), 0);
	assert_int_equal(mb_redis_cache_get(cache, 2, "never", &value, &len), -1);
	mb_redis_cache_free(&cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_absences_are_kept_per_table),
		cmocka_unit_test(test_a_drop_forgets_one_table_and_refuses_older_reads),
		cmocka_unit_test(test_the_bound_is_kept),
		cmocka_unit_test(test_a_table_held_whole_answers_absences),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
