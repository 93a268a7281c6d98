/* upstream.h - one LMTP session to a Dovecot node (see upstream.c). */
#ifndef MAILBAG_UPSTREAM_H
#define MAILBAG_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "address.h"
#include "message.h"
#include "reactor.h"

#define RECIPIENT_REPLY_MAX 600

/* A recipient of the transaction, as the session and its upstreams share it. */
struct recipient {
	char path[520];              /* as Postfix gave it in RCPT TO */
	char mailbox[MB_ADDRESS_MAX + 1]; /* the user it reaches */
	char node_name[40];          /* "local" or the node's name */
	char node_address[210];      /* where that node's Dovecot listens */
	char journal_key[96];        /* "" when the message has no queue ID */
	bool delivering;             /* handed to an upstream in this transaction */
	bool answered;               /* outcome below is final */
	int code;
	char reply[RECIPIENT_REPLY_MAX];
};

/* Set a recipient's final outcome (the reply line is formatted). */
void recipient_answer(struct recipient *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct upstream;

/* A session to the Dovecot LMTP at address ("/unix/path" or "IP:PORT"),
   kept open between transactions, its socket watched on reactor. delivered(owner, r) runs the moment
   Dovecot says 2xx for a recipient (to journal it before anything
   else); done(owner) runs after each transaction, when every recipient
   handed over is answered, after the current round of events. */
struct upstream *upstream_new(struct mb_reactor *reactor, const char *node_name, const char *address,
			      const char *hostname, void (*delivered)(void *owner, struct recipient *r),
			      void (*done)(void *owner), void *owner);
/* Stop at once (the Postfix session went away): no callback. */
void upstream_free(struct upstream *up);

/* Deliver message from sender to recipients[indexes[0..count)]: each
   gets Dovecot's own answer, or a 4xx if Dovecot did not give one.
   prefix (may be "") is sent before the message: added header lines. */
void upstream_start(struct upstream *up, const char *sender, struct recipient *recipients,
		    const size_t *indexes, size_t count, const struct message *message,
		    const char *prefix, time_t now, int64_t timeout);
bool upstream_busy(const struct upstream *up);
const char *upstream_address(const struct upstream *up);
/* About once a second: a step that takes longer than the timeout fails. */
void upstream_tick(struct upstream *up, time_t now);

#endif
