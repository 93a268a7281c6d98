/* test-import-exim.c - the exim-mibe reader of `mailbag import`
 *	(cli/import-exim-mibe.c): a good /srv/mail tree read whole, then one
 *	bad file at a time, each refusal named FILE:LINE */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "import-exim-mibe.h"
#include "import-tree-fixture.h"

static char root[PATH_MAX];

static void good_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/test-import-exim.XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	tree_write(root, "passwd/example.org",
		   "# users of example.org\n"
		   "ann:" SHA512 "\n"
		   "bob:" BARE_SHA512 "\n"
		   "carol:{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99\n");
	tree_write(root, "passwd/example.net", "dan:" SHA512 "\n");
	tree_write(root, "aliases/example.org",
		   "info: ann, bob@example.org\n"
		   "team: ann,\n"
		   "  friend@outside.example\n"
		   "*: ann\n"
		   "gone: :fail: moved away\n");
	tree_write(root, "exim/conf/global_aliases", "postmaster: ann@example.org\n");
	tree_write(root, "exim/conf/rewrite_domains", "example.com: example.org\n");
	tree_write(root, "exim/conf/relay_from_hosts",
		   "10.0.0.0/8\n192.0.2.1 : 198.51.100.0/24   # office\n2001:db8::/32\nlocalhost\n");
	tree_write(root, "exim/conf/relay_to_domains", "backup.example\n");
	tree_write(root, "exim/conf/dkim_required", "*.bank.example\nbank.example\n");
	tree_write(root, "exim/conf/senderverify_exceptions", "someone@list.example\n");
	tree_write(root, "dovecot/sieve/before/10-spam.sieve", "keep;\n");
	tree_maildir(root, "example.org/ann/Maildir");
	tree_maildir(root, "example.net/dan");
	tree_write(root, "exim/spool/input/1abc-D", "queued\n");
	tree_write(root, "dovecot/conf/local.conf", "# local\nmail_debug = yes\n");
}

static void read_tree(struct import_plan *plan)
{
	import_plan_init(plan);
	assert_int_equal(import_read_exim_mibe(root, NULL, plan), 0);
}

static const struct import_alias *find_alias(const struct import_plan *plan, const char *source)
{
	for (size_t i = 0; i < plan->alias_count; i++) {
		if (strcmp(plan->aliases[i].source, source) == 0)
			return &plan->aliases[i];
	}
	return NULL;
}

static bool has_notice(const struct import_plan *plan, const char *words)
{
	for (size_t i = 0; i < plan->notice_count; i++) {
		if (strstr(plan->notices[i].text, words) != NULL)
			return true;
	}
	return false;
}

static void test_good_tree(void **state)
{
	struct import_plan plan;
	char problems[4096];

	(void)state;
	good_tree();
	read_tree(&plan);
	plan_problems_text(&plan, root, problems, sizeof(problems));
	if (plan.problem_count != 0)
		fail_msg("problems in a good tree:\n%s", problems);
	assert_int_equal(plan.domain_count, 2);
	assert_int_equal(plan.user_count, 4);
	struct import_user *ann = import_plan_find_user(&plan, "ann@example.org");
	assert_non_null(ann);
	assert_string_equal(ann->hash, SHA512);
	assert_non_null(ann->maildir);
	assert_non_null(strstr(ann->maildir, "example.org/ann/Maildir"));
	struct import_user *bob = import_plan_find_user(&plan, "bob@example.org");
	assert_string_equal(bob->hash, SHA512);
	assert_null(bob->maildir);
	assert_true(has_notice(&plan, "bob@example.org has no Maildir"));
	struct import_user *carol = import_plan_find_user(&plan, "carol@example.org");
	assert_null(carol->hash);
	assert_non_null(strstr(carol->reset_reason, "PLAIN-MD5"));
	assert_non_null(strstr(import_plan_find_user(&plan, "dan@example.net")->maildir, "example.net/dan"));

	const struct import_alias *info = find_alias(&plan, "info@example.org");
	assert_non_null(info);
	assert_int_equal(info->target_count, 2);
	assert_string_equal(info->targets[0], "ann@example.org");
	assert_string_equal(info->targets[1], "bob@example.org");
	const struct import_alias *team = find_alias(&plan, "team@example.org");
	assert_int_equal(team->target_count, 2);
	assert_string_equal(team->targets[1], "friend@outside.example");
	assert_int_equal(team->origin.line, 2);
	assert_non_null(find_alias(&plan, "@example.org"));
	assert_null(find_alias(&plan, "gone@example.org"));
	assert_true(has_notice(&plan, "gone@example.org (:fail:) is not imported"));
	const struct import_alias *rewrite = find_alias(&plan, "@example.com");
	assert_non_null(rewrite);
	assert_string_equal(rewrite->targets[0], "@example.org");

	assert_int_equal(plan.global_alias_count, 1);
	assert_string_equal(plan.global_aliases[0].local_part, "postmaster");
	assert_string_equal(plan.global_aliases[0].target, "ann@example.org");
	assert_int_equal(plan.relay_network_count, 4);
	assert_string_equal(plan.relay_networks[0].cidr, "10.0.0.0/8");
	assert_string_equal(plan.relay_networks[1].cidr, "192.0.2.1");
	assert_string_equal(plan.relay_networks[2].cidr, "198.51.100.0/24");
	assert_string_equal(plan.relay_networks[3].cidr, "2001:db8::/32");
	assert_true(has_notice(&plan, "localhost (the host itself)"));
	assert_int_equal(plan.relay_domain_count, 1);
	assert_string_equal(plan.relay_domains[0].domain, "backup.example");
	assert_int_equal(plan.dkim_required_count, 2);
	assert_string_equal(plan.dkim_required[0].pattern, "*.bank.example");
	assert_true(has_notice(&plan, "sender verification"));
	assert_true(has_notice(&plan, "Exim's queue is not empty"));
	assert_true(has_notice(&plan, "local Dovecot settings are not carried over"));
	assert_non_null(plan.sieve_before_dir);
	assert_null(plan.sieve_after_dir);
	import_plan_free(&plan);
	tree_remove(root);
}

struct bad_case {
	const char *file;
	const char *content;
	const char *want; /* "FILE:LINE: words" in the problems */
};

static const struct bad_case bad_cases[] = {
	{ "passwd/example.org", "ann:{PLAIN}secret\n", "passwd/example.org:1: plain-text" },
	{ "passwd/example.org", "ann:" SHA512 "\nbob:{FOO}xyz\n", "passwd/example.org:2: unsupported hash scheme" },
	{ "passwd/example.org", "ann:secret\n", "passwd/example.org:1: unsupported hash scheme" },
	{ "passwd/example.org", "ann@example.org:" SHA512 "\n", "passwd/example.org:1: the login is an address" },
	{ "passwd/example.org", "ann:" SHA512 "\nann:" SHA512 "\n", "passwd/example.org:2: ann@example.org is listed twice" },
	{ "passwd/example.org", "ann:" SHA512 "\x01\n", "passwd/example.org:1: the line holds a control character" },
	{ "passwd/exa..mple.org", "ann:" SHA512 "\n", "passwd/exa..mple.org:0: the file's name is no domain" },
	{ "aliases/example.org", "info: ann b@\n", "aliases/example.org:1: info@example.org: the destination" },
	{ "aliases/example.org", "info: |/usr/bin/procmail\n", "aliases/example.org:1: info@example.org: delivery to a pipe" },
	{ "aliases/example.org", "info: /var/mail/x\n", "aliases/example.org:1: info@example.org: delivery to a file" },
	{ "aliases/example.org", "info: :include:/etc/list\n", "aliases/example.org:1: info@example.org: Exim's :include:" },
	{ "aliases/example.org", "info: ann\ninfo: bob\n", "aliases/example.org:2: info@example.org is given twice (first at" },
	{ "aliases/example.org", "ann: bob\n", "aliases/example.org:1: ann@example.org is a user too" },
	{ "aliases/example.org", "  ann\n", "aliases/example.org:1: a continuation line" },
	{ "aliases/example.org", "x@y.org: ann\n", "aliases/example.org:1: the key must be a local part" },
	{ "aliases/example.org", "info:\n", "aliases/example.org:1: info@example.org has no destination" },
	{ "exim/conf/global_aliases", "postmaster: ann\n", "exim/conf/global_aliases:1: postmaster: give the destination as a full address" },
	{ "exim/conf/global_aliases", "postmaster: a@example.org, b@example.org\n", "exim/conf/global_aliases:1: postmaster: a global alias has one destination" },
	{ "exim/conf/global_aliases", "postmaster: a@example.org\npostmaster: b@example.org\n", "exim/conf/global_aliases:2: postmaster is given twice" },
	{ "exim/conf/rewrite_domains", "example.com: nowhere.example\n", "exim/conf/rewrite_domains:1: example.com is rewritten to nowhere.example, which is no domain" },
	{ "exim/conf/rewrite_domains", "example.net: example.org\n", "exim/conf/rewrite_domains:1: example.net has users or aliases" },
	{ "exim/conf/rewrite_domains", "bad_domain!: example.org\n", "exim/conf/rewrite_domains:1: the domain to rewrite" },
	{ "exim/conf/relay_from_hosts", "10.0.0.0/8\nmail.example.net\n", "exim/conf/relay_from_hosts:2: mail.example.net: not an IP network" },
	{ "exim/conf/relay_from_hosts", "192.0.2.7/24\n", "exim/conf/relay_from_hosts:1: 192.0.2.7/24: not an IP network" },
	{ "exim/conf/relay_from_hosts", "10.0.0.0/8 : 10.0.0.0/8\n", "exim/conf/relay_from_hosts:1: 10.0.0.0/8 is given twice" },
	{ "exim/conf/relay_from_hosts", "!10.1.0.0/16\n", "exim/conf/relay_from_hosts:1: !10.1.0.0/16: negated items" },
	{ "exim/conf/relay_to_domains", "*.backup.example\n", "exim/conf/relay_to_domains:1: *.backup.example: patterns are not imported" },
	{ "exim/conf/relay_to_domains", "example.org\n", "exim/conf/relay_to_domains:1: example.org is served here" },
	{ "exim/conf/dkim_required", "^.*bank$\n", "exim/conf/dkim_required:1: ^.*bank$: only domains" },
	{ "exim/conf/dkim_required", "a..b\n", "exim/conf/dkim_required:1: a..b:" },
	{ "ssl/mail.example.org/current/key", "not a key\n", "ssl/mail.example.org/current/key:0: no PEM private key" },
};

static void test_bad_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct import_plan plan;
		char problems[8192];

		good_tree();
		tree_write(root, c->file, c->content);
		if (strncmp(c->file, "ssl/", 4) == 0)
			tree_write(root, "ssl/mail.example.org/current/cert", "not a cert\n");
		read_tree(&plan);
		plan_problems_text(&plan, root, problems, sizeof(problems));
		if (strstr(problems, c->want) == NULL)
			fail_msg("case %zu (%s): want \"%s\" in the problems, got:\n%s", i, c->file, c->want, problems);
		if (strstr(problems, "saltsalt") != NULL || strstr(problems, "secret") != NULL)
			fail_msg("case %zu: a problem quotes the password or hash:\n%s", i, problems);
		import_plan_free(&plan);
		tree_remove(root);
	}
}

static void test_maildirs_elsewhere(void **state)
{
	struct import_plan plan;
	char elsewhere[PATH_MAX + 16];

	(void)state;
	good_tree();
	tree_maildir(root, "moved/example.org/bob/Maildir");
	snprintf(elsewhere, sizeof(elsewhere), "%s/moved", root);
	struct import_options options = { .maildirs = elsewhere };
	import_plan_init(&plan);
	assert_int_equal(import_read_exim_mibe(root, &options, &plan), 0);
	assert_int_equal(plan.problem_count, 0);
	assert_non_null(strstr(import_plan_find_user(&plan, "bob@example.org")->maildir, "moved/example.org/bob/Maildir"));
	/* with --maildirs the tree's own places are not looked at */
	assert_null(import_plan_find_user(&plan, "ann@example.org")->maildir);
	import_plan_free(&plan);
	tree_remove(root);
}

static void test_not_the_tree(void **state)
{
	struct import_plan plan;

	(void)state;
	import_plan_init(&plan);
	assert_int_equal(import_read_exim_mibe("/nonexistent/srv/mail", NULL, &plan), 0);
	assert_int_equal(plan.problem_count, 1);
	assert_non_null(strstr(plan.problems[0].text, "not a directory"));
	import_plan_free(&plan);
	import_plan_init(&plan);
	assert_int_equal(import_read_exim_mibe("/usr", NULL, &plan), 0);
	assert_int_equal(plan.problem_count, 1);
	assert_non_null(strstr(plan.problems[0].text, "no passwd/ directory"));
	import_plan_free(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_tree),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_maildirs_elsewhere),
		cmocka_unit_test(test_not_the_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
