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

/* Targets nothing receives are left out of an alias's answer, so Postfix
   refuses at RCPT what it would otherwise accept and bounce (issue 16). */
static const struct answer_case dangling_cases[] = {
	/* missing, disabled and domain-alias targets nobody receives go;
	   outside, +detail and domain-alias targets somebody receives stay */
	{ "virtual_alias_maps mixed@nocatch.example",
	  "OK zed@nocatch.example,ext@elsewhere.test,zed+tag@nocatch.example,ann@alias.example,team@alias.example" },
	/* an alias left with no target is as if it did not exist */
	{ "virtual_alias_maps dead@nocatch.example", "NOTFOUND " },
	{ "virtual_alias_maps dead+x@nocatch.example", "NOTFOUND " },
	{ "virtual_alias_maps chain@nocatch.example", "NOTFOUND " },
	{ "virtual_alias_maps outer@nocatch.example", "OK zed@nocatch.example" },
	{ "virtual_alias_maps loop1@nocatch.example", "NOTFOUND " },
	{ "virtual_mailbox_maps dead@nocatch.example", "NOTFOUND " },
	/* ... where a catch-all takes what the alias no longer does */
	{ "virtual_alias_maps offonly@example.org", "OK bob@example.org" },
	/* a target only the catch-all receives is not bounced: kept */
	{ "virtual_alias_maps viacatch@example.org", "OK nobody@example.org" },
	/* a catch-all whose targets are gone catches nothing */
	{ "virtual_alias_maps anyone@gone.example", "NOTFOUND " },
	/* a domain alias onto an alias with no live target */
	{ "virtual_alias_maps dead@alias2.example", "NOTFOUND " },
	{ "virtual_alias_maps zed@alias2.example", "OK zed@nocatch.example" },
	/* too wide to resolve within the bound: a named PERM, not a stall */
	{ "virtual_alias_maps big@nocatch.example", "PERM aliases expand too far: more than 20000 lookups" },
};

static void add_alias(struct mb_store *store, const char *source, const char **targets, size_t count)
{
	char error[512];

	if (mb_store_alias_add(store, source, targets, count, error, sizeof(error)) != 0)
		fail_msg("alias %s: %s", source, error);
}

static void test_dangling_targets_are_left_out(void **state)
{
	struct store_fixture *f = *state;
	static char reply[SOCKETMAP_MAX_REPLY];
	static char names[1000][40];
	const char *many[1000];
	char error[512];

	setup_data(f);
	assert_int_equal(mb_store_domain_add(f->store, "gone.example", error, sizeof(error)), 0);
	fixture_add_user(f->store, "off@nocatch.example", false);
	add_alias(f->store, "mixed@nocatch.example", (const char *[]){ "zed@nocatch.example",
		  "gone@nocatch.example", "off@nocatch.example", "ext@elsewhere.test",
		  "zed+tag@nocatch.example", "ghost@alias.example", "ann@alias.example",
		  "team@alias.example" }, 8);
	add_alias(f->store, "dead@nocatch.example", (const char *[]){ "gone@nocatch.example",
		  "off@nocatch.example", "off+x@nocatch.example" }, 3);
	add_alias(f->store, "chain@nocatch.example", (const char *[]){ "dead@nocatch.example" }, 1);
	add_alias(f->store, "outer@nocatch.example", (const char *[]){ "chain@nocatch.example",
		  "zed@nocatch.example" }, 2);
	add_alias(f->store, "loop1@nocatch.example", (const char *[]){ "loop2@nocatch.example" }, 1);
	add_alias(f->store, "loop2@nocatch.example", (const char *[]){ "loop1@nocatch.example" }, 1);
	add_alias(f->store, "offonly@example.org", (const char *[]){ "dis@example.org" }, 1);
	add_alias(f->store, "viacatch@example.org", (const char *[]){ "nobody@example.org" }, 1);
	add_alias(f->store, "@gone.example", (const char *[]){ "left@gone.example" }, 1);
	add_alias(f->store, "@alias2.example", (const char *[]){ "@nocatch.example" }, 1);
	for (size_t i = 0; i < 1000; i++) {
		snprintf(names[i], sizeof(names[i]), "m%zu@nocatch.example", i);
		many[i] = names[i];
	}
	for (size_t i = 0; i < 10; i++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "sub%zu@nocatch.example", i);
		add_alias(f->store, sub, many, 1000);
	}
	add_alias(f->store, "big@nocatch.example", (const char *[]){ "sub0@nocatch.example",
		  "sub1@nocatch.example", "sub2@nocatch.example", "sub3@nocatch.example",
		  "sub4@nocatch.example", "sub5@nocatch.example", "sub6@nocatch.example",
		  "sub7@nocatch.example", "sub8@nocatch.example", "sub9@nocatch.example" }, 10);

	for (size_t i = 0; i < sizeof(dangling_cases) / sizeof(dangling_cases[0]); i++) {
		const struct answer_case *c = &dangling_cases[i];
		size_t len = socketmap_answer(f->store, "+", c->request, strlen(c->request),
					      reply, sizeof(reply));
		if (len != strlen(c->want) || memcmp(reply, c->want, len) != 0)
			fail_msg("case %zu '%s': got '%.*s', want '%s'", i, c->request,
				 (int)len, reply, c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_no_delimiter_means_exact, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reply_overflow_is_perm, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dangling_targets_are_left_out, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
