/* test-system-alias.c - the host's own names, system alias names and
 * keys (bad input), the store's system aliases, policyd's answer for
 * addresses at the host's names, and the milter's test for mail from
 * the host's sendmail */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "host-names.h"
#include "host-submission.h"
#include "socketmap.h"
#include "store-fixture.h"
#include "system-alias.h"
#include "system-alias-map.h"

static void test_host_names(void **state)
{
	struct mb_host_names names;
	(void)state;

	mb_host_names("MX.Example.Org", &names);
	assert_int_equal(names.count, 3);
	assert_string_equal(names.names[0], "mx.example.org");
	assert_string_equal(names.names[1], "localhost.example.org");
	assert_string_equal(names.names[2], "localhost");
	assert_true(mb_host_names_contain(&names, "LOCALHOST"));
	assert_false(mb_host_names_contain(&names, "example.org"));
	/* one dot: Postfix's mydomain is localdomain */
	mb_host_names("example.org", &names);
	assert_string_equal(names.names[1], "localhost.localdomain");
	mb_host_names(NULL, &names);
	assert_int_equal(names.count, 2);
}

struct name_case {
	const char *text;
	const char *want;  /* NULL: refused */
};

static const struct name_case names[] = {
	{ "root", "root" }, { "WWW-Data", "www-data" }, { "MAILER-DAEMON", "mailer-daemon" },
	{ "_apt", "_apt" }, { "a.b", "a.b" }, { "", NULL }, { "-root", NULL }, { ".x", NULL },
	{ "|cmd", NULL }, { "/etc/passwd", NULL }, { ":include:x", NULL }, { "root@x", NULL },
	{ "ro ot", NULL }, { "r\xc3\xa9", NULL }, { "root+x", NULL },
	{ "12345678901234567890123456789012345678901234567890123456789012345", NULL },
};

static void test_name_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char got[MB_LOCAL_MAX + 1];
		const char *why = NULL;
		int ret = mb_system_alias_name_parse(names[i].text, got, &why);
		if (names[i].want == NULL) {
			if (ret == 0)
				fail_msg("'%s': got %s, want a refusal", names[i].text, got);
			assert_non_null(why);
		} else {
			if (ret != 0)
				fail_msg("'%s': refused (%s), want %s", names[i].text, why, names[i].want);
			assert_string_equal(got, names[i].want);
		}
	}
}

static void test_targets(void **state)
{
	(void)state;
	assert_true(mb_system_alias_target_ok("al@bundy.net"));
	assert_false(mb_system_alias_target_ok("|/bin/sh@x.test"));
	assert_false(mb_system_alias_target_ok("/tmp/file"));
	assert_false(mb_system_alias_target_ok(":include:/etc/x"));
	assert_false(mb_system_alias_target_ok("al"));
	assert_false(mb_system_alias_target_ok("a@b.test,c@d.test"));
	assert_false(mb_system_alias_target_ok("root@*system"));
	assert_false(mb_system_alias_target_ok(NULL));
}

struct key_case {
	const char *key;
	int applies;
	const char *name;
};

static const struct key_case keys[] = {
	{ "root@mx.example.org", 1, "root" }, { "root+cron@mx.example.org", 1, "root" },
	{ "root@localhost", 1, "root" }, { "root@localhost.example.org", 1, "root" },
	{ "root@example.org", 0, "" }, { "root", 0, "" }, { "@mx.example.org", 0, "" },
	{ "ro|ot@mx.example.org", 1, "" }, { "+x@mx.example.org", 1, "" },
	{ "root@mx.example.org.", 0, "" }, { "root@*system", 0, "" },
};

static void test_keys(void **state)
{
	struct mb_host_names host;
	(void)state;

	mb_host_names("mx.example.org", &host);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char name[MB_LOCAL_MAX + 1];
		int got = mb_system_alias_key(&host, "+", keys[i].key, name);
		if (got != keys[i].applies || strcmp(name, keys[i].name) != 0)
			fail_msg("%s: got %d '%s', want %d '%s'", keys[i].key, got, name, keys[i].applies, keys[i].name);
	}
}

static void test_store_and_answers(void **state)
{
	struct store_fixture *f = *state;
	const char *root[] = { "al@example.org", "gone@example.org", "ext@outside.test" };
	const char *bad[] = { "|/bin/sh@example.org" };
	char error[512], reply[SOCKETMAP_MAX_REPLY];
	struct mb_alias alias;

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	fixture_add_user(f->store, "al@example.org", true);
	assert_int_equal(mb_system_alias_add(f->store, "Root", root, 3, error, sizeof(error)), 0);
	assert_int_equal(mb_system_alias_add(f->store, "root", bad, 1, error, sizeof(error)), -EINVAL);
	assert_int_equal(mb_system_alias_add(f->store, "r|x", root, 1, error, sizeof(error)), -EINVAL);
	assert_int_equal(mb_system_alias_get(f->store, "root", &alias, error, sizeof(error)), 1);
	assert_int_equal(alias.target_count, 3);
	char name[MB_LOCAL_MAX + 1];
	assert_true(mb_alias_system_name(alias.source, name));
	assert_string_equal(name, "root");
	mb_alias_clear(&alias);

	system_alias_map_set_hostname("mx.example.org");
	const struct answer { const char *request, *want; } answers[] = {
		/* the missing local target is left out */
		{ "virtual_alias_maps root@mx.example.org", "OK al@example.org,ext@outside.test" },
		{ "virtual_alias_maps root+x@localhost", "OK al@example.org,ext@outside.test" },
		{ "virtual_alias_maps nobody@mx.example.org", "NOTFOUND " },
		{ "virtual_alias_maps ro|ot@mx.example.org", "NOTFOUND " },
		/* the records' own key is never an address */
		{ "virtual_alias_maps root@*system", "NOTFOUND " },
		/* a virtual domain's address is routed as before */
		{ "virtual_alias_maps al@example.org", "OK al@example.org" },
		{ "virtual_alias_maps root@example.org", "NOTFOUND " },
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		size_t len = socketmap_answer(f->store, "+", answers[i].request, strlen(answers[i].request),
					      reply, sizeof(reply));
		if (len != strlen(answers[i].want) || memcmp(reply, answers[i].want, len) != 0)
			fail_msg("%s: got '%.*s', want '%s'", answers[i].request, (int)len, reply, answers[i].want);
	}
	/* without host names (not configured) nothing is a system address */
	system_alias_map_set_hostname(NULL);
	size_t len = socketmap_answer(f->store, "+", answers[0].request, strlen(answers[0].request),
				      reply, sizeof(reply));
	assert_memory_equal(reply, "NOTFOUND ", len);

	/* al deleted: taken out of root too */
	assert_int_equal(mb_store_user_del_unalias(f->store, "al@example.org", "+", NULL, NULL, error, sizeof(error)), 0);
	assert_int_equal(mb_system_alias_get(f->store, "root", &alias, error, sizeof(error)), 1);
	assert_int_equal(alias.target_count, 2);
	mb_alias_clear(&alias);
	assert_int_equal(mb_system_alias_del(f->store, "root", NULL, 0, error, sizeof(error)), 0);
	assert_int_equal(mb_system_alias_del(f->store, "root", NULL, 0, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, "system alias root does not exist"));
}

static struct sockaddr_in in4(const char *address, unsigned short port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, address, &sa.sin_addr);
	return sa;
}

static void test_host_submission(void **state)
{
	struct sockaddr_in local = in4("127.0.0.1", 0), client = in4("127.0.0.1", 40000), other = in4("192.0.2.1", 0);
	struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	(void)state;

	assert_true(host_submission("cleanup", "localhost", (struct sockaddr *)&local));
	assert_true(host_submission("cleanup", "localhost", (struct sockaddr *)&six));
	/* an smtpd's client on loopback, whatever it calls itself */
	assert_false(host_submission("smtp", "localhost", (struct sockaddr *)&local));
	assert_false(host_submission("cleanup", "localhost", (struct sockaddr *)&client));
	assert_false(host_submission("cleanup", "localhost", (struct sockaddr *)&other));
	assert_false(host_submission("cleanup", "client.remote.test", (struct sockaddr *)&local));
	assert_false(host_submission(NULL, "localhost", (struct sockaddr *)&local));
	assert_false(host_submission("cleanup", "localhost", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_keys),
		cmocka_unit_test_setup_teardown(test_store_and_answers, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test(test_host_submission),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
