/* route.h - what becomes of one recipient at RCPT (see route.c). */
#ifndef MAILBAG_ROUTE_H
#define MAILBAG_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "context.h"
#include "store.h"

#define ROUTE_REPLY_MAX 600

struct route {
	char mailbox[MB_ADDRESS_MAX + 1]; /* the user's address (without +detail) */
	const struct mb_lmtp_node *node;  /* NULL: the local Dovecot */
	char reply[ROUTE_REPLY_MAX];      /* "250 ..." or the refusal */
	int code;                         /* 250, 4xx or 5xx */
};

/* Judge recipient (the RCPT path) for a message of declared_size bytes
   (0: not declared): unknown 550 5.1.1, disabled 550 5.2.1, too big
   552 5.3.4, no room 452 4.2.2, an unknown node 451 4.3.5, the store
   down 451 4.3.0; else 250 and the node that holds the mailbox. */
void route_recipient(const struct mb_context *ctx, struct mb_store *store, const char *recipient,
		     uint64_t declared_size, int64_t now, struct route *route);

#endif
