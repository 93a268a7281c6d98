/* test-srs-map.c - policyd's SRS maps through socketmap_answer: only an
 * alias's outside targets are routed for SRS, local senders are never
 * rewritten, SRS addresses reverse, bad ones are refused, and SRS is off
 * when the context says so or the secret file is too open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "socketmap.h"
#include "srs-map.h"
#include "store-fixture.h"

static char reply[4096];

static const char *ask(struct store_fixture *f, const char *request)
{
	size_t len = socketmap_answer(f->store, "+", request, strlen(request), reply, sizeof(reply) - 1);
	reply[len] = '\0';
	return reply;
}

/* configure - the context's srs section with a secret file of mode mode */
static void configure(struct store_fixture *f, bool enabled, mode_t mode)
{
	char path[128], json[1024], error[512];
	struct mb_context *ctx;
	struct passwd *me = getpwuid(getuid());

	snprintf(path, sizeof(path), "%s/srs.secrets", f->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	fputs("the unit test's SRS secret, long enough\n", out);
	fclose(out);
	assert_int_equal(chmod(path, mode), 0);
	snprintf(json, sizeof(json), "{\"hostname\": \"mx.example.net\", \"daemon_user\": \"%s\", "
		 "\"srs\": {\"enabled\": %s, \"secret_file\": \"%s\"}}", me->pw_name,
		 enabled ? "true" : "false", path);
	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	srs_map_configure(ctx);
	mb_context_free(&ctx);
}

static void setup_data(struct store_fixture *f)
{
	const char *team[] = { "ann@example.org", "ext@elsewhere.test", "x=y@other.test" };
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	fixture_add_user(f->store, "ann@example.org", true);
	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", team, 3, error, sizeof(error)), 0);
}

static void test_srs_on(void **state)
{
	struct store_fixture *f = *state;
	char srs_address[4096], request[4200];

	setup_data(f);
	configure(f, true, 0600);
	assert_string_equal(ask(f, "virtual_alias_maps team@example.org"),
			    "OK ann@example.org,ext=elsewhere.test@mailbag-forward.invalid,"
			    "x=y=other.test@mailbag-forward.invalid");
	assert_string_equal(ask(f, "srs_unroute ext=elsewhere.test@mailbag-forward.invalid"), "OK ext@elsewhere.test");
	assert_string_equal(ask(f, "srs_unroute x=y=other.test@mailbag-forward.invalid"), "OK x=y@other.test");
	assert_string_equal(ask(f, "srs_unroute ext@elsewhere.test"), "NOTFOUND ");
	assert_string_equal(ask(f, "srs_unroute noequals@mailbag-forward.invalid"), "NOTFOUND ");
	assert_string_equal(ask(f, "srs_unroute =x@mailbag-forward.invalid"), "NOTFOUND ");
	/* local senders, the host's own, and SRS addresses of ours stay */
	assert_string_equal(ask(f, "srs_forward ann@example.org"), "NOTFOUND ");
	assert_string_equal(ask(f, "srs_forward root@mx.example.net"), "NOTFOUND ");
	const char *answer = ask(f, "srs_forward alice@outside.test");
	assert_int_equal(strncmp(answer, "OK SRS0=", 8), 0);
	assert_non_null(strstr(answer, "=outside.test=alice@mx.example.net"));
	snprintf(srs_address, sizeof(srs_address), "%s", answer + 3);
	snprintf(request, sizeof(request), "srs_reverse %s", srs_address);
	assert_string_equal(ask(f, request), "OK alice@outside.test");
	snprintf(request, sizeof(request), "srs_recipient_access %s", srs_address);
	assert_string_equal(ask(f, request), "NOTFOUND ");
	/* forged: another hash */
	char forged[4096];
	snprintf(forged, sizeof(forged), "%s", srs_address);
	forged[5] = forged[5] == 'q' ? 'r' : 'q';
	forged[6] = forged[6] == 'q' ? 'r' : 'q';
	snprintf(request, sizeof(request), "srs_reverse %s", forged);
	assert_string_equal(ask(f, request), "NOTFOUND ");
	snprintf(request, sizeof(request), "srs_recipient_access %s", forged);
	assert_int_equal(strncmp(ask(f, request), "OK 550 5.1.1 SRS0 address with a bad hash", 41), 0);
	/* access lookups of the domain and other addresses are no answer */
	assert_string_equal(ask(f, "srs_recipient_access mx.example.net"), "NOTFOUND ");
	assert_string_equal(ask(f, "srs_recipient_access ann@example.org"), "NOTFOUND ");
	srs_map_clear();
}

static void test_srs_off(void **state)
{
	struct store_fixture *f = *state;

	setup_data(f);
	configure(f, false, 0600);
	assert_string_equal(ask(f, "virtual_alias_maps team@example.org"),
			    "OK ann@example.org,ext@elsewhere.test,x=y@other.test");
	assert_string_equal(ask(f, "srs_forward alice@outside.test"), "NOTFOUND ");
	/* a secret file others may read: SRS stays off */
	configure(f, true, 0644);
	assert_string_equal(ask(f, "virtual_alias_maps team@example.org"),
			    "OK ann@example.org,ext@elsewhere.test,x=y@other.test");
	assert_string_equal(ask(f, "srs_forward alice@outside.test"), "NOTFOUND ");
	srs_map_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_srs_on, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_srs_off, store_fixture_setup, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
