/* decision.c - policy decisions that wait for Redis without blocking
 *
 * SUMMARY
 *	On a Redis store, a policy request whose checks read or write state
 *	(greylisting triplets, rate counters, the recipient cap, mailbox
 *	usage) is decided without stopping the event loop: the decision
 *	(policy_decide, unchanged) runs with its state calls going to a
 *	journal (lib/state-journal.c); the operations it asks for go out
 *	on the non-blocking connection (lib/redis-async.c), pipelined with
 *	every other connection's; the client's connection is held
 *	(server_hold) and other connections are served meanwhile. When the
 *	replies are in, the decision runs again from the start, and goes a
 *	step further each time, until it ends: its reply is then written
 *	(server_answer) at once. Its writes (greylisting's triplet: the
 *	only state a decision puts without reading it back) are not waited
 *	for: the answer was decided from what was read, and Redis carries
 *	out one connection's commands in order, so the next request of the
 *	triplet sees the write. A write that fails costs a later deferral of
 *	that triplet (it is new again), never an accept; one known to have
 *	failed before the answer (it could not be sent) defers it.
 *
 *	A request none of whose checks touches state is answered by the
 *	first run, at once. Decisions are kept for reuse: a request
 *	allocates nothing once the daemon has served as many at a time.
 *
 * DIAGNOSTICS
 *	Fail closed: a read that fails is answered by the decision itself,
 *	as without Redis (DEFER_IF_PERMIT 4.3.0), and a decision not done within policyd's
 *	store_timeout is answered DEFER_IF_PERMIT 4.3.0 at that moment; its
 *	replies, when they come, are dropped. An operation sent may still be
 *	carried out after its decision was answered (a counter counted once
 *	more, never an accept of what should be refused).
 */
#include "decision.h"

#include "log.h"
#include "reactor.h"
#include "redis-async.h"
#include "server.h"
#include "state-journal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct decision {
	struct decisions *owner;
	struct decision *next_free;
	struct policy_request req;
	struct mb_state_journal journal;
	int64_t now;
	struct server_hold *hold;  /* the client waiting, or NULL */
	struct decision **pending; /* the connection's pointer to it, or NULL */
	size_t outstanding;        /* operations sent whose replies are not in */
	size_t runs;
	long long timer;           /* 0 when none */
	long long timeout_ms;
	bool finished;             /* a run ended: reply holds its answer */
	bool abandoned;            /* answered, or its client went: only wait to be freed */
	char reply[POLICY_MAX_ACTION + 64];
	size_t reply_len;
};

struct decisions {
	struct mb_reactor *reactor;
	struct mb_redis_async *redis;
	decision_run_fn *run;
	void *run_context;
	struct decision *free_list;
};

struct decisions *decisions_new(struct mb_reactor *reactor, const char *location,
				decision_run_fn *run, void *run_context, struct mb_error_text *error_r)
{
	struct decisions *ds = calloc(1, sizeof(*ds));

	if (ds == NULL) {
		mb_set_error(error_r, "out of memory");
		return NULL;
	}
	ds->redis = mb_redis_async_new(reactor, location, error_r);
	if (ds->redis == NULL) {
		free(ds);
		return NULL;
	}
	ds->reactor = reactor;
	ds->run = run;
	ds->run_context = run_context;
	return ds;
}

void decisions_free(struct decisions **dsp)
{
	struct decisions *ds = *dsp;

	if (ds == NULL)
		return;
	/* the replies still out fail now, and their decisions come back */
	mb_redis_async_free(&ds->redis);
	while (ds->free_list != NULL) {
		struct decision *d = ds->free_list;
		ds->free_list = d->next_free;
		mb_state_journal_free(&d->journal);
		free(d);
	}
	free(ds);
	*dsp = NULL;
}

struct decision *decision_take(struct decisions *ds)
{
	struct decision *d = ds->free_list;

	if (d != NULL) {
		ds->free_list = d->next_free;
	} else {
		d = malloc(sizeof(*d)); /* not calloc: 10 KB to clear for nothing */
		if (d == NULL)
			return NULL;
		d->journal = (struct mb_state_journal){ 0 };
	}
	d->owner = ds;
	d->next_free = NULL;
	d->hold = NULL;
	d->pending = NULL;
	d->outstanding = 0;
	d->runs = 0;
	d->timer = 0;
	d->finished = false;
	d->abandoned = false;
	mb_state_journal_clear(&d->journal);
	return d;
}

struct policy_request *decision_request(struct decision *d)
{
	return &d->req;
}

void decision_drop(struct decision *d)
{
	struct decisions *ds = d->owner;

	d->next_free = ds->free_list;
	ds->free_list = d;
}

void decision_log_reply(const struct policy_request *req, const char *reply, size_t len)
{
	if (strncmp(reply, "action=DUNNO", 12) == 0)
		return;
	const char *rcpt = policy_get(req, "recipient");
	char safe[300];
	mb_info("policy: %.*s for recipient <%s>", (int)(len > 2 ? len - 2 : len), reply,
		mb_log_sanitize(rcpt != NULL ? rcpt : "", rcpt != NULL ? strlen(rcpt) : 0, safe, sizeof(safe)));
}

/* give_answer - the reply to the client waiting (if still there) */
static void give_answer(struct decision *d, const char *reply, size_t len)
{
	struct server_hold *hold = d->hold;

	if (d->timer > 0)
		mb_reactor_cancel_timer(d->owner->reactor, d->timer);
	d->timer = 0;
	d->hold = NULL;
	if (d->pending != NULL)
		*d->pending = NULL;
	d->pending = NULL;
	d->abandoned = true;
	if (hold == NULL)
		return;
	decision_log_reply(&d->req, reply, len);
	/* last: it may serve the connection's next request, or close it */
	server_answer(hold, reply, len);
}

/* failed_write - the error of the first write that failed, or NULL.
   Reads that failed were seen by the decision, which answered for
   them (a temporary failure, or DUNNO at END-OF-MESSAGE); a write it
   took for done. */
static const char *failed_write(const struct mb_state_journal *j)
{
	for (size_t i = 0; i < j->count; i++) {
		if (j->ops[i].kind == MB_STATE_OP_PUT && j->ops[i].status == MB_STATE_OP_FAILED)
			return j->ops[i].error;
	}
	return NULL;
}

static void finish(struct decision *d)
{
	const char *failure = failed_write(&d->journal);
	char text[POLICY_MAX_ACTION + 64];

	if (failure == NULL) {
		give_answer(d, d->reply, d->reply_len);
		return;
	}
	int n = snprintf(text, sizeof(text),
			 "action=DEFER_IF_PERMIT 4.3.0 mailbag store unavailable: %.300s\n\n", failure);
	give_answer(d, text, n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0);
}

static void on_op_done(void *data, struct mb_state_op *op);

/* run_once - a run of the decision, then what it asked for goes out */
static void run_once(struct decision *d)
{
	struct decisions *ds = d->owner;

	d->runs++;
	mb_state_journal_rewind(&d->journal);
	d->reply_len = ds->run(ds->run_context, &d->journal, &d->req, d->now, d->reply, sizeof(d->reply));
	/* the last resort against a decision that never ends: each run
	   that stops has asked for at least one more operation */
	if (!d->journal.blocked || d->runs > MB_JOURNAL_MAX_OPS + 1)
		d->finished = true;
	for (size_t i = 0; i < d->journal.count; i++) {
		struct mb_state_op *op = &d->journal.ops[i];
		if (op->status == MB_STATE_OP_NEW &&
		    mb_redis_async_send(ds->redis, op, on_op_done, d) == 0)
			d->outstanding++;
	}
}

/* progress - move d on as far as it goes without waiting: answered
   once a run ends, kept (abandoned) until its last reply is in */
static void progress(struct decision *d)
{
	while (!d->abandoned) {
		if (d->finished) {
			finish(d);
			break;
		}
		if (d->outstanding > 0)
			break;
		run_once(d);
	}
	if (d->abandoned && d->outstanding == 0)
		decision_drop(d);
}

static void on_op_done(void *data, struct mb_state_op *op)
{
	struct decision *d = data;

	(void)op;
	d->outstanding--;
	progress(d);
}

static long long on_timeout(struct mb_reactor *r, long long id, void *data)
{
	struct decision *d = data;
	char text[160];

	(void)r, (void)id;
	d->timer = 0;
	int n = snprintf(text, sizeof(text),
			 "action=DEFER_IF_PERMIT 4.3.0 mailbag store did not answer within %lld ms\n\n",
			 d->timeout_ms);
	mb_warning("policy: the store did not answer within %lld ms, deferring", d->timeout_ms);
	give_answer(d, text, (size_t)n);
	if (d->outstanding == 0)
		decision_drop(d);
	return MB_TIMER_DONE;
}

size_t decision_start(struct decision *d, int64_t now, long long timeout_ms, struct server_output *out,
		      struct decision **pending_r, char *reply, size_t reply_size)
{
	struct mb_error_text error;

	d->now = now;
	d->timeout_ms = timeout_ms;
	do
		run_once(d); /* again at once when what it asked for failed to go out */
	while (!d->finished && d->outstanding == 0);
	if (d->finished) {
		/* no state, or none to wait for: the answer is here */
		const char *failure = failed_write(&d->journal);
		int n = failure == NULL ? snprintf(reply, reply_size, "%s", d->reply) :
			snprintf(reply, reply_size, "action=DEFER_IF_PERMIT 4.3.0 mailbag store unavailable: %.300s\n\n",
				 failure);
		d->abandoned = true;
		if (d->outstanding == 0)
			decision_drop(d);
		return n > 0 && (size_t)n < reply_size ? (size_t)n : 0;
	}
	d->hold = server_hold(out);
	d->pending = pending_r;
	*pending_r = d;
	d->timer = mb_reactor_add_timer(d->owner->reactor, timeout_ms, on_timeout, d, &error);
	if (d->timer < 0) {
		/* it waits for its replies then, as long as the connection lives */
		mb_warning("policy: no timeout for a decision waiting on the store: %s", error.text);
		d->timer = 0;
	}
	return 0;
}

void decision_abandon(struct decision *d)
{
	d->hold = NULL;
	d->pending = NULL;
	if (d->timer > 0)
		mb_reactor_cancel_timer(d->owner->reactor, d->timer);
	d->timer = 0;
	d->abandoned = true;
	if (d->outstanding == 0)
		decision_drop(d);
}
