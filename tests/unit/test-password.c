/* test-password.c - hashing new passwords and checking imported hashes */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "password.h"

static void test_argon2id_hash_verifies(void **state)
{
	char hash[MB_HASH_MAX];
	const char *error;

	(void)state;
	assert_int_equal(mb_password_init(&error), 0);
	assert_int_equal(mb_password_hash("correct horse", hash, &error), 0);
	assert_true(strncmp(hash, "{ARGON2ID}$argon2id$v=19$", 25) == 0);
	assert_int_equal(mb_password_hash_check(hash, &error), 0);
	assert_int_equal(mb_password_verify_argon2("correct horse", hash), 1);
	assert_int_equal(mb_password_verify_argon2("correct horsf", hash), 0);
}

static void test_plain_password_rules(void **state)
{
	char hash[MB_HASH_MAX];
	const char *error;

	(void)state;
	assert_int_equal(mb_password_hash("short", hash, &error), -1);
	assert_non_null(strstr(error, "shorter"));
	assert_int_equal(mb_password_check_plain("has\ttab inside", &error), -1);
	assert_int_equal(mb_password_check_plain("ünïcødé password", &error), 0);
}

struct hash_case {
	const char *hash;
	int want;
};

static const struct hash_case hash_cases[] = {
	/* made with doveadm pw -s SCHEME -p test */
	{ "{SHA512-CRYPT}$6$fg2oPU/.HqGtHoMD$0tzWzyVmLRZ4.ofTKQmkdEJ7vK8AQcqNsfkXmd3/hOqZ8FjIdnhQ973W.TXaALZDTgdHJT4ufVTPcaNN.3KZd.", 0 },
	{ "{SHA256-CRYPT}$5$gCQE9xb2rzSk0P3B$uCmsdQpIP1y9VnLO62ItR.ZWozTHOO/aNv0cFSfEeL/", 0 },
	{ "{BLF-CRYPT}$2y$05$33TN/kSUx1iSnVRzeD5zteDOeGIFeemNeueF5po/362EfBtP89GS2", 0 },
	{ "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$cu7L2r1NkKoZ25CXIXqRyA$40pJ/umzjk7Aeg86TnVgyE4OaWJFBdOkv0TLBqbM6ug", 0 },
	{ "{PLAIN}secret", -1 },
	{ "{MD5-CRYPT}$1$abc$def", -1 },
	{ "$6$nosaltprefix$xyz", -1 },
	{ "{SHA512-CRYPT}$5$wrongmagic", -1 },
	{ "{SHA512-CRYPT}$6$short", -1 },
	{ "{ARGON2ID}$argon2id$ with space", -1 },
	{ "", -1 },
};

static void test_hash_check_table(void **state)
{
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(hash_cases) / sizeof(hash_cases[0]); i++) {
		int got = mb_password_hash_check(hash_cases[i].hash, &error);
		if (got != hash_cases[i].want)
			fail_msg("case %zu '%s': got %d want %d", i, hash_cases[i].hash, got, hash_cases[i].want);
	}
}

static void test_generated_passwords_differ(void **state)
{
	char a[21], b[21];
	const char *error;

	(void)state;
	assert_int_equal(mb_password_init(&error), 0);
	mb_password_generate(a, 20);
	mb_password_generate(b, 20);
	assert_int_equal(strlen(a), 20);
	assert_string_not_equal(a, b);
	assert_int_equal(mb_password_check_plain(a, &error), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argon2id_hash_verifies),
		cmocka_unit_test(test_plain_password_rules),
		cmocka_unit_test(test_hash_check_table),
		cmocka_unit_test(test_generated_passwords_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
