/* state-journal.h - one decision's state operations, answered later (see state-journal.c). */
#ifndef MAILBAG_STATE_JOURNAL_H
#define MAILBAG_STATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h" /* MB_STATE_KEY_MAX, MB_STATE_VALUE_MAX */

/* operations one decision may make: a few per check, two per rate
   limit, one usage read per local user a recipient reaches */
#define MB_JOURNAL_MAX_OPS 4096

enum mb_state_op_kind { MB_STATE_OP_GET, MB_STATE_OP_PUT, MB_STATE_OP_ADD };

enum mb_state_op_status {
	MB_STATE_OP_NEW,    /* recorded, not sent yet */
	MB_STATE_OP_SENT,   /* waiting for its reply */
	MB_STATE_OP_DONE,   /* answered: found/value/integer hold it */
	MB_STATE_OP_FAILED, /* error holds why */
};

struct mb_state_op {
	enum mb_state_op_kind kind;
	enum mb_state_op_status status;
	char key[MB_STATE_KEY_MAX + 1];
	char value[MB_STATE_VALUE_MAX + 1]; /* PUT: to write; GET: what was read */
	int64_t delta, expires, now;        /* ADD (expires: PUT too) */
	int found;                          /* GET: 1 found, 0 absent */
	int64_t integer;                    /* ADD: the counter after it */
	char error[256];
};

/* Zeroed, a journal is empty; mb_state_journal_free() its memory. */
struct mb_state_journal {
	struct mb_state_op *ops;
	size_t alloc;
	size_t count;   /* recorded */
	size_t cursor;  /* the next one this run asks for */
	bool blocked;   /* this run needs a result not in yet: it stops */
	bool diverged;  /* this run asked for another operation than recorded */
};

/* Start a run of the decision (again): the recorded operations answer
   in order, the first new one that needs its result blocks it. */
void mb_state_journal_rewind(struct mb_state_journal *journal);
/* Forget every operation (for the next decision); free the memory. */
void mb_state_journal_clear(struct mb_state_journal *journal);
void mb_state_journal_free(struct mb_state_journal *journal);

/* The store's state calls while a journal is set (mb_store_set_journal):
   as mb_state_get/put/add. A PUT is recorded and reported done at once
   (its reply is waited for before the decision is answered); a GET or
   ADD not yet answered blocks the run: -1 with error "waiting", and
   every later call of the run fails without being recorded. A run that
   asks for something else than the recorded operation at that place
   fails (-1, never a wrong answer). */
int mb_state_journal_get(struct mb_state_journal *journal, const char *key, int64_t now,
			 char *value, size_t value_size, char *error, size_t error_size);
int mb_state_journal_put(struct mb_state_journal *journal, const char *key, const char *value,
			 int64_t expires, char *error, size_t error_size);
int mb_state_journal_add(struct mb_state_journal *journal, const char *key, int64_t delta,
			 int64_t expires, int64_t now, int64_t *value_r, char *error, size_t error_size);

/* Operations in a status (NEW: to send; SENT: still out). */
size_t mb_state_journal_count(const struct mb_state_journal *journal, enum mb_state_op_status status);
/* The first failed operation's error, or NULL when none failed. */
const char *mb_state_journal_failure(const struct mb_state_journal *journal);

/* Carry the new operations out on store (synchronously) in order: what
   an asynchronous backend does later, for tests and for a store whose
   state is local. */
void mb_state_journal_apply(struct mb_state_journal *journal, struct mb_store *store);

#endif
