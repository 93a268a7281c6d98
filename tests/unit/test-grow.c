/* test-grow.c - the growable-array step (lib/grow.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

static void test_starts_at_first_and_doubles(void **state)
{
	(void)state;
	int *items = NULL;
	size_t capacity = 0;

	items = mb_grow(items, &capacity, 1, sizeof(*items), 4);
	assert_non_null(items);
	assert_int_equal(capacity, 4);
	for (int i = 0; i < 4; i++)
		items[i] = i;
	int *grown = mb_grow(items, &capacity, 5, sizeof(*items), 4);
	assert_non_null(grown);
	assert_int_equal(capacity, 8);
	for (int i = 0; i < 4; i++)
		assert_int_equal(grown[i], i);
	free(grown);
}

static void test_enough_room_returns_the_same_array(void **state)
{
	(void)state;
	size_t capacity = 0;
	char *bytes = mb_grow(NULL, &capacity, 3, 1, 0);

	assert_non_null(bytes);
	assert_int_equal(capacity, 8);
	assert_ptr_equal(mb_grow(bytes, &capacity, 8, 1, 0), bytes);
	assert_int_equal(capacity, 8);
	free(bytes);
}

static void test_jumps_to_a_large_need(void **state)
{
	(void)state;
	size_t capacity = 0;
	char *bytes = mb_grow(NULL, &capacity, 1000, 1, 16);

	assert_non_null(bytes);
	assert_int_equal(capacity, 1024);
	free(bytes);
}

static void test_overflow_leaves_the_array(void **state)
{
	(void)state;
	size_t capacity = 0;
	uint64_t *items = mb_grow(NULL, &capacity, 2, sizeof(*items), 0);

	assert_non_null(items);
	items[0] = 42;
	errno = 0;
	assert_null(mb_grow(items, &capacity, SIZE_MAX / 4, sizeof(*items), 0));
	assert_int_equal(errno, EOVERFLOW);
	assert_int_equal(capacity, 8);
	assert_int_equal(items[0], 42);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_at_first_and_doubles),
		cmocka_unit_test(test_enough_room_returns_the_same_array),
		cmocka_unit_test(test_jumps_to_a_large_need),
		cmocka_unit_test(test_overflow_leaves_the_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
