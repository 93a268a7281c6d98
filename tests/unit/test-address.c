/* test-address.c - address parsing and normalisation, table-driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "address.h"

struct address_case {
	const char *input;
	const char *delimiters;
	const char *want_local;  /* NULL: must be refused */
	const char *want_detail;
	const char *want_domain;
	const char *want_error;  /* substring of the error when refused */
};

static const struct address_case cases[] = {
	{ "john@example.org", "+", "john", "", "example.org", NULL },
	{ "John.Smith@Example.ORG", "+", "john.smith", "", "example.org", NULL },
	{ "john+lists@example.org", "+", "john", "lists", "example.org", NULL },
	{ "john-lists@example.org", "+-", "john", "lists", "example.org", NULL },
	{ "john+lists@example.org", "", "john+lists", "", "example.org", NULL },
	{ "john+a+b@example.org", "+", "john", "a+b", "example.org", NULL },
	{ "o'brien@ex-ample.co.uk", "+", "o'brien", "", "ex-ample.co.uk", NULL },
	{ "noat.example.org", "+", NULL, NULL, NULL, "needs an '@'" },
	{ "a@b@example.org", "+", NULL, NULL, NULL, "exactly one '@'" },
	{ "@example.org", "+", NULL, NULL, NULL, "empty" },
	{ "john@", "+", NULL, NULL, NULL, "empty" },
	{ "john@localhost", "+", NULL, NULL, NULL, "no dot" },
	{ "john@exa mple.org", "+", NULL, NULL, NULL, "only letters" },
	{ "john@-example.org", "+", NULL, NULL, NULL, "starts with '-'" },
	{ "john@example-.org", "+", NULL, NULL, NULL, "ends with '-'" },
	{ "john@example..org", "+", NULL, NULL, NULL, "empty label" },
	{ "john@example.org.", "+", NULL, NULL, NULL, "ends with a dot" },
	{ ".john@example.org", "+", NULL, NULL, NULL, "starts or ends with a dot" },
	{ "jo..hn@example.org", "+", NULL, NULL, NULL, "two dots" },
	{ "\"john\"@example.org", "+", NULL, NULL, NULL, "quoted" },
	{ "jo hn@example.org", "+", NULL, NULL, NULL, "not allowed" },
	{ "jo\nhn@example.org", "+", NULL, NULL, NULL, "not allowed" },
	{ "+tag@example.org", "+", NULL, NULL, NULL, "delimiter" },
	/* found by fuzz-address: the base would end with a dot */
	{ "o.+JhnTa4@Exgpla.O", "+", NULL, NULL, NULL, "ends with a dot" },
	{ "<john@example.org>", "+", NULL, NULL, NULL, "not allowed" },
	{ "j\xc3\xa9@example.org", "+", NULL, NULL, NULL, "non-ASCII" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", "+",
	  NULL, NULL, NULL, "longer than 64" },
};

static void test_address_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct address_case *c = &cases[i];
		struct mb_address addr;
		const char *error = NULL;
		int ret = mb_address_parse(c->input, c->delimiters, &addr, &error);

		if (c->want_local == NULL) {
			if (ret != -1 || error == NULL || strstr(error, c->want_error) == NULL)
				fail_msg("case %zu '%s': want error containing '%s', got ret %d error '%s'",
					 i, c->input, c->want_error, ret, error != NULL ? error : "(none)");
			continue;
		}
		if (ret != 0)
			fail_msg("case %zu '%s': want success, got '%s'", i, c->input, error);
		if (strcmp(addr.local, c->want_local) != 0 || strcmp(addr.detail, c->want_detail) != 0 ||
		    strcmp(addr.domain, c->want_domain) != 0)
			fail_msg("case %zu '%s': got %s + %s @ %s, want %s + %s @ %s", i, c->input,
				 addr.local, addr.detail, addr.domain,
				 c->want_local, c->want_detail, c->want_domain);
		assert_int_equal(addr.has_detail, c->want_detail[0] != '\0');
	}
}

static void test_long_domain_refused(void **state)
{
	char address[400];
	struct mb_address addr;
	const char *error;

	(void)state;
	memset(address, 'a', sizeof(address));
	address[0] = 'x';
	address[1] = '@';
	for (size_t i = 60; i < 300; i += 60)
		address[i] = '.';
	address[300] = '\0';
	assert_int_equal(mb_address_parse(address, "+", &addr, &error), -1);
	assert_non_null(strstr(error, "253"));
}

static void test_format_round_trip(void **state)
{
	struct mb_address addr;
	const char *error;
	char buf[MB_ADDRESS_MAX + 1];

	(void)state;
	assert_int_equal(mb_address_parse("Bob+x@Mail.Example.ORG", "+", &addr, &error), 0);
	mb_address_format(&addr, buf, sizeof(buf));
	assert_string_equal(buf, "bob@mail.example.org");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_table),
		cmocka_unit_test(test_long_domain_refused),
		cmocka_unit_test(test_format_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
