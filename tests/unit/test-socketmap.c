/* test-socketmap.c - what policyd answers Postfix, on a real LMDB store */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "socketmap.h"
#include "store-fixture.h"

struct answer_case {
	const char *request;
	const char *want;
};

static const struct answer_case cases[] = {
	{ "virtual_mailbox_domains example.org", "OK example.org" },
	{ "virtual_mailbox_domains EXAMPLE.ORG", "OK example.org" },
	{ "virtual_mailbox_domains alias.example", "NOTFOUND " },
	{ "virtual_mailbox_domains unknown.example", "NOTFOUND " },
	{ "virtual_alias_domains alias.example", "OK alias.example" },
	{ "virtual_alias_domains example.org", "NOTFOUND " },
	{ "virtual_mailbox_maps ann@example.org", "OK ann@example.org" },
	{ "virtual_mailbox_maps Ann@Example.org", "OK ann@example.org" },
	{ "virtual_mailbox_maps ann+tag@example.org", "OK ann+tag@example.org" },
	{ "virtual_mailbox_maps dis@example.org", "NOTFOUND " },
	{ "virtual_mailbox_maps team@example.org", "NOTFOUND " },
	{ "virtual_mailbox_maps @example.org", "NOTFOUND " },
	{ "virtual_alias_maps team@example.org", "OK ann@example.org,bob@example.org,ext@elsewhere.test" },
	{ "virtual_alias_maps team+x@example.org", "OK ann@example.org,bob@example.org,ext@elsewhere.test" },
	{ "virtual_alias_maps ann@example.org", "OK ann@example.org" },
	{ "virtual_alias_maps ann+tag@example.org", "OK ann+tag@example.org" },
	{ "virtual_alias_maps nobody@example.org", "OK bob@example.org" },
	{ "virtual_alias_maps dis@example.org", "OK bob@example.org" },
	{ "virtual_alias_maps nobody@nocatch.example", "NOTFOUND " },
	{ "virtual_alias_maps zed@nocatch.example", "OK zed@nocatch.example" },
	{ "virtual_alias_maps ann@alias.example", "OK ann@example.org" },
	{ "virtual_alias_maps ann+t@alias.example", "OK ann+t@example.org" },
	{ "virtual_alias_maps team@alias.example", "OK team@example.org" },
	{ "virtual_alias_maps ghost@alias.example", "NOTFOUND " },
	{ "virtual_alias_maps @example.org", "NOTFOUND " },
	{ "virtual_alias_maps ann", "NOTFOUND " },
	{ "smtpd_sender_login_maps ann@example.org", "OK ann@example.org" },
	{ "smtpd_sender_login_maps ann+x@example.org", "OK ann@example.org" },
	{ "smtpd_sender_login_maps team@example.org", "OK ann@example.org,bob@example.org" },
	{ "smtpd_sender_login_maps list@example.org", "OK ann@example.org" },
	{ "smtpd_sender_login_maps dis@example.org", "NOTFOUND " },
	{ "smtpd_sender_login_maps stranger@example.org", "NOTFOUND " },
	{ "nosuch_map x@example.org", "PERM unknown map name" },
	{ "virtual_mailbox_maps", "PERM expected 'mapname key'" },
	{ "virtual_mailbox_maps ", "PERM empty key" },
	{ "virtual_mailbox_maps a b@example.org", "PERM key has a space, control or non-ASCII byte" },
	{ "virtual_mailbox_maps a\x01@example.org", "PERM key has a space, control or non-ASCII byte" },
	{ "virtual_mailbox_maps broken@example.org", "TEMP store lookup failed: store record user 'broken@example.org' is damaged" },
};

static void setup_data(struct store_fixture *f)
{
	const char *team[] = { "ann@example.org", "bob@example.org", "ext@elsewhere.test" };
	const char *bob[] = { "bob@example.org" };
	const char *ann[] = { "ann@example.org" };
	const char *domain_target[] = { "@example.org" };
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "nocatch.example", error, sizeof(error)), 0);
	fixture_add_user(f->store, "ann@example.org", true);
	fixture_add_user(f->store, "bob@example.org", true);
	fixture_add_user(f->store, "dis@example.org", false);
	fixture_add_user(f->store, "zed@nocatch.example", true);
	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", team, 3, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "list@example.org", ann, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "@example.org", bob, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "@alias.example", domain_target, 1, error, sizeof(error)), 0);
	fixture_damage_record(f, "users", "example.org/broken");
}

static void test_answers(void **state)
{
	struct store_fixture *f = *state;
	static char reply[SOCKETMAP_MAX_REPLY];

	setup_data(f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct answer_case *c = &cases[i];
		size_t len = socketmap_answer(f->store, "+", c->request, strlen(c->request),
					      reply, sizeof(reply));
		if (len != strlen(c->want) || memcmp(reply, c->want, len) != 0)
			fail_msg("case %zu '%s': got '%.*s', want '%s'", i, c->request,
				 (int)len, reply, c->want);
	}
}

static void test_no_delimiter_means_exact(void **state)
{
	struct store_fixture *f = *state;
	char reply[256];
	const char *req = "virtual_mailbox_maps ann+tag@example.org";

	setup_data(f);
	size_t len = socketmap_answer(f->store, "", req, strlen(req), reply, sizeof(reply));
	assert_int_equal(len, 9);
	assert_memory_equal(reply, "NOTFOUND ", 9);
}

static void test_reply_overflow_is_perm(void **state)
{
	struct store_fixture *f = *state;
	char reply[40];
	const char *req = "virtual_alias_maps team@example.org";

	setup_data(f);
	size_t len = socketmap_answer(f->store, "+", req, strlen(req), reply, sizeof(reply));
	assert_true(len >= 5 && memcmp(reply, "PERM ", 5) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_no_delimiter_means_exact, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reply_overflow_is_perm, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
