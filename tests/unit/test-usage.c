/* test-usage.c - the dict protocol (Dovecot 2.3 and 2.4) behind quota_clone and last_login reports */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store-fixture.h"
#include "usage.h"

struct run_result {
	size_t used, reply_len;
	bool closed;
	char reply[512], error[256];
};

static struct run_result run(struct store_fixture *f, struct usage_connection *conn, const char *in)
{
	struct run_result r;

	memset(&r, 0, sizeof(r));
	r.used = usage_process(conn, f->store, "+", (int64_t)time(NULL), in, strlen(in), r.reply, sizeof(r.reply) - 1,
			       &r.reply_len, &r.closed, r.error, sizeof(r.error));
	r.reply[r.reply_len] = '\0';
	return r;
}

/* exactly what Dovecot 2.3.19's quota_clone sent in a probe */
static void test_quota_clone_session(void **state)
{
	struct store_fixture *f = *state;
	struct usage_connection conn = { 0 };
	uint64_t bytes = 0, messages = 0;
	char error[256];
	const char *session = "H3\t2\t0\t\tusage\nB1\tAnn@Example.org\nS1\tpriv/quota/storage\t5545\n"
			      "S1\tpriv/quota/messages\t1\nC1\n";

	struct run_result r = run(f, &conn, session);
	assert_false(r.closed);
	assert_int_equal(r.used, strlen(session));
	assert_string_equal(r.reply, "O1\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 5545);
	assert_int_equal(messages, 1);
	/* one figure alone keeps the other; an async commit gets "A" */
	r = run(f, &conn, "B2\tann@example.org\nS2\tpriv/quota/storage\t9000\nD2\n");
	assert_string_equal(r.reply, "AO2\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 9000);
	assert_int_equal(messages, 1);
	/* a rollback writes nothing; other keys and lookups are harmless */
	r = run(f, &conn, "B3\tann@example.org\nS3\tpriv/quota/storage\t1\nS3\tshared/x\ty\nR3\nLpriv/quota/storage\n");
	assert_string_equal(r.reply, "N\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 9000);
	/* a user that is no address: committed, stored nowhere */
	r = run(f, &conn, "B4\tnot an address\nS4\tpriv/quota/storage\t1\nC4\n");
	assert_string_equal(r.reply, "O4\n");
	assert_false(r.closed);
}

static void test_last_login(void **state)
{
	struct store_fixture *f = *state;
	struct usage_connection conn = { 0 };
	int64_t now = (int64_t)time(NULL), day = now - now % 86400, when = 0;
	char session[256], error[256];

	/* what Dovecot's last_login plugin sent in a probe */
	snprintf(session, sizeof(session), "H3\t2\t0\t\tlastlogin\nB1\tbob@example.org\n"
		 "S1\tshared/last-login/bob@example.org\t%lld\nC1\n", (long long)now);
	struct run_result r = run(f, &conn, session);
	assert_string_equal(r.reply, "O1\n");
	assert_int_equal(mb_last_login_get(f->store, "bob@example.org", now, &when, error, sizeof(error)), 1);
	assert_int_equal(when, day); /* day precision */
	/* an older login never moves it back; a key naming another user is ignored */
	snprintf(session, sizeof(session), "B2\tbob@example.org\nS2\tshared/last-login/bob@example.org\t%lld\n"
		 "S2\tshared/last-login/eve@example.org\t%lld\nC2\n", (long long)(now - 10 * 86400), (long long)now);
	r = run(f, &conn, session);
	assert_string_equal(r.reply, "O2\n");
	assert_int_equal(mb_last_login_get(f->store, "bob@example.org", now, &when, error, sizeof(error)), 1);
	assert_int_equal(when, day);
	assert_int_equal(mb_last_login_get(f->store, "eve@example.org", now, &when, error, sizeof(error)), 0);
}

/* the lines Dovecot 2.4.1's dict client writes (lib-dict-extra/dict-client.c):
   a HELLO of version 4, BEGIN with the expiry, async commits as plain "C",
   lookups with the user; quota_clone_unset = yes adds an "U" before each "S" */
static void test_dovecot24_session(void **state)
{
	struct store_fixture *f = *state;
	struct usage_connection conn = { 0 };
	uint64_t bytes = 0, messages = 0;
	char error[256];
	const char *session = "H4\t0\t0\t\tusage\nB1\tAnn@Example.org\t0\nS1\tpriv/quota/storage\t5545\n"
			      "S1\tpriv/quota/messages\t1\nC1\n";

	struct run_result r = run(f, &conn, session);
	assert_false(r.closed);
	assert_int_equal(r.used, strlen(session));
	assert_int_equal(conn.major, 4);
	assert_string_equal(r.reply, "O1\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 5545);
	assert_int_equal(messages, 1);
	r = run(f, &conn, "B2\tann@example.org\t0\nU2\tpriv/quota/storage\nS2\tpriv/quota/storage\t9000\n"
		"V2\tyes\nT2\t1700000000\t0\nC2\n");
	assert_false(r.closed);
	assert_string_equal(r.reply, "O2\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 9000);
	assert_int_equal(messages, 1);
	/* a rollback writes nothing; a lookup names the user too */
	r = run(f, &conn, "B3\tann@example.org\t0\nS3\tpriv/quota/storage\t1\nR3\n"
		"Lpriv/quota/storage\tann@example.org\n");
	assert_false(r.closed);
	assert_string_equal(r.reply, "N\n");
	assert_int_equal(mb_usage_get(f->store, "ann@example.org", (int64_t)time(NULL), &bytes, &messages, error, sizeof(error)), 1);
	assert_int_equal(bytes, 9000);
}

/* 2.4's last_login: last_login_key = last-login/%{user} under shared/,
   last_login_precision = s, committed async (which 2.4 sends as "C") */
static void test_last_login_dovecot24(void **state)
{
	struct store_fixture *f = *state;
	struct usage_connection conn = { 0 };
	int64_t now = (int64_t)time(NULL), day = now - now % 86400, when = 0;
	char session[256], error[256];

	snprintf(session, sizeof(session), "H4\t0\t0\t\tlastlogin\nB1\tbob@example.org\t0\n"
		 "S1\tshared/last-login/bob@example.org\t%lld\nC1\n", (long long)now);
	struct run_result r = run(f, &conn, session);
	assert_false(r.closed);
	assert_string_equal(r.reply, "O1\n");
	assert_int_equal(mb_last_login_get(f->store, "bob@example.org", now, &when, error, sizeof(error)), 1);
	assert_int_equal(when, day);
}

static void test_partial_lines_wait(void **state)
{
	struct store_fixture *f = *state;
	struct usage_connection conn = { 0 };

	struct run_result r = run(f, &conn, "H3\t2\t0\t\tusage\nB1\tann@exa");
	assert_int_equal(r.used, strlen("H3\t2\t0\t\tusage\n"));
	assert_false(r.closed);
}

static void test_bad_input_closes(void **state)
{
	static const struct { const char *input, *why; } cases[] = {
		{ "B1\tann@example.org\n", "HELLO" },
		{ "H1\t0\tx\tusage\n", "version" },
		{ "H3\t2\t0\t\tusage\nX\n", "unknown command" },
		{ "H3\t2\t0\t\tusage\nC7\n", "not open" },
		{ "H3\t2\t0\t\tusage\nS7\tk\tv\n", "open transaction" },
		{ "H3\t2\t0\t\tusage\nB1\tu@x.org\nB1\tu@x.org\n", "new numeric id" },
		{ "H3\t2\t0\t\tusage\nBx\tu@x.org\n", "new numeric id" },
		{ "H3\t2\t0\t\tusage\n\n", "empty line" },
		/* the protocol versions apart */
		{ "H5\t0\t0\t\tusage\n", "version" },
		{ "H\t0\t0\t\tusage\n", "version" },
		{ "H4\t0\n", "version" },
		{ "H4\t0\t0\t\tusage\nH3\t2\t0\t\tusage\n", "second HELLO" },
		{ "H4\t0\t0\t\tusage\nB1\tu@x.org\n", "expiry" },
		{ "H4\t0\t0\t\tusage\nB1\tu@x.org\tsoon\n", "expiry" },
		{ "H4\t0\t0\t\tusage\nB1\tu@x.org\t0\nB1\tu@x.org\t0\n", "new numeric id" },
		{ "H4\t0\t0\t\tusage\nB1\tu@x.org\t0\nD1\n", "unknown command 'D' in protocol version 4" },
		{ "H4\t0\t0\t\tusage\nV1\tyes\n", "open transaction" },
		{ "H4\t0\t0\t\tusage\nI0\t0\tpriv/quota/\tu@x.org\n", "unknown command 'I'" },
		{ "H3\t2\t0\t\tusage\nB1\tu@x.org\t0\n", "new numeric id and a user" },
		{ "H3\t2\t0\t\tusage\nB1\tu@x.org\nV1\tyes\n", "unknown command 'V' in protocol version 3" },
		{ "H3\t2\t0\t\tusage\nT1\t1\t0\n", "open transaction" },
		{ "H3\t2\t0\t\tusage\nB1\tu@x.org\nB2\tu@x.org\nB3\tu@x.org\nB4\tu@x.org\n"
		  "B5\tu@x.org\nB6\tu@x.org\nB7\tu@x.org\nB8\tu@x.org\nB9\tu@x.org\n", "open transactions" },
	};
	struct store_fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct usage_connection conn = { 0 };
		struct run_result r = run(f, &conn, cases[i].input);
		if (!r.closed || strstr(r.error, cases[i].why) == NULL)
			fail_msg("case %zu: closed=%d error '%s', want '%s'", i, r.closed, r.error, cases[i].why);
	}
	/* an overlong line, finished or not, and a NUL byte */
	static char big[USAGE_MAX_LINE + 10];
	memset(big, 'L', sizeof(big) - 1);
	struct usage_connection conn = { .hello_seen = true };
	struct run_result r = run(f, &conn, big);
	assert_true(r.closed);
	assert_non_null(strstr(r.error, "longer than"));
	struct run_result nul;
	memset(&nul, 0, sizeof(nul));
	nul.used = usage_process(&conn, f->store, "+", 1000, "L\0x\n", 4, nul.reply, sizeof(nul.reply),
				 &nul.reply_len, &nul.closed, nul.error, sizeof(nul.error));
	assert_true(nul.closed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quota_clone_session, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_last_login, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dovecot24_session, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_last_login_dovecot24, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_partial_lines_wait, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_closes, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quota_clone_session, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dovecot24_session, store_fixture_setup_redis, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
