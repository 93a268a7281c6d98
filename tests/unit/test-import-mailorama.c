/* test-import-mailorama.c - the Mail-o-Rama reader of `mailbag import mailorama` */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "import-fixture.h"

static const char good_accounts[] =
	"al    1000 " SHA512_CRYPT "\n"
	"peggy 1001 " SHA512_CRYPT "\n"
	"kelly 1002 " MD5_CRYPT "\n";
static const char good_domains[] = "bundy.net\nexample.com\nchicago.com\n";
static const char good_virtuals[] =
	"al@bundy.net       al\n"
	"al@chicago.com     al\n"
	"buck@bundy.net     al\n"
	"peggy@bundy.net    peggy\n"
	"bud@bundy.net      grandmaster-b@gmail.com\n"
	"family@bundy.net   al,peggy,bud@bundy.net\n";
static const char good_aliases[] = "root:al\npumpkin: kelly\n";

/* read_tree - the reader on a directory with these files (NULL: absent) */
static void read_tree(const char *accounts, const char *domains, const char *virtuals, const char *aliases,
		      struct import_plan *plan)
{
	char path[512];
	const char *texts[] = { accounts, domains, virtuals, aliases };
	const char *names[] = { "accounts", "domains", "virtuals", "aliases" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", fixture_dir, names[i]);
		unlink(path);
		if (texts[i] != NULL)
			fixture_write(names[i], texts[i], path, sizeof(path));
	}
	import_plan_init(plan);
	assert_int_equal(import_read_mailorama(fixture_dir, NULL, plan), 0);
}

static const struct import_alias *find_alias(const struct import_plan *plan, const char *source)
{
	for (size_t i = 0; i < plan->alias_count; i++) {
		if (strcmp(plan->aliases[i].source, source) == 0)
			return &plan->aliases[i];
	}
	return NULL;
}

static void test_the_seed(void **state)
{
	struct import_plan plan;
	(void)state;

	fixture_start();
	fixture_mkdir("mail");
	fixture_mkdir("mail/al");
	fixture_mkdir("mail/al/Maildir");
	read_tree(good_accounts, good_domains, good_virtuals, good_aliases, &plan);
	print_messages("problem", plan.problems, plan.problem_count);
	assert_int_equal(plan.problem_count, 0);
	assert_int_equal(plan.domain_count, 3);
	assert_int_equal(plan.user_count, 3);
	const struct import_user *al = import_plan_find_user(&plan, "al@bundy.net");
	assert_non_null(al);
	assert_string_equal(al->hash, "{SHA512-CRYPT}" SHA512_CRYPT);
	assert_non_null(al->maildir);
	assert_null(import_plan_find_user(&plan, "peggy@bundy.net")->maildir);
	/* kelly has no address of her own: the first domain's, said */
	assert_non_null(import_plan_find_user(&plan, "kelly@bundy.net"));
	assert_true(plan_says(plan.notices, plan.notice_count, "accounts", 3, "no address of its own"));
	assert_true(plan_says(plan.notices, plan.notice_count, "accounts", 1, "al logs in as al@bundy.net"));
	/* al's other addresses are aliases to it, several targets one alias */
	const struct import_alias *buck = find_alias(&plan, "buck@bundy.net");
	assert_non_null(buck);
	assert_int_equal(buck->target_count, 1);
	assert_string_equal(buck->targets[0], "al@bundy.net");
	assert_non_null(find_alias(&plan, "al@chicago.com"));
	assert_null(find_alias(&plan, "al@bundy.net"));
	const struct import_alias *family = find_alias(&plan, "family@bundy.net");
	assert_int_equal(family->target_count, 3);
	assert_string_equal(family->targets[1], "peggy@bundy.net");
	assert_string_equal(family->targets[2], "bud@bundy.net");
	assert_string_equal(find_alias(&plan, "bud@bundy.net")->targets[0], "grandmaster-b@gmail.com");
	assert_int_equal(plan.system_alias_count, 2);
	assert_string_equal(plan.system_aliases[0].name, "root");
	assert_string_equal(plan.system_aliases[0].target, "al@bundy.net");
	assert_string_equal(plan.system_aliases[1].target, "kelly@bundy.net");
	import_plan_free(&plan);
	fixture_stop();
}

struct bad_case {
	const char *file;     /* which file gets the bad line (line 4 of accounts, 4 of domains...) */
	const char *line;
	const char *words;
};

static const struct bad_case bad_cases[] = {
	{ "accounts", "dan 1003 plaintext", "unknown hash" },
	{ "accounts", "dan 1003 {PLAIN}secret", "plain-text" },
	{ "accounts", "dan 1003", "expected NAME UID HASH" },
	{ "accounts", "dan x1 " SHA512_CRYPT, "UID must be a number" },
	{ "accounts", "Dan! 1003 " SHA512_CRYPT, "bad account name" },
	{ "accounts", "al 1004 " SHA512_CRYPT, "duplicate: account al" },
	{ "domains", "not_a domain", "expected one domain" },
	{ "domains", "bad..domain", "is not a domain" },
	{ "domains", "bundy.net", "duplicate: bundy.net" },
	{ "virtuals", "x@nowhere.org al", "not in the domains file" },
	{ "virtuals", "z@bundy.net nobody", "unknown account" },
	{ "virtuals", "z@bundy.net al,,peggy", "an empty target" },
	{ "virtuals", "z@bundy.net al,bad@@x", "is not an address" },
	{ "virtuals", "z@@bundy.net al", "is not an address" },
	{ "virtuals", "z@bundy.net", "expected ADDRESS TARGET" },
	{ "virtuals", "buck@bundy.net peggy", "duplicate: buck@bundy.net" },
	{ "aliases", "root al", "expected NAME:TARGET" },
	{ "aliases", "daemon:nobody", "unknown account" },
	{ "aliases", "root:peggy", "duplicate: root" },
};

static void test_bad_lines(void **state)
{
	(void)state;
	fixture_start();
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char texts[4][2048];
		const char *good[] = { good_accounts, good_domains, good_virtuals, good_aliases };
		const char *names[] = { "accounts", "domains", "virtuals", "aliases" };
		size_t bad_line = 0;
		for (size_t f = 0; f < 4; f++) {
			/* the bad line is put after the file's own lines */
			bool here = strcmp(names[f], c->file) == 0;
			snprintf(texts[f], sizeof(texts[f]), "%s%s%s", good[f], here ? c->line : "", here ? "\n" : "");
			if (here) {
				for (const char *p = good[f]; *p != '\0'; p++)
					bad_line += *p == '\n';
				bad_line++;
			}
		}
		struct import_plan plan;
		read_tree(texts[0], texts[1], texts[2], texts[3], &plan);
		if (!plan_says(plan.problems, plan.problem_count, c->file, bad_line, c->words)) {
			print_messages("problem", plan.problems, plan.problem_count);
			fail_msg("case %zu '%s': no problem at %s:%zu saying '%s'", i, c->line, c->file, bad_line, c->words);
		}
		import_plan_free(&plan);
	}
	fixture_stop();
}

static void test_missing_files(void **state)
{
	struct import_plan plan;
	(void)state;

	fixture_start();
	read_tree(good_accounts, good_domains, NULL, NULL, &plan);
	assert_true(plan_says(plan.problems, plan.problem_count, "virtuals", 0, "cannot read the file"));
	import_plan_free(&plan);
	read_tree(NULL, good_domains, good_virtuals, good_aliases, &plan);
	assert_true(plan_says(plan.problems, plan.problem_count, "accounts", 0, "cannot read the file"));
	import_plan_free(&plan);
	/* the aliases file is optional */
	read_tree(good_accounts, good_domains, good_virtuals, NULL, &plan);
	assert_int_equal(plan.problem_count, 0);
	import_plan_free(&plan);
	import_plan_init(&plan);
	assert_int_equal(import_read_mailorama("/no/such/mailorama", NULL, &plan), 0);
	print_messages("problem", plan.problems, plan.problem_count);
	assert_true(plan_says(plan.problems, plan.problem_count, "/no/such/mailorama", 0, "missing"));
	import_plan_free(&plan);
	fixture_stop();
}

/* --maildirs DIR: DIR/NAME/Maildir, or DIR/NAME holding cur/ */
static void test_maildirs_option(void **state)
{
	struct import_plan plan;
	char dir[300];
	(void)state;

	fixture_start();
	fixture_mkdir("elsewhere");
	fixture_mkdir("elsewhere/peggy");
	fixture_mkdir("elsewhere/peggy/cur");
	snprintf(dir, sizeof(dir), "%s/elsewhere", fixture_dir);
	struct import_options options = { .maildirs = dir };
	char path[512];
	fixture_write("accounts", good_accounts, path, sizeof(path));
	fixture_write("domains", good_domains, path, sizeof(path));
	fixture_write("virtuals", good_virtuals, path, sizeof(path));
	import_plan_init(&plan);
	assert_int_equal(import_read_mailorama(fixture_dir, &options, &plan), 0);
	const struct import_user *peggy = import_plan_find_user(&plan, "peggy@bundy.net");
	assert_non_null(peggy->maildir);
	assert_non_null(strstr(peggy->maildir, "/elsewhere/peggy"));
	import_plan_free(&plan);
	fixture_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_seed),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_maildirs_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
