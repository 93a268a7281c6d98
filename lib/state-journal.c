/* state-journal.c - one decision's state operations, answered later
 *
 * SUMMARY
 *	How a decision that reads and writes the store's state (greylisting
 *	triplets, rate counters, the recipient cap) runs on an event loop
 *	without waiting for Redis, with its rules written once, in C, for
 *	every backend. The decision is a pure function of its request, the
 *	time, the tables and the state results it gets; so it is simply run
 *	again. Each state call of a run is recorded in order; a call whose
 *	result is not in yet stops the run (the call fails, and so does every
 *	later one, unrecorded: the run's answer is thrown away). The caller
 *	sends the new operations (redis-async.c, pipelined with every other
 *	connection's), and when their replies are in runs the decision again
 *	from the start: the recorded calls now answer from the journal, in
 *	order, and the run goes one step further. A run that ends without
 *	stopping has its answer; it is given once the writes it made (sent
 *	without waiting) are confirmed, and a failed one turns it into a
 *	temporary failure.
 *
 *	A run that asks, at some place, for another operation than the one
 *	recorded there (it cannot, being deterministic, but a bug must not
 *	answer wrongly) fails that call.
 */
#include "state-journal.h"

#include "grow.h"
#include "store-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mb_state_journal_rewind(struct mb_state_journal *journal)
{
	journal->cursor = 0;
	journal->blocked = false;
	journal->diverged = false;
}

void mb_state_journal_clear(struct mb_state_journal *journal)
{
	journal->count = 0;
	mb_state_journal_rewind(journal);
}

void mb_state_journal_free(struct mb_state_journal *journal)
{
	free(journal->ops);
	*journal = (struct mb_state_journal){ 0 };
}

static int waiting(char *error, size_t error_size)
{
	snprintf(error, error_size, "waiting for the store's reply");
	return -1;
}

/* next - the recorded operation this call replays (NULL: a new one, or
   the run is stopped: see *stop_r) */
static struct mb_state_op *next(struct mb_state_journal *j, enum mb_state_op_kind kind, const char *key,
				int *stop_r, char *error, size_t error_size)
{
	*stop_r = 0;
	if (j->blocked) {
		*stop_r = waiting(error, error_size);
		return NULL;
	}
	if (j->diverged) {
		snprintf(error, error_size, "state calls differ between runs of one decision");
		*stop_r = -1;
		return NULL;
	}
	if (j->cursor < j->count) {
		struct mb_state_op *op = &j->ops[j->cursor++];
		if (op->kind != kind || strcmp(op->key, key) != 0) {
			snprintf(error, error_size, "state call %zu differs between runs of one decision", j->cursor);
			j->diverged = true; /* nothing after it can be trusted */
			*stop_r = -1;
			return NULL;
		}
		if (op->status == MB_STATE_OP_FAILED) {
			snprintf(error, error_size, "%s", op->error);
			*stop_r = -1;
			return NULL;
		}
		return op;
	}
	if (strlen(key) > MB_STATE_KEY_MAX || key[0] == '\0') {
		snprintf(error, error_size, "state key of %zu bytes (1 to %d allowed)", strlen(key), MB_STATE_KEY_MAX);
		*stop_r = -1;
		return NULL;
	}
	struct mb_state_op *grown = j->count < MB_JOURNAL_MAX_OPS ?
		mb_grow(j->ops, &j->alloc, j->count + 1, sizeof(*j->ops), 8) : NULL;
	if (grown == NULL) {
		snprintf(error, error_size, "a decision of more than %zu state operations (or out of memory)",
			 j->count);
		*stop_r = -1;
		return NULL;
	}
	j->ops = grown;
	struct mb_state_op *op = &j->ops[j->count++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->status = MB_STATE_OP_NEW;
	snprintf(op->key, sizeof(op->key), "%s", key);
	j->cursor = j->count;
	return op;
}

/* unanswered - an operation just recorded, or one whose reply is not
   in: the decision stops here and waits (returns the "waiting" error) */
static int unanswered(struct mb_state_journal *j, char *error, size_t error_size)
{
	j->blocked = true;
	return waiting(error, error_size);
}

int mb_state_journal_get(struct mb_state_journal *j, const char *key, int64_t now,
			 char *value, size_t value_size, char *error, size_t error_size)
{
	size_t recorded = j->count;
	int stop;
	struct mb_state_op *op = next(j, MB_STATE_OP_GET, key, &stop, error, error_size);

	if (op == NULL)
		return stop;
	if (j->count > recorded)
		op->now = now;
	if (op->status != MB_STATE_OP_DONE) /* just recorded (NEW), or sent */
		return unanswered(j, error, error_size);
	if (op->found)
		snprintf(value, value_size, "%s", op->value);
	return op->found;
}

int mb_state_journal_put(struct mb_state_journal *j, const char *key, const char *value,
			 int64_t expires, char *error, size_t error_size)
{
	size_t recorded = j->count;
	int stop;

	if (strlen(value) > MB_STATE_VALUE_MAX) {
		snprintf(error, error_size, "state value of %zu bytes (at most %d allowed)", strlen(value),
			 MB_STATE_VALUE_MAX);
		return -1;
	}
	struct mb_state_op *op = next(j, MB_STATE_OP_PUT, key, &stop, error, error_size);
	if (op == NULL)
		return stop;
	if (j->count > recorded) {
		snprintf(op->value, sizeof(op->value), "%s", value);
		op->expires = expires;
	}
	return 0;
}

int mb_state_journal_add(struct mb_state_journal *j, const char *key, int64_t delta,
			 int64_t expires, int64_t now, int64_t *value_r, char *error, size_t error_size)
{
	size_t recorded = j->count;
	int stop;
	struct mb_state_op *op = next(j, MB_STATE_OP_ADD, key, &stop, error, error_size);

	if (op == NULL)
		return stop;
	if (j->count > recorded) {
		op->delta = delta;
		op->expires = expires;
		op->now = now;
	}
	if (op->status != MB_STATE_OP_DONE) /* just recorded (NEW), or sent */
		return unanswered(j, error, error_size);
	*value_r = op->integer;
	return 0;
}

size_t mb_state_journal_count(const struct mb_state_journal *j, enum mb_state_op_status status)
{
	size_t n = 0;

	for (size_t i = 0; i < j->count; i++)
		n += j->ops[i].status == status;
	return n;
}

const char *mb_state_journal_failure(const struct mb_state_journal *j)
{
	for (size_t i = 0; i < j->count; i++) {
		if (j->ops[i].status == MB_STATE_OP_FAILED)
			return j->ops[i].error;
	}
	return NULL;
}

void mb_state_journal_apply(struct mb_state_journal *j, struct mb_store *store)
{
	const struct mb_store_backend *b = store->backend;

	for (size_t i = 0; i < j->count; i++) {
		struct mb_state_op *op = &j->ops[i];
		int ret = 0;
		if (op->status != MB_STATE_OP_NEW)
			continue;
		switch (op->kind) {
		case MB_STATE_OP_GET:
			ret = op->found = b->state_get(store->state, op->key, op->now, op->value,
						       sizeof(op->value), op->error, sizeof(op->error));
			break;
		case MB_STATE_OP_PUT:
			ret = b->state_put(store->state, op->key, op->value, op->expires, op->error,
					   sizeof(op->error));
			break;
		case MB_STATE_OP_ADD:
			ret = b->state_add(store->state, op->key, op->delta, op->expires, op->now,
					   &op->integer, op->error, sizeof(op->error));
			break;
		}
		op->status = ret < 0 ? MB_STATE_OP_FAILED : MB_STATE_OP_DONE;
	}
}
