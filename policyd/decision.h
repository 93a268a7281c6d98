/* decision.h - policy decisions that wait for Redis without blocking (see decision.c). */
#ifndef MAILBAG_DECISION_H
#define MAILBAG_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "error-text.h"
#include "policy.h"

struct mb_reactor;
struct mb_state_journal;
struct server_hold;
struct server_output;

/* Run the decision once with its state calls going to journal: what
   policyd does with its current context, store and scratch (they may
   change between runs: a reload). Writes the reply, returns its length. */
typedef size_t decision_run_fn(void *context, struct mb_state_journal *journal,
			       const struct policy_request *req, int64_t now, char *reply, size_t size);

struct decisions;
struct decision;

/* The decisions of one daemon: their state on the Redis store at
   location, on reactor. NULL with error_r. */
struct decisions *decisions_new(struct mb_reactor *reactor, const char *location,
				decision_run_fn *run, void *run_context, struct mb_error_text *error_r);
/* Every decision still out fails; their connections are gone already. */
void decisions_free(struct decisions **ds);

/* A decision to parse a request into (decision_request), or NULL when
   out of memory; given back with decision_drop if it is not started. */
struct decision *decision_take(struct decisions *ds);
struct policy_request *decision_request(struct decision *d);
void decision_drop(struct decision *d);

/* Decide d's request at time now. Either the reply is known at once
   (written into reply, its length returned, d given back), or 0 is
   returned and the connection is held (server_hold): the reply goes out
   through server_answer() when the state replies are in, or as
   DEFER_IF_PERMIT when timeout_ms passes first. *pending_r (the
   connection's) points at d meanwhile. */
size_t decision_start(struct decision *d, int64_t now, long long timeout_ms, struct server_output *out,
		      struct decision **pending_r, char *reply, size_t reply_size);
/* The connection of a held decision is closing: it will not be answered. */
void decision_abandon(struct decision *d);

/* Log a reply that is not DUNNO, with its recipient (policyd's one
   log line per refusal, whichever way it was decided). */
void decision_log_reply(const struct policy_request *req, const char *reply, size_t len);

#endif
