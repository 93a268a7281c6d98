/* test-netstring.c - the netstring parser, table-driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "netstring.h"

struct netstring_case {
	const char *input;
	size_t max;
	enum mb_netstring_result want;
	const char *want_payload;
	size_t want_consumed;
};

static const struct netstring_case cases[] = {
	{ "5:hello,", 100, MB_NETSTRING_OK, "hello", 8 },
	{ "0:,", 100, MB_NETSTRING_OK, "", 3 },
	{ "5:hello,3:abc,", 100, MB_NETSTRING_OK, "hello", 8 },
	{ "", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
	{ "5", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
	{ "5:", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
	{ "5:hell", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
	{ "5:hello", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
	{ "5:hello;", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ ":hello,", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "x:hello,", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "5x", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "05:hello,", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "-5:hello,", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "1234567890:", 100, MB_NETSTRING_MALFORMED, NULL, 0 },
	{ "101:", 100, MB_NETSTRING_TOO_LONG, NULL, 0 },
	{ "999999999", 100, MB_NETSTRING_TOO_LONG, NULL, 0 },
	{ "100", 100, MB_NETSTRING_NEED_MORE, NULL, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct netstring_case *c = &cases[i];
		const char *payload = NULL;
		size_t payload_len = 0, consumed = 0;
		enum mb_netstring_result got =
			mb_netstring_parse(c->input, strlen(c->input), c->max,
					   &payload, &payload_len, &consumed);
		if (got != c->want)
			fail_msg("case %zu '%s': got result %d, want %d", i, c->input, got, c->want);
		if (c->want != MB_NETSTRING_OK)
			continue;
		if (payload_len != strlen(c->want_payload) ||
		    memcmp(payload, c->want_payload, payload_len) != 0 ||
		    consumed != c->want_consumed)
			fail_msg("case %zu '%s': got payload '%.*s' consumed %zu", i, c->input,
				 (int)payload_len, payload, consumed);
	}
}

static void test_format(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(mb_netstring_format(out, sizeof(out), "OK a@b.c", 8), 11);
	assert_memory_equal(out, "8:OK a@b.c,", 11);
	assert_int_equal(mb_netstring_format(out, 5, "hello", 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
