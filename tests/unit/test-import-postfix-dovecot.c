/* test-import-postfix-dovecot.c - the postfix-dovecot reader of `mailbag
 *	import` (cli/import-postfix-dovecot.c): a good checkout (settings.env
 *	beside _server_workspace_) read whole, then one bad file at a time,
 *	each refusal named FILE:LINE */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "import-postfix-dovecot.h"
#include "import-tree-fixture.h"

static char root[PATH_MAX];

/* a real RSA key in PEM at root/rel, as opendkim-genkey writes it */
static void write_key(const char *rel)
{
	char path[3 * PATH_MAX];
	EVP_PKEY *key = EVP_RSA_gen(1024);
	if (key == NULL)
		abort();
	tree_write(root, rel, "");
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	if (f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(f);
	EVP_PKEY_free(key);
}

#define WS "_server_workspace_/"

static void good_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/test-import-pd.XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	tree_write(root, "settings.env",
		   "# Name of your main email domain.\n"
		   "DOMAIN=wombathub.de\n"
		   "HOSTNAME=mail.wombathub.de\n"
		   "ADMIN_EMAIL=admin@wombathub.de\n"
		   "ADDITIONAL_DOMAINS=entropiesenke.de, example.net\n"
		   "DKIM_KEY_SELECTOR=mailserver\n"
		   "METRICS=true\n"
		   "GF_SERVER_ROOT_URL=https://${HOSTNAME}/monitoring/\n");
	tree_write(root, WS "etc/dovecot/passwd",
		   "karl@wombathub.de:" SHA512 ":2001:2001:/host/mail/inboxes/karl@wombathub.de::\n"
		   "meier@entropiesenke.de:" BARE_SHA512 ":2001:2001:/host/mail/inboxes/meier@entropiesenke.de::\n"
		   "otto@wombathub.de:{SSHA256}c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0:2001:2001::::\n"
		   "jens@wombathub.de:{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99:2001:2001::::\n");
	tree_write(root, WS "etc/postfix/valias",
		   "postmaster@entropiesenke.de karl\n"
		   "abuse@entropiesenke.de karl\n"
		   "team@wombathub.de karl, meier@entropiesenke.de,friend@outside.example\n"
		   "@example.net karl@wombathub.de\n");
	write_key(WS "etc/opendkim/keys/mailserver.private");
	write_key(WS "etc/opendkim/keys/example.net/mailserver.private");
	tree_maildir(root, WS "mail/inboxes/wombathub.de/karl@wombathub.de/Maildir");
}

static void read_tree(struct import_plan *plan, const char *path)
{
	import_plan_init(plan);
	assert_int_equal(import_read_postfix_dovecot(path, NULL, plan), 0);
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

static void check_good_plan(const struct import_plan *cplan)
{
	struct import_plan *plan = (struct import_plan *)cplan;
	char problems[4096];

	plan_problems_text(plan, root, problems, sizeof(problems));
	if (plan->problem_count != 0)
		fail_msg("problems in a good tree:\n%s", problems);
	assert_int_equal(plan->domain_count, 3);
	assert_string_equal(plan->domains[0].name, "wombathub.de");
	assert_string_equal(plan->domains[2].name, "example.net");
	assert_int_equal(plan->user_count, 4);
	assert_non_null(import_plan_find_user(plan, "otto@wombathub.de")->hash); /* the seed's SSHA256, kept */
	struct import_user *karl = import_plan_find_user(plan, "karl@wombathub.de");
	assert_string_equal(karl->hash, SHA512);
	assert_null(karl->home); /* the container's path is not kept */
	assert_non_null(strstr(karl->maildir, "mail/inboxes/wombathub.de/karl@wombathub.de/Maildir"));
	assert_string_equal(import_plan_find_user(plan, "meier@entropiesenke.de")->hash, SHA512);
	struct import_user *jens = import_plan_find_user(plan, "jens@wombathub.de");
	assert_null(jens->hash);
	assert_non_null(strstr(jens->reset_reason, "PLAIN-MD5"));
	assert_true(has_notice(plan, "meier@entropiesenke.de has no Maildir"));

	const struct import_alias *pm = find_alias(plan, "postmaster@entropiesenke.de");
	assert_non_null(pm);
	assert_string_equal(pm->targets[0], "karl@wombathub.de");
	const struct import_alias *team = find_alias(plan, "team@wombathub.de");
	assert_int_equal(team->target_count, 3);
	assert_string_equal(team->targets[2], "friend@outside.example");
	assert_non_null(find_alias(plan, "@example.net"));

	assert_int_equal(plan->dkim_key_count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(plan->dkim_keys[i].selector, "mailserver");
	assert_string_equal(plan->dkim_keys[0].domain, "wombathub.de");
	assert_non_null(strstr(plan->dkim_keys[0].private_key_file, "keys/mailserver.private"));
	assert_non_null(strstr(plan->dkim_keys[2].private_key_file, "keys/example.net/mailserver.private"));
	assert_true(has_notice(plan, "the server was mail.wombathub.de"));
}

static void test_good_tree(void **state)
{
	struct import_plan plan;
	char workspace[PATH_MAX + 32];

	(void)state;
	good_tree();
	read_tree(&plan, root);
	check_good_plan(&plan);
	import_plan_free(&plan);
	/* the workspace given, settings.env found beside it */
	snprintf(workspace, sizeof(workspace), "%s/_server_workspace_", root);
	read_tree(&plan, workspace);
	check_good_plan(&plan);
	import_plan_free(&plan);
	tree_remove(root);
}

struct bad_case {
	const char *file;
	const char *content;
	const char *want; /* "FILE:LINE: words" in the problems */
};

static const struct bad_case bad_cases[] = {
	{ "settings.env", "HOSTNAME=x.example\n", "settings.env:0: DOMAIN is not set" },
	{ "settings.env", "DOMAIN=\"wombathub.de\"\n", "settings.env:1: DOMAIN is quoted" },
	{ "settings.env", "DOMAIN=wombathub.de\nDOMAIN=x.de\n", "settings.env:2: DOMAIN is given twice" },
	{ "settings.env", "DOMAIN=wombathub.de\nnonsense\n", "settings.env:2: expected KEY=VALUE" },
	{ "settings.env", "DOMAIN=wombat..de\n", "settings.env:1: the domain wombat..de" },
	{ "settings.env", "DOMAIN=wombathub.de\nADDITIONAL_DOMAINS=a.de,wombathub.de\n", "settings.env:2: wombathub.de is given twice" },
	{ "settings.env", "DOMAIN=wombathub.de\nDKIM_KEY_SELECTOR=mail/../x\n", "settings.env:2: DKIM_KEY_SELECTOR must be" },
	{ WS "etc/dovecot/passwd", "karl@wombathub.de:{PLAIN}secret::::::\n", WS "etc/dovecot/passwd:1: plain-text" },
	{ WS "etc/dovecot/passwd", "karl@wombathub.de:{FOO}abc\n", WS "etc/dovecot/passwd:1: unsupported hash scheme" },
	{ WS "etc/dovecot/passwd", "karl@wombathub.de:" SHA512 "\nkarl@wombathub.de:" SHA512 "\n", WS "etc/dovecot/passwd:2: karl@wombathub.de is listed twice" },
	{ WS "etc/dovecot/passwd", "karl@elsewhere.example:" SHA512 "\n", WS "etc/dovecot/passwd:1: karl@elsewhere.example is in no domain" },
	{ WS "etc/dovecot/passwd", "karl@@wombathub.de:" SHA512 "\n", WS "etc/dovecot/passwd:1:" },
	{ WS "etc/postfix/valias", "info@wombathub.de nobody\n", WS "etc/postfix/valias:1: info@wombathub.de: the target nobody@wombathub.de is no user" },
	{ WS "etc/postfix/valias", "info@wombathub.de karl\ninfo@wombathub.de karl\n", WS "etc/postfix/valias:2: info@wombathub.de is given twice" },
	{ WS "etc/postfix/valias", "info@wombathub.de\n", WS "etc/postfix/valias:1: expected ALIAS TARGET" },
	{ WS "etc/postfix/valias", "info karl\n", WS "etc/postfix/valias:1: the alias info: the alias must be a full address" },
	{ WS "etc/postfix/valias", "info@other.example karl\n", WS "etc/postfix/valias:1: info@other.example is in no domain" },
	{ WS "etc/postfix/valias", "karl@wombathub.de meier@entropiesenke.de\n", WS "etc/postfix/valias:1: karl@wombathub.de is a user too" },
	{ WS "etc/postfix/valias", "info@wombathub.de |/bin/sh\n", WS "etc/postfix/valias:1: info@wombathub.de: the target |/bin/sh is no address" },
	{ WS "etc/postfix/valias", "info@wombathub.de a@b@c\n", WS "etc/postfix/valias:1: info@wombathub.de: the target a@b@c" },
	{ WS "etc/opendkim/keys/mailserver.private", "-----BEGIN PRIVATE KEY-----\nnope\n", WS "etc/opendkim/keys/mailserver.private:0: no PEM private key" },
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
		read_tree(&plan, root);
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
	tree_maildir(root, "inboxes/entropiesenke.de/meier@entropiesenke.de");
	snprintf(elsewhere, sizeof(elsewhere), "%s/inboxes", root);
	struct import_options options = { .maildirs = elsewhere };
	import_plan_init(&plan);
	assert_int_equal(import_read_postfix_dovecot(root, &options, &plan), 0);
	assert_int_equal(plan.problem_count, 0);
	assert_non_null(strstr(import_plan_find_user(&plan, "meier@entropiesenke.de")->maildir,
			       "inboxes/entropiesenke.de/meier@entropiesenke.de"));
	assert_null(import_plan_find_user(&plan, "karl@wombathub.de")->maildir);
	import_plan_free(&plan);
	tree_remove(root);
}

static void test_no_settings(void **state)
{
	struct import_plan plan;
	char problems[4096];

	(void)state;
	good_tree();
	tree_write(root, "settings.env", NULL);
	read_tree(&plan, root);
	plan_problems_text(&plan, root, problems, sizeof(problems));
	assert_non_null(strstr(problems, "settings.env:0: not there"));
	import_plan_free(&plan);
	tree_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_tree),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_maildirs_elsewhere),
		cmocka_unit_test(test_no_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
