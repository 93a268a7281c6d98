/* test-import-courier.c - the Courier userdb reader of `mailbag import courier` */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "import-fixture.h"
#include "import-hash.h"

/* read_text - the reader on one userdb file holding text */
static void read_text(const char *text, struct import_plan *plan)
{
	char path[512];
	fixture_write("userdb", text, path, sizeof(path));
	import_plan_init(plan);
	assert_int_equal(import_read_courier(path, NULL, plan), 0);
}

static void test_good_users(void **state)
{
	struct import_plan plan;
	char text[2048], home[300];
	(void)state;

	fixture_start();
	fixture_mkdir("spacey");
	fixture_mkdir("spacey/Maildir");
	snprintf(home, sizeof(home), "%s/spacey", fixture_dir);
	snprintf(text, sizeof(text),
		 "# a comment\n\n"
		 "spacey@Testmail.rton.me\tuid=300|gid=300|home=%s|hmac-md5pw=0123abcd|quota=1000000S\n"
		 "ann@testmail.rton.me\tsystempw=" SHA512_CRYPT "|home=/nowhere/ann|shell=/bin/sh\n"
		 "old@rton.me\tsystempw=" MD5_CRYPT "\r\n", home);
	read_text(text, &plan);
	print_messages("problem", plan.problems, plan.problem_count);
	assert_int_equal(plan.problem_count, 0);
	assert_int_equal(plan.user_count, 3);
	assert_int_equal(plan.domain_count, 2);
	const struct import_user *spacey = import_plan_find_user(&plan, "spacey@testmail.rton.me");
	assert_non_null(spacey);
	assert_null(spacey->hash);
	assert_non_null(spacey->reset_reason);
	assert_non_null(strstr(spacey->reset_reason, "hmac-md5pw"));
	assert_int_equal(spacey->quota_bytes, 1000000);
	assert_non_null(spacey->maildir);
	assert_non_null(strstr(spacey->maildir, "/spacey/Maildir"));
	const struct import_user *ann = import_plan_find_user(&plan, "ann@testmail.rton.me");
	assert_string_equal(ann->hash, "{SHA512-CRYPT}" SHA512_CRYPT);
	assert_null(ann->maildir);
	assert_true(plan_says(plan.notices, plan.notice_count, "userdb", 4, "shell is not carried over"));
	assert_true(plan_says(plan.notices, plan.notice_count, "userdb", 4, "no Maildir"));
	assert_string_equal(import_plan_find_user(&plan, "old@rton.me")->hash, "{MD5-CRYPT}" MD5_CRYPT);
	import_plan_free(&plan);
	fixture_stop();
}

struct bad_case {
	const char *line;
	const char *words;
};

static const struct bad_case bad_cases[] = {
	{ "ann@rton.me systempw=" SHA512_CRYPT, "expected ADDRESS<TAB>" },
	{ "ann\tsystempw=" SHA512_CRYPT, "is not an address" },
	{ "ann@@rton.me\tsystempw=" SHA512_CRYPT, "is not an address" },
	{ "ann@rton.me\tcolour=blue", "unknown field 'colour'" },
	{ "ann@rton.me\tsystempw", "not name=value" },
	{ "ann@rton.me\tuid=abc", "uid must be a number" },
	{ "ann@rton.me\thome=relative/ann", "home must be an absolute path" },
	{ "ann@rton.me\thome=/srv/../etc", "home must be an absolute path" },
	{ "ann@rton.me\tmail=/srv/mail/..", "mail must be an absolute path" },
	{ "ann@rton.me\tsystempw=secret", "unknown hash" },
	{ "ann@rton.me\tsystempw={PLAIN}secret", "plain-text" },
	{ "ann@rton.me\tsystempw=$9$abc$def", "unknown hash" },
	{ "ann@rton.me\tsystempw=$6$short", "does not have the form" },
	{ "ann@rton.me\tsystempw=abDES1234567.", "unknown hash" },
	{ "ann@rton.me\tquota=lots", "quota must be" },
	{ "ann@rton.me\tquota=100X", "quota must be" },
	{ "ann@rton.me\tsystempw=" SHA512_CRYPT "\x01", "control character" },
};

static void test_bad_lines(void **state)
{
	(void)state;
	fixture_start();
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct import_plan plan;
		char text[1024];
		/* a good line first: the bad one is line 2 */
		snprintf(text, sizeof(text), "good@rton.me\tsystempw=" SHA512_CRYPT "\n%s\n", bad_cases[i].line);
		read_text(text, &plan);
		if (!plan_says(plan.problems, plan.problem_count, "userdb", 2, bad_cases[i].words)) {
			print_messages("problem", plan.problems, plan.problem_count);
			fail_msg("case %zu '%s': no problem at userdb:2 saying '%s'", i, bad_cases[i].line, bad_cases[i].words);
		}
		for (size_t p = 0; p < plan.problem_count; p++) {
			if (strstr(plan.problems[p].text, "saltsalt") != NULL)
				fail_msg("case %zu: a problem quotes the hash", i);
		}
		import_plan_free(&plan);
	}
	fixture_stop();
}

static void test_duplicate_and_missing(void **state)
{
	struct import_plan plan;
	(void)state;

	fixture_start();
	read_text("ann@rton.me\tsystempw=" SHA512_CRYPT "\nANN@rton.me\tsystempw=" SHA512_CRYPT "\n", &plan);
	assert_true(plan_says(plan.problems, plan.problem_count, "userdb", 2, "duplicate: ann@rton.me is also on"));
	import_plan_free(&plan);

	import_plan_init(&plan);
	assert_int_equal(import_read_courier("/no/such/userdb", NULL, &plan), 0);
	assert_true(plan_says(plan.problems, plan.problem_count, "/no/such/userdb", 0, "missing"));
	import_plan_free(&plan);
	fixture_stop();
}

/* a directory of files, read in name order, backups and dot files skipped */
static void test_directory(void **state)
{
	struct import_plan plan;
	char path[512];
	(void)state;

	fixture_start();
	fixture_mkdir("userdb.d");
	fixture_write("userdb.d/b.example", "bob@b.example\tsystempw=" SHA512_CRYPT "\n", path, sizeof(path));
	fixture_write("userdb.d/a.example", "ann@a.example\tsystempw=" SHA512_CRYPT "\n", path, sizeof(path));
	fixture_write("userdb.d/a.example~", "ann@a.example\tbroken\n", path, sizeof(path));
	fixture_write("userdb.d/.hidden", "x\n", path, sizeof(path));
	snprintf(path, sizeof(path), "%s/userdb.d", fixture_dir);
	import_plan_init(&plan);
	assert_int_equal(import_read_courier(path, NULL, &plan), 0);
	print_messages("problem", plan.problems, plan.problem_count);
	assert_int_equal(plan.problem_count, 0);
	assert_int_equal(plan.user_count, 2);
	assert_string_equal(plan.users[0].address, "ann@a.example");
	import_plan_free(&plan);
	fixture_stop();
}

static void test_hash_schemes(void **state)
{
	char hash[MB_HASH_MAX];
	const char *why;
	(void)state;

	assert_int_equal(import_hash_from_crypt(SHA512_CRYPT, hash, &why), 0);
	assert_string_equal(hash, "{SHA512-CRYPT}" SHA512_CRYPT);
	assert_int_equal(import_hash_from_crypt(MD5_CRYPT, hash, &why), 0);
	assert_string_equal(hash, "{MD5-CRYPT}" MD5_CRYPT);
	assert_int_equal(import_hash_from_crypt("{SHA512-CRYPT}" SHA512_CRYPT, hash, &why), 0);
	assert_int_equal(import_hash_from_crypt("", hash, &why), -1);
	assert_int_equal(import_hash_from_crypt("{CLEAR}x", hash, &why), -1);
	assert_non_null(strstr(why, "plain-text"));
	assert_int_equal(import_hash_from_crypt("{MD5}abc", hash, &why), -1);
	/* the placeholder of a user who needs a reset is a hash the store takes */
	assert_int_equal(mb_password_hash_check(IMPORT_RESET_HASH, &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_users),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_duplicate_and_missing),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_hash_schemes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
