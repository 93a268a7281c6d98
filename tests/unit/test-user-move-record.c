/* test-user-move-record.c - a user record's move state: encoded, decoded,
   refused when damaged, and the freeze it implies */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

#define KEY "example.org/ann"

static int decode(const char *json, struct mb_user *user_r, char *error, size_t size)
{
	return store_decode_user(KEY, strlen(KEY), json, strlen(json), user_r, error, size);
}

static void test_round_trip(void **state)
{
	struct mb_user user = { .enabled = true, .password_hash = (char *)"{X}y", .home = (char *)"/h" };
	struct mb_user got;
	char error[512];

	(void)state;
	snprintf(user.node, sizeof(user.node), "a");
	user.move = (struct mb_user_move){ .phase = MB_MOVE_FREEZE, .started = 100, .until = 700 };
	snprintf(user.move.from, sizeof(user.move.from), "a");
	snprintf(user.move.to, sizeof(user.move.to), "b-2");
	char *text = store_encode_user(&user);
	assert_non_null(text);
	assert_int_equal(decode(text, &got, error, sizeof(error)), 0);
	assert_int_equal(got.move.phase, MB_MOVE_FREEZE);
	assert_string_equal(got.move.from, "a");
	assert_string_equal(got.move.to, "b-2");
	assert_int_equal(got.move.started, 100);
	assert_int_equal(got.move.until, 700);
	assert_string_equal(got.node, "a");
	mb_user_clear(&got);
	free(text);

	/* no move: no "move" in the record, none decoded */
	user.move = (struct mb_user_move){ 0 };
	text = store_encode_user(&user);
	assert_null(strstr(text, "move"));
	assert_int_equal(decode(text, &got, error, sizeof(error)), 0);
	assert_int_equal(got.move.phase, MB_MOVE_NONE);
	mb_user_clear(&got);
	free(text);
}

/* a move that does not decode makes the whole record damaged: read
   half, it could let deliveries through in the middle of a freeze */
static void test_damaged_moves(void **state)
{
	static const char *const bad[] = {
		"\"move\":1",
		"\"move\":{}",
		"\"move\":{\"phase\":\"teleport\",\"from\":\"a\",\"to\":\"b\",\"started\":1}",
		"\"move\":{\"phase\":\"\",\"from\":\"a\",\"to\":\"b\",\"started\":1}",
		"\"move\":{\"phase\":\"copy\",\"to\":\"b\",\"started\":1}",
		"\"move\":{\"phase\":\"copy\",\"from\":\"a\",\"started\":1}",
		"\"move\":{\"phase\":\"copy\",\"from\":\"A B\",\"to\":\"b\",\"started\":1}",
		"\"move\":{\"phase\":\"copy\",\"from\":\"a\",\"to\":\"012345678901234567890123456789012\",\"started\":1}",
		"\"move\":{\"phase\":\"copy\",\"from\":\"a\",\"to\":\"b\"}",
		"\"move\":{\"phase\":\"freeze\",\"from\":\"a\",\"to\":\"b\",\"started\":1,\"until\":\"x\"}",
		"\"move\":{\"phase\":7,\"from\":\"a\",\"to\":\"b\",\"started\":1}",
	};
	char json[512], error[512];
	struct mb_user got;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"v\":1,\"hash\":\"{X}y\",\"home\":\"\",\"enabled\":true,%s}", bad[i]);
		int ret = decode(json, &got, error, sizeof(error));
		if (ret != -1)
			fail_msg("got %d, want -1 for %s", ret, bad[i]);
		if (strstr(error, "damaged") == NULL || strstr(error, "ann@example.org") == NULL)
			fail_msg("error '%s' for %s does not name the damaged record", error, bad[i]);
	}
}

static void test_frozen(void **state)
{
	static const struct {
		enum mb_move_phase phase;
		int64_t until, now;
		bool frozen;
	} cases[] = {
		{ MB_MOVE_NONE, 0, 10, false },
		{ MB_MOVE_COPY, 100, 10, false },
		{ MB_MOVE_FREEZE, 100, 10, true },
		{ MB_MOVE_FREEZE, 100, 99, true },
		{ MB_MOVE_FREEZE, 100, 100, false }, /* the lease ran out: the command died */
		{ MB_MOVE_FINAL, 100, 10, true },  /* switched, the last sync under way */
		{ MB_MOVE_FINAL, 100, 200, false },
		{ MB_MOVE_FINAL, 0, 10, false },
		{ MB_MOVE_DONE, 100, 10, false },
	};
	struct mb_user user = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		user.move.phase = cases[i].phase;
		user.move.until = cases[i].until;
		if (mb_user_frozen(&user, cases[i].now) != cases[i].frozen)
			fail_msg("case %zu: phase %s until %lld at %lld: got frozen=%d", i,
				 mb_move_phase_name(cases[i].phase), (long long)cases[i].until,
				 (long long)cases[i].now, !cases[i].frozen);
	}
}

static void test_phase_names(void **state)
{
	enum mb_move_phase phase;

	(void)state;
	for (enum mb_move_phase p = MB_MOVE_COPY; p <= MB_MOVE_DONE; p++) {
		assert_int_equal(mb_move_phase_parse(mb_move_phase_name(p), &phase), 0);
		assert_int_equal(phase, p);
	}
	assert_int_equal(mb_move_phase_parse("", &phase), -1);
	assert_int_equal(mb_move_phase_parse("COPY", &phase), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damaged_moves),
		cmocka_unit_test(test_frozen),
		cmocka_unit_test(test_phase_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
