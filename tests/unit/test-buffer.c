/* test-buffer.c - the bounded output buffer (lib/buffer.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "buffer.h"

static void append_ok(struct mb_buffer *b, const char *text)
{
	struct mb_error_text error;

	if (mb_buffer_append(b, text, strlen(text), &error) < 0)
		fail_msg("append '%s': %s", text, error.text);
}

static void assert_pending(const struct mb_buffer *b, const char *want)
{
	size_t len = mb_buffer_length(b);

	if (len != strlen(want) || memcmp(mb_buffer_pending(b), want, len) != 0)
		fail_msg("pending '%.*s', want '%s'", (int)len, mb_buffer_pending(b), want);
}

static void test_empty_allocates_nothing(void **state)
{
	(void)state;
	struct mb_buffer b;
	struct mb_error_text error;

	mb_buffer_init(&b, 100);
	assert_int_equal(mb_buffer_length(&b), 0);
	assert_non_null(mb_buffer_pending(&b));
	assert_int_equal(mb_buffer_append(&b, "", 0, &error), 0);
	assert_null(b.data);
	mb_buffer_free(&b);
}

static void test_appends_in_order_and_consumes_from_the_front(void **state)
{
	(void)state;
	struct mb_buffer b;

	mb_buffer_init(&b, 100);
	append_ok(&b, "250 ok\r\n");
	append_ok(&b, "221 bye\r\n");
	assert_pending(&b, "250 ok\r\n221 bye\r\n");
	assert_int_equal(b.capacity, 4096); /* the first allocation */
	mb_buffer_consume(&b, 4);
	assert_pending(&b, "ok\r\n221 bye\r\n");
	mb_buffer_consume(&b, 4);
	assert_pending(&b, "221 bye\r\n");
	/* all of it: the buffer starts over at its beginning */
	mb_buffer_consume(&b, 9);
	assert_int_equal(mb_buffer_length(&b), 0);
	assert_int_equal(b.start, 0);
	assert_int_equal(b.end, 0);
	/* more than is pending is all of it */
	append_ok(&b, "x");
	mb_buffer_consume(&b, 10);
	assert_int_equal(mb_buffer_length(&b), 0);
	mb_buffer_free(&b);
	assert_null(b.data);
	assert_int_equal(b.capacity, 0);
}

static void test_the_limit_counts_pending_bytes(void **state)
{
	(void)state;
	struct mb_buffer b;
	struct mb_error_text error;

	mb_buffer_init(&b, 10);
	append_ok(&b, "0123456789"); /* exactly the limit */
	errno = 0;
	assert_int_equal(mb_buffer_append(&b, "a", 1, &error), -1);
	assert_int_equal(errno, EMSGSIZE);
	if (strstr(error.text, "over the limit of 10") == NULL)
		fail_msg("error '%s' does not name the limit", error.text);
	assert_pending(&b, "0123456789"); /* unchanged by the failure */
	/* consumed bytes no longer count */
	mb_buffer_consume(&b, 3);
	append_ok(&b, "abc");
	assert_pending(&b, "3456789abc");
	/* an append is all or nothing */
	mb_buffer_consume(&b, 1);
	assert_int_equal(mb_buffer_append(&b, "xy", 2, &error), -1);
	assert_pending(&b, "456789abc");
	mb_buffer_free(&b);
}

static void test_a_large_append_is_refused_whole(void **state)
{
	(void)state;
	struct mb_buffer b;
	struct mb_error_text error;
	static char big[64 * 1024];

	mb_buffer_init(&b, sizeof(big) - 1);
	assert_int_equal(mb_buffer_append(&b, big, sizeof(big), &error), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_null(b.data);
	assert_int_equal(mb_buffer_append(&b, big, sizeof(big) - 1, &error), 0);
	assert_int_equal(mb_buffer_length(&b), sizeof(big) - 1);
	assert_int_equal(b.capacity, 64 * 1024); /* doubled from 4 KB */
	mb_buffer_free(&b);
}

static void test_appending_compacts_before_growing(void **state)
{
	(void)state;
	struct mb_buffer b;
	char chunk[3000];
	struct mb_error_text error;

	memset(chunk, 'a', sizeof(chunk));
	mb_buffer_init(&b, 1 << 20);
	assert_int_equal(mb_buffer_append(&b, chunk, sizeof(chunk), &error), 0);
	mb_buffer_consume(&b, 2000);
	/* 1000 pending + 3000 fits in 4096 once the consumed bytes go */
	memset(chunk, 'b', sizeof(chunk));
	assert_int_equal(mb_buffer_append(&b, chunk, sizeof(chunk), &error), 0);
	assert_int_equal(b.capacity, 4096);
	assert_int_equal(b.start, 0);
	assert_int_equal(mb_buffer_length(&b), 4000);
	const char *p = mb_buffer_pending(&b);
	assert_int_equal(p[0], 'a');
	assert_int_equal(p[999], 'a');
	assert_int_equal(p[1000], 'b');
	assert_int_equal(p[3999], 'b');
	/* and grows when compacting is not enough */
	assert_int_equal(mb_buffer_append(&b, chunk, 200, &error), 0);
	assert_int_equal(b.capacity, 8192);
	assert_int_equal(mb_buffer_length(&b), 4200);
	mb_buffer_free(&b);
}

static void test_compact_and_clear(void **state)
{
	(void)state;
	struct mb_buffer b;

	mb_buffer_init(&b, 100);
	append_ok(&b, "hello world");
	mb_buffer_consume(&b, 6);
	mb_buffer_compact(&b);
	assert_int_equal(b.start, 0);
	assert_pending(&b, "world");
	mb_buffer_compact(&b); /* nothing to move */
	assert_pending(&b, "world");
	size_t capacity = b.capacity;
	mb_buffer_clear(&b);
	assert_int_equal(mb_buffer_length(&b), 0);
	assert_int_equal(b.capacity, capacity); /* the memory stays */
	append_ok(&b, "again");
	assert_pending(&b, "again");
	mb_buffer_free(&b);
	/* a freed buffer is usable again, with its limit */
	append_ok(&b, "after free");
	assert_pending(&b, "after free");
	mb_buffer_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_allocates_nothing),
		cmocka_unit_test(test_appends_in_order_and_consumes_from_the_front),
		cmocka_unit_test(test_the_limit_counts_pending_bytes),
		cmocka_unit_test(test_a_large_append_is_refused_whole),
		cmocka_unit_test(test_appending_compacts_before_growing),
		cmocka_unit_test(test_compact_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
