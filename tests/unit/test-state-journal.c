/* test-state-journal.c - a decision's state calls, recorded and replayed (lib/state-journal.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "state-journal.h"

/* one_decision - what a check does: read a counter-like value, write
   it back, add to a counter; 0 done (sum_r set), -1 stopped or failed */
static int one_decision(struct mb_state_journal *j, int64_t *sum_r, char *error, size_t size)
{
	char value[32];
	int64_t count;
	int found = mb_state_journal_get(j, "grey/x", 100, value, sizeof(value), error, size);

	if (found < 0)
		return -1;
	if (mb_state_journal_put(j, "grey/x", found ? "seen" : "new", 200, error, size) < 0)
		return -1;
	if (mb_state_journal_add(j, "rate/x", 1, 300, 100, &count, error, size) < 0)
		return -1;
	*sum_r = count + (found ? 1000 : 0);
	return 0;
}

/* answer - what the backend would have answered, for the new operations */
static void answer(struct mb_state_journal *j, const char *grey, int64_t counter)
{
	for (size_t i = 0; i < j->count; i++) {
		struct mb_state_op *op = &j->ops[i];
		if (op->status != MB_STATE_OP_NEW)
			continue;
		op->status = MB_STATE_OP_DONE;
		if (op->kind == MB_STATE_OP_GET) {
			op->found = grey != NULL;
			snprintf(op->value, sizeof(op->value), "%s", grey != NULL ? grey : "");
		} else if (op->kind == MB_STATE_OP_ADD) {
			op->integer = counter;
		}
	}
}

static void test_runs_go_one_step_further_each_time(void **state)
{
	(void)state;
	struct mb_state_journal j = { 0 };
	char error[256];
	int64_t sum = 0;

	mb_state_journal_rewind(&j);
	assert_int_equal(one_decision(&j, &sum, error, sizeof(error)), -1);
	assert_true(j.blocked);
	assert_int_equal(j.count, 1);
	assert_int_equal(mb_state_journal_count(&j, MB_STATE_OP_NEW), 1);
	answer(&j, NULL, 0);
	mb_state_journal_rewind(&j);
	/* the GET answers now; the PUT is taken for done; the ADD stops it */
	assert_int_equal(one_decision(&j, &sum, error, sizeof(error)), -1);
	assert_int_equal(j.count, 3);
	assert_int_equal(j.ops[1].kind, MB_STATE_OP_PUT);
	assert_string_equal(j.ops[1].value, "new");
	assert_int_equal(j.ops[1].expires, 200);
	answer(&j, NULL, 7);
	mb_state_journal_rewind(&j);
	assert_int_equal(one_decision(&j, &sum, error, sizeof(error)), 0);
	assert_false(j.blocked);
	assert_int_equal(sum, 7);
	assert_int_equal(j.count, 3);
	assert_null(mb_state_journal_failure(&j));
	mb_state_journal_free(&j);
}

static void test_a_failure_is_seen_by_the_run(void **state)
{
	(void)state;
	struct mb_state_journal j = { 0 };
	char error[256];
	int64_t sum = 0;

	mb_state_journal_rewind(&j);
	one_decision(&j, &sum, error, sizeof(error));
	j.ops[0].status = MB_STATE_OP_FAILED;
	snprintf(j.ops[0].error, sizeof(j.ops[0].error), "Redis x: connection lost");
	mb_state_journal_rewind(&j);
	assert_int_equal(one_decision(&j, &sum, error, sizeof(error)), -1);
	assert_false(j.blocked); /* not waiting: failed */
	assert_string_equal(error, "Redis x: connection lost");
	assert_string_equal(mb_state_journal_failure(&j), "Redis x: connection lost");
	mb_state_journal_free(&j);
}

static void test_a_run_that_differs_fails_and_does_not_wait(void **state)
{
	(void)state;
	struct mb_state_journal j = { 0 };
	char error[256], value[32];
	int64_t count;

	mb_state_journal_rewind(&j);
	assert_int_equal(mb_state_journal_get(&j, "a", 1, value, sizeof(value), error, sizeof(error)), -1);
	answer(&j, "x", 0);
	mb_state_journal_rewind(&j);
	/* another key at the same place */
	assert_int_equal(mb_state_journal_get(&j, "b", 1, value, sizeof(value), error, sizeof(error)), -1);
	assert_non_null(strstr(error, "differ"));
	assert_false(j.blocked);
	/* and everything after it fails, unrecorded */
	assert_int_equal(mb_state_journal_add(&j, "c", 1, 2, 1, &count, error, sizeof(error)), -1);
	assert_int_equal(j.count, 1);
	/* another kind at the same place */
	mb_state_journal_rewind(&j);
	assert_int_equal(mb_state_journal_put(&j, "a", "v", 2, error, sizeof(error)), -1);
	mb_state_journal_clear(&j);
	assert_int_equal(j.count, 0);
	mb_state_journal_free(&j);
}

static void test_bad_keys_values_and_too_many_operations(void **state)
{
	(void)state;
	struct mb_state_journal j = { 0 };
	char error[256], value[32], long_key[MB_STATE_KEY_MAX + 2], long_value[MB_STATE_VALUE_MAX + 2];

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	mb_state_journal_rewind(&j);
	assert_int_equal(mb_state_journal_get(&j, "", 1, value, sizeof(value), error, sizeof(error)), -1);
	assert_int_equal(mb_state_journal_get(&j, long_key, 1, value, sizeof(value), error, sizeof(error)), -1);
	assert_int_equal(mb_state_journal_put(&j, "k", long_value, 1, error, sizeof(error)), -1);
	assert_int_equal(j.count, 0);
	assert_false(j.blocked);
	for (int i = 0; i < MB_JOURNAL_MAX_OPS; i++)
		assert_int_equal(mb_state_journal_put(&j, "k", "v", 1, error, sizeof(error)), 0);
	assert_int_equal(mb_state_journal_put(&j, "k", "v", 1, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "more than"));
	assert_int_equal(mb_state_journal_count(&j, MB_STATE_OP_NEW), MB_JOURNAL_MAX_OPS);
	mb_state_journal_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_go_one_step_further_each_time),
		cmocka_unit_test(test_a_failure_is_seen_by_the_run),
		cmocka_unit_test(test_a_run_that_differs_fails_and_does_not_wait),
		cmocka_unit_test(test_bad_keys_values_and_too_many_operations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
