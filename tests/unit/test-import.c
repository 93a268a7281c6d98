/* test-import.c - the Dovecot passwd-file line parser of `mailbag user import` */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "import-passwd.h"
#include "store.h"

#define SHA512 "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
#define BARE "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"

struct line_case {
	const char *line;
	const char *domain;
	int want;                  /* 1 entry, 0 skipped, -1 refused */
	const char *want_address;  /* or the refusal's words */
	const char *want_home;
	uint64_t want_quota;
};

static const struct line_case cases[] = {
	{ "ann@Example.ORG:" SHA512, NULL, 1, "ann@example.org", "", MB_LIMIT_DEFAULT },
	{ "ann@example.org:" BARE, NULL, 1, "ann@example.org", "", MB_LIMIT_DEFAULT },
	{ "ann:" SHA512, "example.org", 1, "ann@example.org", "", MB_LIMIT_DEFAULT },
	{ "ann@example.org:" SHA512 ":5000:5000::/srv/mail/ann::", NULL, 1, "ann@example.org", "/srv/mail/ann", MB_LIMIT_DEFAULT },
	{ "ann@example.org:" SHA512 ":::::: userdb_quota_rule=*:storage=1G", NULL, 1, "ann@example.org", "", 1ULL << 30 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:storage=2048 nopassword", NULL, 1, "ann@example.org", "", 2048ULL * 1024 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:bytes=5000", NULL, 1, "ann@example.org", "", 5000 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:storage=100MB", NULL, 1, "ann@example.org", "", 100ULL << 20 },
	/* Dovecot 2.4's passwd-file: a size setting, bytes without a unit */
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=1G", NULL, 1, "ann@example.org", "", 1ULL << 30 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=5000", NULL, 1, "ann@example.org", "", 5000 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=100MiB", NULL, 1, "ann@example.org", "", 100ULL << 20 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=unlimited", NULL, 1, "ann@example.org", "", 0 },
	{ "", NULL, 0, NULL, NULL, 0 },
	{ "   ", NULL, 0, NULL, NULL, 0 },
	{ "# ann@example.org:{PLAIN}x", NULL, 0, NULL, NULL, 0 },
	{ "ann:" SHA512, NULL, -1, "no @domain", NULL, 0 },
	{ ":" SHA512, NULL, -1, "login (first field) is empty", NULL, 0 },
	{ "ann@example.org", NULL, -1, "expected LOGIN:HASH", NULL, 0 },
	{ "ann@example.org:", NULL, -1, "hash (second field) is empty", NULL, 0 },
	{ "ann@example.org:{PLAIN}secret", NULL, -1, "plain-text", NULL, 0 },
	{ "ann@example.org:{CLEARTEXT}secret", NULL, -1, "plain-text", NULL, 0 },
	{ "ann@example.org:{MD5}abc", NULL, -1, "unsupported hash scheme", NULL, 0 },
	{ "ann@example.org:secret", NULL, -1, "unsupported hash scheme", NULL, 0 },
	{ "ann@example.org:{SHA512-CRYPT}nope", NULL, -1, "form its {SCHEME}", NULL, 0 },
	{ "ann@@example.org:" SHA512, NULL, -1, "", NULL, 0 },
	{ "ann@example.org:" SHA512 ":1:1::relative/home::", NULL, -1, "absolute path", NULL, 0 },
	{ "ann@example.org:" SHA512 ":1:1::/srv/../etc::", NULL, -1, "absolute path", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:storage=lots", NULL, -1, "userdb_quota_rule", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=lots", NULL, -1, "userdb_quota_storage_size", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=", NULL, -1, "userdb_quota_storage_size", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=1GiBB", NULL, -1, "userdb_quota_storage_size", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_storage_size=18014398509481984G", NULL, -1, "userdb_quota_storage_size", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=INBOX:storage=1G", NULL, -1, "userdb_quota_rule", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:storage=99999999999999999999", NULL, -1, "userdb_quota_rule", NULL, 0 },
	{ "ann@example.org:" SHA512 "::::::userdb_quota_rule=*:storage=18014398509481984G", NULL, -1, "userdb_quota_rule", NULL, 0 },
	{ "ann@example.org:" SHA512 "\x01", NULL, -1, "control character", NULL, 0 },
};

static void test_line_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct line_case *c = &cases[i];
		struct mb_passwd_entry entry;
		const char *why = "";
		int got = mb_passwd_line_parse(c->line, strlen(c->line), c->domain, &entry, &why);
		if (got != c->want)
			fail_msg("case %zu '%s': got %d (%s), want %d", i, c->line, got, why, c->want);
		if (got < 0 && strstr(why, c->want_address) == NULL)
			fail_msg("case %zu: refusal '%s' does not say '%s'", i, why, c->want_address);
		if (got < 0 && strstr(why, "saltsalt") != NULL)
			fail_msg("case %zu: the refusal quotes the hash", i);
		if (got <= 0)
			continue;
		assert_string_equal(entry.address, c->want_address);
		assert_string_equal(entry.home, c->want_home);
		assert_true(entry.quota_bytes == c->want_quota);
		assert_string_equal(entry.hash, SHA512); /* a bare crypt string gains its scheme */
	}
}

static void test_bounds(void **state)
{
	static char line[MB_PASSWD_LINE_MAX + 100];
	struct mb_passwd_entry entry;
	const char *why;

	(void)state;
	/* over the line limit */
	memset(line, 'a', sizeof(line));
	assert_int_equal(mb_passwd_line_parse(line, sizeof(line), NULL, &entry, &why), -1);
	assert_non_null(strstr(why, "longer than"));
	/* a NUL inside the given length */
	assert_int_equal(mb_passwd_line_parse("a@b.c\0:" SHA512, 7 + strlen(SHA512), NULL, &entry, &why), -1);
	/* a login too long for an address with the default domain */
	memset(line, 'x', 300);
	snprintf(line + 300, sizeof(line) - 300, ":%s", SHA512);
	assert_int_equal(mb_passwd_line_parse(line, strlen(line), "example.org", &entry, &why), -1);
	/* a hash over the store's limit */
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "a@example.org:{SHA512-CRYPT}$6$");
	memset(line + strlen(line), 'h', 400);
	assert_int_equal(mb_passwd_line_parse(line, strlen(line), NULL, &entry, &why), -1);
	/* only the given bytes are read: the rest of the buffer is not the line */
	assert_int_equal(mb_passwd_line_parse("a@example.org:" SHA512 "junk", strlen("a@example.org:" SHA512),
					      NULL, &entry, &why), 1);
	assert_string_equal(entry.hash, SHA512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_table),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
