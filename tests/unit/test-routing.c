/* test-routing.c - global aliases, relay domains and relay networks:
 * the store's records, the route's order and policyd's map answers, on a
 * real LMDB store */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "socketmap.h"
#include "store-fixture.h"

struct answer_case {
	const char *request;
	const char *want;
};

static const char postmaster_default[][MB_ADDRESS_MAX + 1] = { "pm@example.org" };

static const struct answer_case cases[] = {
	/* a global alias at every served domain, mailbox or alias domain */
	{ "virtual_alias_maps abuse@example.org", "OK ann@example.org" },
	{ "virtual_alias_maps abuse@other.example", "OK ann@example.org" },
	{ "virtual_alias_maps abuse+x@other.example", "OK ann@example.org" },
	{ "virtual_alias_maps abuse@alias.example", "OK ann@example.org" },
	/* ... never at a domain not served here */
	{ "virtual_alias_maps abuse@elsewhere.test", "NOTFOUND " },
	/* a domain's own alias or user comes first */
	{ "virtual_alias_maps abuse@own.example", "OK own@own.example" },
	{ "virtual_alias_maps hostmaster@own.example", "OK hostmaster@own.example" },
	/* before the catch-all, which takes the rest */
	{ "virtual_alias_maps anything@example.org", "OK bob@example.org" },
	/* postmaster: the context's default when there is no alias at all */
	{ "virtual_alias_maps postmaster@other.example", "OK pm@example.org" },
	{ "virtual_alias_maps postmaster@own.example", "OK own@own.example" },
	/* a global alias whose only target is gone is as if it did not exist */
	{ "virtual_alias_maps gone@other.example", "NOTFOUND " },
	/* the routing records' namespace is never an address */
	{ "virtual_alias_maps abuse@*", "NOTFOUND " },
	{ "virtual_alias_maps backup.example@*relay-to", "NOTFOUND " },
	/* relay domains */
	{ "relay_domains backup.example", "OK backup.example" },
	{ "relay_domains listed.example", "OK listed.example" },
	{ "relay_domains example.org", "NOTFOUND " },
	{ "relay_domains sub.backup.example", "NOTFOUND " },
	{ "relay_domains x@backup.example", "NOTFOUND " },
	{ "relay_recipient_maps anyone@backup.example", "OK anyone@backup.example" },
	{ "relay_recipient_maps ok@listed.example", "OK ok@listed.example" },
	{ "relay_recipient_maps ok+tag@listed.example", "OK ok+tag@listed.example" },
	{ "relay_recipient_maps nope@listed.example", "NOTFOUND " },
	{ "relay_recipient_maps @listed.example", "NOTFOUND " },
	{ "relay_recipient_maps ann@example.org", "NOTFOUND " },
	{ "transport_maps anyone@backup.example", "OK relay:[127.0.0.1]:2525" },
	{ "transport_maps backup.example", "OK relay:[127.0.0.1]:2525" },
	{ "transport_maps ok@listed.example", "NOTFOUND " },
	{ "transport_maps ann@example.org", "NOTFOUND " },
	/* relay networks */
	{ "relay_from_hosts 10.1.2.3", "OK OK" },
	{ "relay_from_hosts 192.0.2.7", "OK OK" },
	{ "relay_from_hosts 192.0.2.8", "NOTFOUND " },
	{ "relay_from_hosts 2001:db8::5", "OK OK" },
	{ "relay_from_hosts 2001:db9::5", "NOTFOUND " },
	{ "relay_from_hosts 10.1.2.3.evil.example", "NOTFOUND " },
	{ "relay_from_hosts unknown", "NOTFOUND " },
};

static void setup_data(struct store_fixture *f)
{
	const char *ann[] = { "ann@example.org" }, *bob[] = { "bob@example.org" };
	const char *own[] = { "own@own.example" }, *gone[] = { "gone@own.example" };
	const char *domain_target[] = { "@example.org" };
	const char *listed[] = { "ok@listed.example" };
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "other.example", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "own.example", error, sizeof(error)), 0);
	fixture_add_user(f->store, "ann@example.org", true);
	fixture_add_user(f->store, "bob@example.org", true);
	fixture_add_user(f->store, "pm@example.org", true);
	fixture_add_user(f->store, "own@own.example", true);
	fixture_add_user(f->store, "hostmaster@own.example", true);
	assert_int_equal(mb_store_alias_add(f->store, "@example.org", bob, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "@alias.example", domain_target, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "abuse@own.example", own, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "postmaster@own.example", own, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_global_alias_add(f->store, "abuse", ann, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_global_alias_add(f->store, "hostmaster", ann, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_global_alias_add(f->store, "gone", gone, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_add(f->store, "backup.example", NULL, 0, "127.0.0.1:2525",
						   error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_add(f->store, "listed.example", listed, 1, NULL,
						   error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_network_add(f->store, "10.0.0.0/8", error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_network_add(f->store, "192.0.2.7", error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_network_add(f->store, "2001:db8::/32", error, sizeof(error)), 0);
	mb_store_set_postmaster(f->store, postmaster_default, 1);
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

static void test_no_postmaster_default(void **state)
{
	struct store_fixture *f = *state;
	char reply[256];
	const char *req = "virtual_alias_maps postmaster@other.example";

	setup_data(f);
	mb_store_set_postmaster(f->store, NULL, 0);
	size_t len = socketmap_answer(f->store, "+", req, strlen(req), reply, sizeof(reply));
	assert_int_equal(len, 9);
	assert_memory_equal(reply, "NOTFOUND ", 9);
}

/* changes refused, each naming what it refused */
static void test_refusals(void **state)
{
	struct store_fixture *f = *state;
	const char *stranger[] = { "x@other.example" }, *nobody[] = { "nobody@listed.example" };
	char error[512];

	setup_data(f);
	assert_int_equal(mb_store_relay_domain_add(f->store, "example.org", NULL, 0, NULL, error, sizeof(error)), -EEXIST);
	assert_non_null(strstr(error, "example.org is a mailbox domain"));
	assert_int_equal(mb_store_relay_domain_add(f->store, "alias.example", NULL, 0, NULL, error, sizeof(error)), -EEXIST);
	assert_non_null(strstr(error, "alias.example is a domain alias"));
	assert_int_equal(mb_store_domain_add(f->store, "backup.example", error, sizeof(error)), -EEXIST);
	assert_non_null(strstr(error, "backup.example is a relay domain"));
	assert_int_equal(mb_store_relay_domain_add(f->store, "listed.example", stranger, 1, NULL, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "x@other.example"));
	assert_int_equal(mb_store_relay_domain_add(f->store, "Bad_Domain", NULL, 0, NULL, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "Bad_Domain"));
	assert_int_equal(mb_store_relay_domain_add(f->store, "new.example", NULL, 0, "[::1", error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "[::1"));
	assert_int_equal(mb_store_relay_domain_del(f->store, "listed.example", nobody, 1, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, "nobody@listed.example"));
	assert_int_equal(mb_store_relay_domain_del(f->store, "never.example", NULL, 0, error, sizeof(error)), -ENOENT);
	assert_int_equal(mb_store_relay_network_add(f->store, "10.0.0.1/8", error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "10.0.0.1/8"));
	assert_int_equal(mb_store_relay_network_add(f->store, "not-a-net", error, sizeof(error)), -EINVAL);
	assert_int_equal(mb_store_relay_network_del(f->store, "172.16.0.0/12", error, sizeof(error)), -ENOENT);
	assert_int_equal(mb_store_global_alias_add(f->store, "a@b", stranger, 1, error, sizeof(error)), -EINVAL);
	assert_int_equal(mb_store_global_alias_del(f->store, "nosuch", NULL, 0, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, "nosuch"));
}

/* a second add changes nothing; del takes a recipient, then the domain */
static void test_records_round_trip(void **state)
{
	struct store_fixture *f = *state;
	const char *two[] = { "ok@listed.example", "more@listed.example" }, *one[] = { "ok@listed.example" };
	struct mb_relay_domain relay;
	struct mb_alias nets;
	char error[512];

	setup_data(f);
	assert_int_equal(mb_store_relay_domain_add(f->store, "listed.example", two, 2, "mx.primary.example",
						   error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_add(f->store, "listed.example", two, 2, NULL, error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_get(f->store, "listed.example", &relay, error, sizeof(error)), 1);
	assert_int_equal(relay.recipient_count, 2);
	assert_string_equal(relay.next_hop, "[mx.primary.example]:25");
	assert_true(mb_relay_domain_accepts(&relay, "more@listed.example"));
	assert_false(mb_relay_domain_accepts(&relay, "less@listed.example"));
	mb_relay_domain_clear(&relay);
	assert_int_equal(mb_store_relay_domain_del(f->store, "listed.example", one, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_get(f->store, "listed.example", &relay, error, sizeof(error)), 1);
	assert_int_equal(relay.recipient_count, 1);
	assert_string_equal(relay.recipients[0], "more@listed.example");
	mb_relay_domain_clear(&relay);
	assert_int_equal(mb_store_relay_domain_del(f->store, "listed.example", NULL, 0, error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_domain_get(f->store, "listed.example", &relay, error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_network_add(f->store, "10.0.0.0/8", error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_networks_get(f->store, &nets, error, sizeof(error)), 1);
	assert_int_equal(nets.target_count, 3);
	mb_alias_clear(&nets);
	assert_int_equal(mb_store_relay_network_del(f->store, "192.0.2.7", error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_from(f->store, "192.0.2.7", error, sizeof(error)), 0);
	assert_int_equal(mb_store_relay_from(f->store, "10.9.9.9", error, sizeof(error)), 1);
}

struct next_hop_case {
	const char *text, *want; /* want NULL: refused */
};

static const struct next_hop_case next_hops[] = {
	{ "mx.example.org", "[mx.example.org]:25" },
	{ "MX.Example.org:2525", "[mx.example.org]:2525" },
	{ "127.0.0.1:2525", "[127.0.0.1]:2525" },
	{ "[192.0.2.1]", "[192.0.2.1]:25" },
	{ "[2001:db8::1]:587", "[2001:db8::1]:587" },
	{ "2001:db8::1", NULL },
	{ "[2001:db8::1", NULL },
	{ "[192.0.2.1]x", NULL },
	{ "host:0", NULL },
	{ "host:65536", NULL },
	{ "host:", NULL },
	{ "host:25x", NULL },
	{ ":25", NULL },
	{ "", NULL },
	{ "bad_host!", NULL },
	{ "[]:25", NULL },
};

static void test_next_hop_parse(void **state)
{
	char out[MB_NEXT_HOP_MAX + 1];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(next_hops) / sizeof(next_hops[0]); i++) {
		const struct next_hop_case *c = &next_hops[i];
		int ret = mb_next_hop_parse(c->text, out, &why);
		if (c->want == NULL && ret == 0)
			fail_msg("case %zu '%s': got '%s', want a refusal", i, c->text, out);
		if (c->want != NULL && (ret < 0 || strcmp(out, c->want) != 0))
			fail_msg("case %zu '%s': got %s, want '%s'", i, c->text, ret < 0 ? why : out, c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_no_postmaster_default, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_records_round_trip, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test(test_next_hop_parse),
		/* the same records on Redis */
		cmocka_unit_test_setup_teardown(test_answers, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_records_round_trip, store_fixture_setup_redis, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
