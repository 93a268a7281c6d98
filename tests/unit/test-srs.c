/* test-srs.c - lib/srs.c: SRS0/SRS1 addresses, hashes, day stamps,
 * secrets and their files. PostSRSd's own test vectors (secret
 * "tops3cr3t", 2020-01-01) show the addresses are libsrs2's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srs.h"

#define DAY (24 * 60 * 60)
static const time_t new_year_2020 = 1577836800; /* stamp "2W" */

static char secret_postsrsd[] = "tops3cr3t";
static char secret_other[] = "another secret of enough length";

static struct mb_srs_secrets one_secret(char *secret)
{
	struct mb_srs_secrets s = { 0 };
	s.count = 1;
	s.secret[0] = secret;
	s.len[0] = strlen(secret);
	return s;
}

static void want_forward(const struct mb_srs *srs, const char *sender, time_t now, int want_ret,
			 const char *want)
{
	char out[MB_ADDRESS_MAX + 1];
	const char *error = NULL;
	int ret = mb_srs_forward(srs, sender, now, out, sizeof(out), &error);

	if (ret != want_ret)
		fail_msg("forward %s: got %d (%s), want %d", sender, ret, error ? error : "", want_ret);
	if (ret == 1 && strcmp(out, want) != 0)
		fail_msg("forward %s: got %s, want %s", sender, out, want);
}

static void want_reverse(const struct mb_srs *srs, const char *address, time_t now, int want_ret,
			 const char *want)
{
	char out[MB_ADDRESS_MAX + 1];
	const char *error = NULL;
	int ret = mb_srs_reverse(srs, address, now, out, sizeof(out), &error);

	if (ret != want_ret)
		fail_msg("reverse %s: got %d (%s), want %d", address, ret, error ? error : "", want_ret);
	if (ret == 1 && strcmp(out, want) != 0)
		fail_msg("reverse %s: got %s, want %s", address, out, want);
	if (ret < 0 && (error == NULL || error[0] == '\0'))
		fail_msg("reverse %s: refused without a reason", address);
}

static void test_postsrsd_vectors(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_postsrsd);
	struct mb_srs srs = { &secrets, "example.com", 21 };

	want_forward(&srs, "sender@otherdomain.com", new_year_2020, 1,
		     "SRS0=9KJ-=2W=otherdomain.com=sender@example.com");
	want_forward(&srs, "SRS0=opaque+string@otherdomain.com", new_year_2020, 1,
		     "SRS1=chaI=otherdomain.com==opaque+string@example.com");
	want_forward(&srs, "SRS1=X=thirddomain.com==opaque+string@otherdomain.com", new_year_2020, 1,
		     "SRS1=JIBX=thirddomain.com==opaque+string@example.com");
	want_reverse(&srs, "SRS0=XjO9=2V=otherdomain.com=test@example.com", new_year_2020, 1,
		     "test@otherdomain.com");
	want_reverse(&srs, "SRS1=JIBX=thirddomain.com==opaque+string@example.com", new_year_2020, 1,
		     "SRS0=opaque+string@thirddomain.com");
	/* PostSRSd's own: out of date both ways, a forged hash */
	want_reverse(&srs, "SRS0=te87=T7=otherdomain.com=test@example.com", new_year_2020, -1, NULL);
	want_reverse(&srs, "SRS0=VcIb=7N=otherdomain.com=test@example.com", new_year_2020, -1, NULL);
	want_reverse(&srs, "SRS0=FAKE=2V=otherdomain.com=test@example.com", new_year_2020, -1, NULL);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_other);
	struct mb_srs srs = { &secrets, "mx.example.org", 21 };
	const char *senders[] = { "alice@outside.example", "a.b-c+d@sub.outside.example", "x=y@outside.example" };
	time_t now = 1800000000;

	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		char srs_address[MB_ADDRESS_MAX + 1], back[MB_ADDRESS_MAX + 1];
		const char *error = NULL;
		assert_int_equal(mb_srs_forward(&srs, senders[i], now, srs_address, sizeof(srs_address), &error), 1);
		assert_true(mb_srs_is_srs(srs_address));
		assert_int_equal(strncmp(srs_address, "SRS0=", 5), 0);
		assert_non_null(strstr(srs_address, "@mx.example.org"));
		/* good for max_age days, on the last one too */
		want_reverse(&srs, srs_address, now, 1, senders[i]);
		want_reverse(&srs, srs_address, now + 21 * DAY, 1, senders[i]);
		(void)back;
	}
}

static void test_not_rewritten(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_other);
	struct mb_srs srs = { &secrets, "mx.example.org", 21 };

	want_forward(&srs, "", 0, 0, NULL);
	want_forward(&srs, "no-at-sign", 0, 0, NULL);
	want_forward(&srs, "x@=weird", 0, 0, NULL);
	want_forward(&srs, "x@[192.0.2.1]", 0, 0, NULL);
	want_forward(&srs, "someone@mx.example.org", 0, 0, NULL);
	want_forward(&srs, "someone@MX.Example.ORG", 0, 0, NULL);
	/* not SRS addresses, or not ours */
	want_reverse(&srs, "alice@mx.example.org", 0, 0, NULL);
	want_reverse(&srs, "srs0x@mx.example.org", 0, 0, NULL);
	want_reverse(&srs, "SRS0=abcd=AA=a.example=b@elsewhere.example", 0, 0, NULL);
	want_reverse(&srs, "mx.example.org", 0, 0, NULL);
}

static void test_srs1_chain(void **state)
{
	(void)state;
	struct mb_srs_secrets first = one_secret(secret_postsrsd), second = one_secret(secret_other);
	struct mb_srs a = { &first, "first.example", 21 }, b = { &second, "second.example", 21 };
	char srs0[MB_ADDRESS_MAX + 1], srs1[MB_ADDRESS_MAX + 1], srs1_again[MB_ADDRESS_MAX + 1];
	const char *error;

	assert_int_equal(mb_srs_forward(&a, "alice@origin.example", new_year_2020, srs0, sizeof(srs0), &error), 1);
	assert_int_equal(mb_srs_forward(&b, srs0, new_year_2020, srs1, sizeof(srs1), &error), 1);
	assert_int_equal(strncmp(srs1, "SRS1=", 5), 0);
	assert_non_null(strstr(srs1, "=first.example==")); /* the first forwarder kept */
	/* the way back: second -> first's SRS0 -> alice */
	want_reverse(&b, srs1, new_year_2020, 1, srs0);
	want_reverse(&a, srs0, new_year_2020, 1, "alice@origin.example");
	/* a third forwarder re-signs the SRS1 address but keeps the first one */
	struct mb_srs c = { &first, "third.example", 21 };
	assert_int_equal(mb_srs_forward(&c, srs1, new_year_2020, srs1_again, sizeof(srs1_again), &error), 1);
	assert_non_null(strstr(srs1_again, "=first.example=="));
	want_reverse(&c, srs1_again, new_year_2020, 1, srs0);
}

static void test_forged_and_altered(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_other), stranger = one_secret(secret_postsrsd);
	struct mb_srs srs = { &secrets, "mx.example.org", 21 }, other = { &stranger, "mx.example.org", 21 };
	char good[MB_ADDRESS_MAX + 1], forged[MB_ADDRESS_MAX + 1], altered[MB_ADDRESS_MAX + 1];
	const char *error;
	time_t now = 1800000000;

	assert_int_equal(mb_srs_forward(&srs, "alice@outside.example", now, good, sizeof(good), &error), 1);
	/* signed with a secret we do not have */
	assert_int_equal(mb_srs_forward(&other, "alice@outside.example", now, forged, sizeof(forged), &error), 1);
	if (strncasecmp(forged, good, 10) != 0)
		want_reverse(&srs, forged, now, -1, NULL);
	/* another original address under the same hash */
	snprintf(altered, sizeof(altered), "%s", good);
	char *local = strstr(altered, "=alice@");
	assert_non_null(local);
	memcpy(local, "=alicf@", 7);
	want_reverse(&srs, altered, now, -1, NULL);
	/* another domain */
	snprintf(altered, sizeof(altered), "%s", good);
	char *domain = strstr(altered, "outside");
	memcpy(domain, "outsidf", 7);
	want_reverse(&srs, altered, now, -1, NULL);
	/* another day stamp under the same hash */
	snprintf(altered, sizeof(altered), "%s", good);
	altered[11] = altered[11] == 'A' ? 'B' : 'A';
	want_reverse(&srs, altered, now, -1, NULL);
	/* malformed ones */
	const char *malformed[] = {
		"SRS0=@mx.example.org", "SRS0==@mx.example.org", "SRS0=abcd@mx.example.org",
		"SRS0=abcd=AA@mx.example.org", "SRS0=abcd=AA=outside.example@mx.example.org",
		"SRS0=abcd=AA=outside.example=@mx.example.org", "SRS0=abc=AA=o.example=x@mx.example.org",
		"SRS0=abcde=AA=o.example=x@mx.example.org", "SRS0=abcd=A=o.example=x@mx.example.org",
		"SRS0=abcd=A1=o.example=x@mx.example.org", "SRS0=abcd==o.example=x@mx.example.org",
		"SRS0=abcd=AA==x@mx.example.org", "SRS1=@mx.example.org", "SRS1=abcd@mx.example.org",
		"SRS1=abcd=host@mx.example.org", "SRS1=abcd=host=@mx.example.org", "SRS1=abcd==x@mx.example.org",
		"SRS1=ab=host==x@mx.example.org",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		want_reverse(&srs, malformed[i], now, -1, NULL);
}

static void test_stamps(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_other);
	struct mb_srs srs = { &secrets, "mx.example.org", 21 };
	char address[MB_ADDRESS_MAX + 1];
	const char *error;
	time_t now = 1800000000;

	assert_int_equal(mb_srs_forward(&srs, "alice@outside.example", now, address, sizeof(address), &error), 1);
	want_reverse(&srs, address, now + 22 * DAY, -1, NULL);     /* expired */
	want_reverse(&srs, address, now - DAY, -1, NULL);          /* from the future */
	want_reverse(&srs, address, now + 1024 * DAY, 1, "alice@outside.example"); /* the stamp wraps, as libsrs2's */
	srs.max_age_days = 100;
	want_reverse(&srs, address, now + 99 * DAY, 1, "alice@outside.example");
	/* across the wrap of the 1024 day cycle */
	time_t before_wrap = (time_t)1023 * DAY + 1024 * 1024 * (time_t)DAY / 1024 * 17;
	srs.max_age_days = 21;
	assert_int_equal(mb_srs_forward(&srs, "bob@outside.example", before_wrap, address, sizeof(address), &error), 1);
	want_reverse(&srs, address, before_wrap + 3 * DAY, 1, "bob@outside.example");
	char stamp[3];
	mb_srs_timestamp(new_year_2020, stamp);
	assert_string_equal(stamp, "2W");
}

static void test_case_folding(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_postsrsd);
	struct mb_srs srs = { &secrets, "example.com", 21 };

	/* Postfix lower-cases keys; the hash and stamp still verify */
	want_reverse(&srs, "srs0=xjo9=2v=otherdomain.com=test@example.com", new_year_2020, 1, "test@otherdomain.com");
	want_reverse(&srs, "SRS0=XJO9=2V=OTHERDOMAIN.COM=TEST@EXAMPLE.COM", new_year_2020, 1, "TEST@OTHERDOMAIN.COM");
	/* libsrs2's '+' for PostSRSd's '-' */
	want_reverse(&srs, "srs0=9kj+=2w=otherdomain.com=sender@example.com", new_year_2020, 1,
		     "sender@otherdomain.com");
	want_forward(&srs, "Sender@OtherDomain.com", new_year_2020, 1,
		     "SRS0=9KJ-=2W=OtherDomain.com=Sender@example.com");
	want_forward(&srs, "x@EXAMPLE.com", new_year_2020, 0, NULL);
}

static void test_rotation(void **state)
{
	(void)state;
	struct mb_srs_secrets old = one_secret(secret_postsrsd), secrets = { 0 };
	struct mb_srs old_srs = { &old, "example.com", 21 };
	char address[MB_ADDRESS_MAX + 1], error[256];
	const char *why;

	assert_int_equal(mb_srs_forward(&old_srs, "alice@outside.example", new_year_2020, address, sizeof(address), &why), 1);
	/* a rotation: a new first line, the old one after it */
	char old_file[] = "tops3cr3t-but-longer-now\n";
	struct mb_srs_secrets old_long = { 0 };
	assert_int_equal(mb_srs_secrets_parse(old_file, strlen(old_file), "f", &old_long, error, sizeof(error)), 0);
	struct mb_srs old_long_srs = { &old_long, "example.com", 21 };
	assert_int_equal(mb_srs_forward(&old_long_srs, "alice@outside.example", new_year_2020, address,
					sizeof(address), &why), 1);
	char *rotated = mb_srs_secrets_rotated(old_file, strlen(old_file), 3, error, sizeof(error));
	assert_non_null(rotated);
	assert_int_equal(mb_srs_secrets_parse(rotated, strlen(rotated), "f", &secrets, error, sizeof(error)), 0);
	assert_int_equal(secrets.count, 2);
	assert_string_equal(secrets.secret[1], "tops3cr3t-but-longer-now");
	struct mb_srs srs = { &secrets, "example.com", 21 };
	want_reverse(&srs, address, new_year_2020, 1, "alice@outside.example"); /* the old secret verifies */
	char fresh[MB_ADDRESS_MAX + 1];
	assert_int_equal(mb_srs_forward(&srs, "alice@outside.example", new_year_2020, fresh, sizeof(fresh), &why), 1);
	assert_string_not_equal(fresh, address); /* the new one signs */
	want_reverse(&old_long_srs, fresh, new_year_2020, -1, NULL);
	/* keep 0: only the new secret */
	char *alone = mb_srs_secrets_rotated(rotated, strlen(rotated), 0, error, sizeof(error));
	struct mb_srs_secrets one = { 0 };
	assert_int_equal(mb_srs_secrets_parse(alone, strlen(alone), "f", &one, error, sizeof(error)), 0);
	assert_int_equal(one.count, 1);
	mb_srs_secrets_clear(&one);
	mb_srs_secrets_clear(&secrets);
	mb_srs_secrets_clear(&old_long);
	free(rotated);
	free(alone);
}

static void test_bad_secret_files(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets;
	char error[256];
	const char *bad[] = { "", "\n\n", "tiny1\n", "good-secret-of-length\ntiny1\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mb_srs_secrets_parse(bad[i], strlen(bad[i]), "/etc/x", &secrets, error, sizeof(error)) == 0)
			fail_msg("secret file %zu accepted", i);
		assert_non_null(strstr(error, "/etc/x"));
		assert_null(strstr(error, "tiny1")); /* never the secret */
	}
	char nul[] = "a secret with a NUL\0 inside\n";
	assert_int_equal(mb_srs_secrets_parse(nul, sizeof(nul) - 1, "f", &secrets, error, sizeof(error)), -1);
	char crlf[] = "a-secret-line-with-crlf\r\n\r\nsecond-secret-line-here\n";
	assert_int_equal(mb_srs_secrets_parse(crlf, strlen(crlf), "f", &secrets, error, sizeof(error)), 0);
	assert_int_equal(secrets.count, 2);
	assert_string_equal(secrets.secret[0], "a-secret-line-with-crlf");
	mb_srs_secrets_clear(&secrets);
}

static void test_file_modes(void **state)
{
	(void)state;
	struct stat st = { 0 };
	char error[256];
	struct { unsigned mode; uid_t uid; gid_t gid; int want; } cases[] = {
		{ 0600, 0, 0, 0 }, { 0400, 0, 0, 0 }, { 0600, 100, 0, 0 }, { 0640, 0, 100, 0 },
		{ 0440, 0, 100, 0 }, { 0640, 0, 0, -1 }, { 0644, 0, 100, -1 }, { 0660, 0, 100, -1 },
		{ 0604, 0, 100, -1 }, { 0600, 200, 100, -1 }, { 0700, 0, 0, -1 }, { 04600, 0, 0, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st.st_mode = S_IFREG | cases[i].mode;
		st.st_uid = cases[i].uid;
		st.st_gid = cases[i].gid;
		int got = mb_srs_secret_file_mode_ok(&st, "/etc/s", 100, 100, error, sizeof(error));
		if (got != cases[i].want)
			fail_msg("mode %o uid %u gid %u: got %d, want %d", cases[i].mode, (unsigned)cases[i].uid,
				 (unsigned)cases[i].gid, got, cases[i].want);
	}
	st.st_mode = S_IFDIR | 0600;
	st.st_uid = 0;
	assert_int_equal(mb_srs_secret_file_mode_ok(&st, "/etc/s", 100, 100, error, sizeof(error)), -1);

	/* and through a real file */
	char path[] = "/tmp/test-srs-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "a-real-secret-in-a-file\n";
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	struct mb_srs_secrets secrets;
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mb_srs_secrets_load(path, getuid(), getgid(), &secrets, NULL, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "0644"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(mb_srs_secrets_load(path, getuid(), getgid(), &secrets, NULL, error, sizeof(error)), 0);
	assert_int_equal(secrets.count, 1);
	mb_srs_secrets_clear(&secrets);
	unlink(path);
	assert_int_equal(mb_srs_secrets_load(path, getuid(), getgid(), &secrets, NULL, error, sizeof(error)), -1);
}

static void test_too_long(void **state)
{
	(void)state;
	struct mb_srs_secrets secrets = one_secret(secret_other);
	struct mb_srs srs = { &secrets, "mx.example.org", 21 };
	char sender[400], out[MB_ADDRESS_MAX + 1];
	const char *error = NULL;

	/* 64 + 1 + a domain of 4 labels of 60 and "example": 251 */
	memset(sender, 'a', 64);
	sender[64] = '@';
	size_t at = 65;
	for (int label = 0; label < 4; label++) {
		memset(sender + at, 'b', 60);
		sender[at + 60] = '.';
		at += 61;
	}
	snprintf(sender + at, sizeof(sender) - at, "example");
	assert_int_equal(mb_srs_forward(&srs, sender, 0, out, sizeof(out), &error), -1);
	assert_non_null(error);
	assert_int_equal(mb_srs_forward(&srs, "a@b.example", 0, out, 10, &error), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postsrsd_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_not_rewritten),
		cmocka_unit_test(test_srs1_chain),
		cmocka_unit_test(test_forged_and_altered),
		cmocka_unit_test(test_stamps),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_bad_secret_files),
		cmocka_unit_test(test_file_modes),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
