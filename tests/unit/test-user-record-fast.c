/* test-user-record-fast.c - the user record fast path (lib/record-scan.c):
   the records mailbag writes decode as jansson decodes them, everything
   else goes to jansson untouched, damaged records are refused as before */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

#define KEY "example.org/ann"
#define SHA512 "{SHA512-CRYPT}$6$abcdefgh$0123456789012345678901234567890123456789" \
	"012345678901234567890123456789012345678901234"

static int decode_fast(const char *json, struct mb_user *user_r, char *error, size_t size)
{
	return store_decode_user_fast(KEY, strlen(KEY), json, strlen(json), user_r, error, size);
}

static int decode_json(const char *json, struct mb_user *user_r, char *error, size_t size)
{
	return store_decode_user_json(KEY, strlen(KEY), json, strlen(json), user_r, error, size);
}

static int decode(const char *json, struct mb_user *user_r, char *error, size_t size)
{
	return store_decode_user(KEY, strlen(KEY), json, strlen(json), user_r, error, size);
}

/* assert_same_user - every field the fast path sets, got against want */
static void assert_same_user(const struct mb_user *got, const struct mb_user *want, const char *json)
{
	if (strcmp(got->address, want->address) != 0 ||
	    (got->password_hash == NULL) != (want->password_hash == NULL) ||
	    (got->password_hash != NULL && strcmp(got->password_hash, want->password_hash) != 0) ||
	    (got->home == NULL) != (want->home == NULL) ||
	    (got->home != NULL && strcmp(got->home, want->home) != 0) ||
	    got->quota_bytes != want->quota_bytes || got->max_message_bytes != want->max_message_bytes ||
	    got->enabled != want->enabled || got->created != want->created ||
	    got->app_password_count != want->app_password_count ||
	    got->app_passwords_only != want->app_passwords_only ||
	    strcmp(got->node, want->node) != 0 || got->move.phase != want->move.phase)
		fail_msg("fast and jansson decode %s differently: hash %s/%s home %s/%s quota %llu/%llu "
			 "max_message %llu/%llu enabled %d/%d created %lld/%lld apps_only %d/%d node '%s'/'%s'",
			 json, got->password_hash, want->password_hash, got->home, want->home,
			 (unsigned long long)got->quota_bytes, (unsigned long long)want->quota_bytes,
			 (unsigned long long)got->max_message_bytes, (unsigned long long)want->max_message_bytes,
			 got->enabled, want->enabled, (long long)got->created, (long long)want->created,
			 got->app_passwords_only, want->app_passwords_only, got->node, want->node);
}

/* assert_fast_reads - the fast path decodes json (1), as jansson does */
static void assert_fast_reads(const char *json)
{
	struct mb_user fast, slow, both;
	char error[512];

	int ret = decode_fast(json, &fast, error, sizeof(error));
	if (ret != 1)
		fail_msg("fast path: got %d, want 1 for %s (%s)", ret, json, ret < 0 ? error : "declined");
	if (decode_json(json, &slow, error, sizeof(error)) != 0)
		fail_msg("jansson refuses %s: %s", json, error);
	assert_same_user(&fast, &slow, json);
	assert_int_equal(decode(json, &both, error, sizeof(error)), 0);
	assert_same_user(&both, &slow, json);
	mb_user_clear(&fast);
	mb_user_clear(&slow);
	mb_user_clear(&both);
}

/* the records store_encode_user writes, from a plain user to every
   field the fast path knows */
static void test_encoded_records(void **state)
{
	struct mb_user users[] = {
		{ .password_hash = (char *)SHA512, .enabled = true, .created = 1764600000,
		  .home = (char *)"/var/mail/example.org/ann",
		  .quota_bytes = MB_LIMIT_DEFAULT, .max_message_bytes = MB_LIMIT_DEFAULT },
		{ .password_hash = (char *)"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
		  .home = (char *)"", .quota_bytes = 0, .max_message_bytes = 10485760,
		  .app_passwords_only = true, .created = -1 },
		{ .password_hash = (char *)"", .enabled = true, .home = (char *)"/h",
		  .quota_bytes = 1073741824, .max_message_bytes = MB_LIMIT_DEFAULT, .node = "b-2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		char *text = store_encode_user(&users[i]);
		assert_non_null(text);
		assert_fast_reads(text);
		free(text);
	}
}

/* hand-written records the fast path reads: any key order, every
   scalar kind in every known key, limits and created at their edges */
static void test_read_by_fast_path(void **state)
{
	static const char *const records[] = {
		"{\"hash\":\"{X}y\",\"home\":\"/h\"}",
		"{\"home\":\"/h\",\"node\":\"a\",\"enabled\":true,\"hash\":\"{X}y\",\"v\":1}",
		"{\"v\":\"one\",\"hash\":\"{X}y\",\"home\":\"/h\",\"enabled\":false,\"apps_only\":null}",
		"{\"v\":null,\"hash\":\"{X}y\",\"home\":\"/h\",\"enabled\":1,\"apps_only\":\"true\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"quota\":-1,\"max_message\":-0,\"created\":-0}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"quota\":0,\"max_message\":999999999999999999}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"quota\":\"5\",\"max_message\":true,\"created\":\"9\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":-999999999999999999}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"node\":7}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"node\":\"\"}",
		/* cut to MB_NODE_NAME_MAX as snprintf cuts it */
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"node\":\"0123456789012345678901234567890123456789\"}",
		/* every printable ASCII byte but the quote and the backslash */
		"{\"hash\":\" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\",\"home\":\"/h\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		assert_fast_reads(records[i]);
}

/* records the fast path declines (0, user untouched): store_decode_user
   then answers as jansson does, accepted or refused */
static void test_fallbacks(void **state)
{
	static const char *const records[] = {
		/* escapes: jansson unescapes them */
		"{\"hash\":\"{X}y\\/z\",\"home\":\"/h\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\\u00e9\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\\u0000\"}",
		"{\"ha\\u0073h\":\"{X}y\",\"home\":\"/h\"}",
		/* apps, move and other nested values */
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"apps\":[{\"name\":\"p\",\"hash\":\"{X}z\",\"created\":1}]}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"apps\":[]}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"move\":{\"phase\":\"copy\",\"from\":\"a\",\"to\":\"b\",\"started\":1}}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"move\":null}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"node\":[\"a\"]}",
		"{\"hash\":{},\"home\":\"/h\"}",
		"[\"hash\",\"home\"]",
		/* unknown and repeated keys: jansson keeps the last */
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"shoe\":1}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"\":1}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"hash\":\"{X}z\"}",
		"{\"hash\":1,\"home\":\"/h\",\"hash\":\"{X}z\"}",
		/* whitespace anywhere */
		"{\"hash\": \"{X}y\",\"home\":\"/h\"}",
		" {\"hash\":\"{X}y\",\"home\":\"/h\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\"}\n",
		"{\n\"hash\":\"{X}y\",\"home\":\"/h\"}",
		/* bytes jansson checks: UTF-8, control characters, DEL */
		"{\"hash\":\"{X}y\",\"home\":\"/h\xc3\xa9\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\xc3\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\xed\xa0\x80\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\t\"}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\x7f\"}",
		/* numbers jansson reads otherwise, or refuses */
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":1.5}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":1e3}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"quota\":1E3}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":0123}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":1000000000000000000}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":9223372036854775808}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":-}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":+1}",
		/* literals that are not quite */
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"enabled\":tru}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"enabled\":truex}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",\"enabled\":True}",
		/* unfinished, trailing, not an object */
		"",
		"{",
		"{\"hash\":\"{X}y\",\"home\":\"/h\"",
		"{\"hash\":\"{X}y\",\"home\":\"/h\",}",
		"{\"hash\":\"{X}y\",\"home\":\"/h}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\"}}",
		"{\"hash\":\"{X}y\",\"home\":\"/h\"}x",
		"{\"hash\":\"{X}y\",\"home\":\"/h\"}{}",
		"{\"hash\"\"{X}y\",\"home\":\"/h\"}",
		"{}x",
		"null",
		"\"hash\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct mb_user fast, slow, both;
		char error[512] = "", slow_error[512] = "";

		memset(&fast, 0x5a, sizeof(fast));
		int ret = decode_fast(records[i], &fast, error, sizeof(error));
		if (ret != 0)
			fail_msg("fast path: got %d, want 0 (declined) for %s", ret, records[i]);
		for (size_t b = 0; b < sizeof(fast); b++) {
			if (((unsigned char *)&fast)[b] != 0x5a)
				fail_msg("fast path declined %s but changed the user", records[i]);
		}
		int slow_ret = decode_json(records[i], &slow, slow_error, sizeof(slow_error));
		ret = decode(records[i], &both, error, sizeof(error));
		if (ret != slow_ret)
			fail_msg("store_decode_user: got %d, jansson %d for %s", ret, slow_ret, records[i]);
		if (ret == 0) {
			assert_same_user(&both, &slow, records[i]);
			mb_user_clear(&both);
			mb_user_clear(&slow);
		} else {
			assert_string_equal(error, slow_error);
		}
	}
}

/* damaged records: refused (-1) with the same message by either path,
   the fast path answering itself for those it reads */
static void test_damaged(void **state)
{
	static const struct {
		const char *json;
		int fast;   /* what the fast path answers */
	} records[] = {
		{ "{}", -1 },
		{ "{\"v\":1}", -1 },
		{ "{\"home\":\"/h\"}", -1 },
		{ "{\"hash\":\"{X}y\"}", -1 },
		{ "{\"hash\":1,\"home\":\"/h\"}", -1 },
		{ "{\"hash\":null,\"home\":\"/h\"}", -1 },
		{ "{\"hash\":\"{X}y\",\"home\":true}", -1 },
		{ "{\"hash\":\"{X}y\",\"home\":-3}", -1 },
		{ "{\"hash\":[],\"home\":\"/h\"}", 0 },
		{ "{\"hash\":\"{X}y\",\"home\":\"/h\",\"move\":1}", 0 },
		{ "{\"hash\":\"{X}y\",\"home\":\"/h\",\"apps\":{}}", 0 },
		{ "{\"hash\":\"{X}y\",\"home\":\"/h\",\"created\":99999999999999999999}", 0 },
		{ "{\"hash\":\"{X}y\",\"home\":\"/h\xff\"}", 0 },
		{ "{\"hash\":\"{X}y\",\"home\":\"/h\"", 0 },
		{ "not json", 0 },
	};
	char want[512], error[512];
	struct mb_user user;

	(void)state;
	snprintf(want, sizeof(want), "store record user 'ann@example.org' is damaged");
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		const char *json = records[i].json;
		int ret = decode_fast(json, &user, error, sizeof(error));
		if (ret != records[i].fast)
			fail_msg("fast path: got %d, want %d for %s", ret, records[i].fast, json);
		if (ret < 0) {
			assert_string_equal(error, want);
			assert_string_equal(user.address, "ann@example.org");
			assert_null(user.password_hash);
			assert_null(user.home);
		}
		if (decode_json(json, &user, error, sizeof(error)) != -1)
			fail_msg("jansson accepts %s, want -1", json);
		if (decode(json, &user, error, sizeof(error)) != -1)
			fail_msg("store_decode_user accepts %s, want -1", json);
		if (strncmp(error, "store record user", strlen("store record user")) != 0)
			fail_msg("error for %s: got '%s'", json, error);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoded_records),
		cmocka_unit_test(test_read_by_fast_path),
		cmocka_unit_test(test_fallbacks),
		cmocka_unit_test(test_damaged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
