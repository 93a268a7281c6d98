/* test-import-apply.c - an import plan checked against an LMDB store and
 * written (cli/import-apply.c, import-apply-keys.c): what is new is made,
 * a second run changes nothing, an existing user with another hash and an
 * alias to nothing are problems naming FILE:LINE with nothing written,
 * --dry-run writes nothing, an imported DKIM key is kept with its
 * selector and made the signing key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sysexits.h>

#include "store-fixture.h"
#include "cli.h"
#include "dkim-rotation.h"
#include "import-apply.h"
#include "import-hash.h"

#define SHA512_CRYPT "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
#define OTHER_CRYPT "{SHA512-CRYPT}$6$othersal$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"

struct apply_fixture {
	struct store_fixture *store;
	struct cli cli;
	char key_file[256];
};

static int setup(void **state)
{
	char text[2048], error[512];
	if (store_fixture_setup(state) < 0)
		return -1;
	struct apply_fixture *f = calloc(1, sizeof(*f));
	f->store = *state;
	snprintf(text, sizeof(text),
		 "{\"hostname\": \"mx.test\", \"store\": \"%s\", \"mail_root\": \"%s/vmail\","
		 " \"dkim\": {\"key_dir\": \"%s/dkim\"}}", f->store->location, f->store->dir, f->store->dir);
	if (mb_context_parse("test", text, strlen(text), &f->cli.ctx, error, sizeof(error)) < 0) {
		fprintf(stderr, "context: %s\n", error);
		return -1;
	}
	f->cli.store = f->store->store;
	f->cli.command = "import";
	/* an RSA key as the old set-up's signer kept it */
	snprintf(f->key_file, sizeof(f->key_file), "%s/old.private", f->store->dir);
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	FILE *out = fopen(f->key_file, "w");
	if (key == NULL || out == NULL || PEM_write_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL) != 1)
		return -1;
	fclose(out);
	EVP_PKEY_free(key);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct apply_fixture *f = *state;
	char command[256];
	snprintf(command, sizeof(command), "rm -rf '%s'", f->store->dir);
	mb_context_free(&f->cli.ctx);
	mb_store_close(&f->store->store);
	if (system(command) != 0)
		return -1;
	free(f->store);
	free(f);
	return 0;
}

/* a plan as a reader makes it: d.example with a, r (no password), x -> a */
static void make_plan(struct import_plan *plan, const char *a_hash, const char *key_file)
{
	import_plan_init(plan);
	assert_int_equal(import_plan_domain(plan, "d.example", "userdb", 1), 0);
	struct import_user a = { .address = "a@d.example", .hash = (char *)a_hash, .quota_bytes = 5000 };
	struct import_user r = { .address = "r@d.example", .reset_reason = "only hmac-md5pw" };
	assert_int_equal(import_plan_user(plan, &a, "userdb", 1), 0);
	assert_int_equal(import_plan_user(plan, &r, "userdb", 2), 0);
	const char *targets[] = { "a@d.example", "far@elsewhere.test" };
	assert_int_equal(import_plan_alias(plan, "x@d.example", targets, 2, "virtuals", 3), 0);
	if (key_file != NULL)
		assert_int_equal(import_plan_dkim_key(plan, "d.example", "old2020", key_file, "keys", 4), 0);
}

static bool has_problem(const struct import_plan *plan, const char *file, size_t line, const char *words)
{
	for (size_t i = 0; i < plan->problem_count; i++) {
		if (strcmp(plan->problems[i].origin.file, file) == 0 && plan->problems[i].origin.line == line &&
		    strstr(plan->problems[i].text, words) != NULL)
			return true;
	}
	return false;
}

static void test_made_then_unchanged(void **state)
{
	struct apply_fixture *f = *state;
	struct import_apply_options options = { .mail = IMPORT_MAIL_DECIDE };
	struct import_plan plan;
	struct mb_user user;
	struct mb_alias alias;
	char error[512], path[512];

	make_plan(&plan, SHA512_CRYPT, f->key_file);
	assert_int_equal(import_apply(&f->cli, &plan, &options), EX_OK);
	assert_int_equal(plan.problem_count, 0);
	assert_int_equal(mb_store_domain_exists(f->cli.store, "d.example", error, sizeof(error)), 1);
	assert_int_equal(mb_store_user_get(f->cli.store, "a@d.example", &user, error, sizeof(error)), 1);
	assert_string_equal(user.password_hash, SHA512_CRYPT);
	assert_int_equal(user.quota_bytes, 5000);
	mb_user_clear(&user);
	assert_int_equal(mb_store_user_get(f->cli.store, "r@d.example", &user, error, sizeof(error)), 1);
	assert_string_equal(user.password_hash, IMPORT_RESET_HASH);
	mb_user_clear(&user);
	assert_int_equal(mb_store_alias_get(f->cli.store, "x@d.example", &alias, error, sizeof(error)), 1);
	assert_int_equal(alias.target_count, 2);
	mb_alias_clear(&alias);
	/* the key kept under its selector, and it signs */
	snprintf(path, sizeof(path), "%s/dkim/d.example/old2020.key", f->store->dir);
	assert_int_equal(access(path, R_OK), 0);
	struct mb_dkim_rotation rotation;
	snprintf(path, sizeof(path), "%s/dkim/d.example", f->store->dir);
	assert_int_equal(mb_dkim_rotation_read(path, &rotation, error, sizeof(error)), 1);
	assert_int_equal(rotation.signing.count, 1);
	assert_string_equal(rotation.signing.selectors[0], "old2020");
	import_plan_free(&plan);

	/* again: everything unchanged, nothing refused */
	make_plan(&plan, SHA512_CRYPT, f->key_file);
	assert_int_equal(import_apply(&f->cli, &plan, &options), EX_OK);
	assert_int_equal(plan.problem_count, 0);
	import_plan_free(&plan);
}

static void test_conflicts_write_nothing(void **state)
{
	struct apply_fixture *f = *state;
	struct import_apply_options options = { .mail = IMPORT_MAIL_DECIDE };
	struct import_plan plan;
	struct mb_user user;
	char error[512];

	make_plan(&plan, SHA512_CRYPT, NULL);
	assert_int_equal(import_apply(&f->cli, &plan, &options), EX_OK);
	import_plan_free(&plan);

	/* a with another hash, and a new domain e.example with an alias to nobody */
	make_plan(&plan, OTHER_CRYPT, NULL);
	assert_int_equal(import_plan_domain(&plan, "e.example", "domains", 7), 0);
	const char *nobody[] = { "nobody@e.example" };
	assert_int_equal(import_plan_alias(&plan, "y@e.example", nobody, 1, "virtuals", 8), 0);
	const char *over[] = { "a@d.example" };
	assert_int_equal(import_plan_alias(&plan, "r@d.example", over, 1, "virtuals", 9), 0);
	assert_int_equal(import_apply(&f->cli, &plan, &options), EX_DATAERR);
	assert_true(has_problem(&plan, "userdb", 1, "user a@d.example exists already with another password"));
	assert_true(has_problem(&plan, "virtuals", 8, "target nobody@e.example is on a domain served here"));
	assert_true(has_problem(&plan, "virtuals", 9, "r@d.example is a user of the import too"));
	import_plan_free(&plan);
	assert_int_equal(mb_store_domain_exists(f->cli.store, "e.example", error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_get(f->cli.store, "a@d.example", &user, error, sizeof(error)), 1);
	assert_string_equal(user.password_hash, SHA512_CRYPT);
	mb_user_clear(&user);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct apply_fixture *f = *state;
	struct import_apply_options options = { .dry_run = true, .mail = IMPORT_MAIL_DECIDE };
	struct import_plan plan;
	char error[512], path[512];

	make_plan(&plan, SHA512_CRYPT, f->key_file);
	assert_int_equal(import_apply(&f->cli, &plan, &options), EX_OK);
	import_plan_free(&plan);
	assert_int_equal(mb_store_domain_exists(f->cli.store, "d.example", error, sizeof(error)), 0);
	snprintf(path, sizeof(path), "%s/dkim/d.example/old2020.key", f->store->dir);
	assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_made_then_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
