/* test-network.c - CIDR parsing, membership and client networks */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "network.h"

static void test_parse_accepts_and_refuses(void **state)
{
	static const struct { const char *text; int ok; const char *why; } cases[] = {
		{ "192.0.2.0/24", 1, NULL },
		{ "192.0.2.7", 1, NULL },
		{ "0.0.0.0/0", 1, NULL },
		{ "2001:db8::/32", 1, NULL },
		{ "::1", 1, NULL },
		{ "192.0.2.7/24", 0, "host bits" },
		{ "192.0.2.0/33", 0, "0 to 32" },
		{ "2001:db8::/129", 0, "0 to 128" },
		{ "192.0.2.0/", 0, "prefix" },
		{ "192.0.2.0/+8", 0, "prefix" },
		{ "192.0.2.0/24x", 0, "prefix" },
		{ "/24", 0, "not an IP" },
		{ "", 0, "not an IP" },
		{ "example.org", 0, "not an IP" },
		{ "192.0.2", 0, "not an IP" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mb_network net;
		const char *error = NULL;
		int ret = mb_network_parse(cases[i].text, &net, &error);
		if (cases[i].ok) {
			assert_int_equal(ret, 0);
		} else {
			if (ret != -1)
				fail_msg("'%s' was accepted", cases[i].text);
			assert_non_null(strstr(error, cases[i].why));
		}
	}
}

static void test_contains(void **state)
{
	struct mb_network net;
	const char *error;

	(void)state;
	assert_int_equal(mb_network_parse("192.0.2.0/24", &net, &error), 0);
	assert_true(mb_network_contains(&net, "192.0.2.200"));
	assert_true(mb_network_contains(&net, "::ffff:192.0.2.1")); /* mapped */
	assert_false(mb_network_contains(&net, "192.0.3.1"));
	assert_false(mb_network_contains(&net, "2001:db8::1"));
	assert_false(mb_network_contains(&net, "unknown"));
	assert_int_equal(mb_network_parse("2001:db8:1::/48", &net, &error), 0);
	assert_true(mb_network_contains(&net, "2001:db8:1:ffff::9"));
	assert_false(mb_network_contains(&net, "2001:db8:2::9"));
	assert_int_equal(mb_network_parse("0.0.0.0/0", &net, &error), 0);
	assert_true(mb_network_contains(&net, "203.0.113.9"));
	assert_int_equal(mb_network_parse("198.51.100.7", &net, &error), 0);
	assert_true(mb_network_contains(&net, "198.51.100.7"));
	assert_false(mb_network_contains(&net, "198.51.100.8"));
}

static void test_widen(void **state)
{
	static const struct {
		const char *address;
		unsigned int prefix;
		const char *inside, *outside;
	} cases[] = {
		{ "192.0.2.7", 24, "192.0.2.200", "192.0.3.7" },
		{ "192.0.2.7", 0, "203.0.113.9", "2001:db8::1" },
		{ "192.0.2.7", 40, "192.0.2.7", "192.0.2.8" },    /* past /32: as it is */
		{ "192.0.2.0/24", 30, "192.0.2.200", "192.0.3.1" }, /* never narrowed */
		{ "2001:db8:aa:bb::1", 64, "2001:db8:aa:bb:ffff::9", "2001:db8:aa:bc::1" },
		{ "2001:db8:aa:bb::1", 33, "2001:db8:7fff::1", "2001:db8:8000::1" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mb_network net;
		const char *error;
		assert_int_equal(mb_network_parse(cases[i].address, &net, &error), 0);
		mb_network_widen(&net, cases[i].prefix);
		if (!mb_network_contains(&net, cases[i].inside) || mb_network_contains(&net, cases[i].outside))
			fail_msg("%s widened to /%u: got %s in %d, %s in %d; want 1, 0", cases[i].address,
				 cases[i].prefix, cases[i].inside, mb_network_contains(&net, cases[i].inside),
				 cases[i].outside, mb_network_contains(&net, cases[i].outside));
	}
}

static void test_client_network(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(mb_client_network("198.51.100.77", out, sizeof(out)), 0);
	assert_string_equal(out, "198.51.100.0/24");
	assert_int_equal(mb_client_network("::ffff:198.51.100.77", out, sizeof(out)), 0);
	assert_string_equal(out, "198.51.100.0/24");
	assert_int_equal(mb_client_network("2001:db8:aa:bb:cc::1", out, sizeof(out)), 0);
	assert_string_equal(out, "2001:db8:aa:bb::/64");
	assert_int_equal(mb_client_network("unknown", out, sizeof(out)), -1);
	assert_int_equal(mb_client_network("198.51.100.77", out, 8), -1); /* too small */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_and_refuses),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_widen),
		cmocka_unit_test(test_client_network),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
