/* route.c - what becomes of one recipient at RCPT
 *
 * SUMMARY
 *	Postfix has already resolved aliases when it hands a message to
 *	mailbag-lmtpd: each recipient should be a mailbox, possibly with a
 *	+detail. The bridge checks it against the store, the same way
 *	policyd and the Dovecot driver do: the exact address first, then
 *	without the detail; the user must exist and be enabled; the size
 *	the client declared must fit the user's message-size limit and the
 *	room left in the quota (usage as Dovecot last reported it), the
 *	rule policyd applies too (mb_mailbox_admit, lib/account.c). Each
 *	refusal is that recipient's alone. A user whose record names a node
 *	goes to that node's Dovecot (context nodes or lmtpd.nodes); no node,
 *	or this node's own name (context node), means the local one. When the store cannot answer, the answer is 4xx, so
 *	Postfix keeps the mail. A user whose mailbox is frozen for a move
 *	to another node (`mailbag user move`) gets 451 too, that recipient
 *	only: Postfix retries after the switch, and the message lands on
 *	the new node.
 */
#include "route.h"
#include "account.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void verdict(struct route *route, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct route *route, int code, const char *fmt, ...)
{
	va_list args;

	route->code = code;
	va_start(args, fmt);
	vsnprintf(route->reply, sizeof(route->reply), fmt, args);
	va_end(args);
}

/* log_store_failure - the store's own reason, with the recipient made
   safe for the log; the client is only told "store unavailable" */
static void log_store_failure(const char *what, const char *recipient, const char *error)
{
	char safe[MB_ADDRESS_MAX + 1];

	mb_error("store: %s <%s>: %s", what, mb_log_sanitize(recipient, strlen(recipient), safe, sizeof(safe)),
		 error);
}

/* judge_room - whether the message fits the user's mailbox
   (mb_mailbox_admit, account.c), worded for LMTP; 0 fits, 1 refused */
static int judge_room(const struct mb_context *ctx, struct mb_store *store, const struct mb_user *user,
		      const char *recipient, uint64_t declared_size, int64_t now, struct route *route)
{
	char error[512];

	switch (mb_mailbox_admit(ctx, store, user, declared_size, now, NULL, error, sizeof(error))) {
	case MB_ADMIT_FITS:
		return 0;
	case MB_ADMIT_TOO_BIG:
		verdict(route, 552, "552 5.3.4 <%s>: message too big for this mailbox", recipient);
		return 1;
	case MB_ADMIT_FULL:
	case MB_ADMIT_NO_ROOM:
		verdict(route, 452, "452 4.2.2 <%s>: mailbox full; try again later", recipient);
		return 1;
	case MB_ADMIT_STORE_FAILED:
		break;
	}
	log_store_failure("cannot read the limits or usage of", recipient, error);
	verdict(route, 451, "451 4.3.0 <%s>: mailbag store unavailable; try again later", recipient);
	return 1;
}

void route_recipient(const struct mb_context *ctx, struct mb_store *store, const char *recipient,
		     uint64_t declared_size, int64_t now, struct route *route)
{
	struct mb_user user;
	char error[512];

	memset(route, 0, sizeof(*route));
	if (store == NULL) {
		verdict(route, 451, "451 4.3.0 <%s>: mailbag store unavailable; try again later", recipient);
		return;
	}
	int found = mb_store_user_find(store, recipient, ctx->recipient_delimiter, &user, error, sizeof(error));
	if (found < 0) {
		log_store_failure("cannot look up", recipient, error);
		verdict(route, 451, "451 4.3.0 <%s>: mailbag store unavailable; try again later", recipient);
		return;
	}
	if (found == 0) {
		verdict(route, 550, "550 5.1.1 <%s>: no such mailbox here", recipient);
		return;
	}
	if (!user.enabled) {
		verdict(route, 550, "550 5.2.1 <%s>: mailbox disabled", recipient);
	} else if (mb_user_frozen(&user, now)) {
		verdict(route, 451, "451 4.2.1 <%s>: mailbox being moved to node %s; try again later",
			recipient, user.move.to);
	} else if (judge_room(ctx, store, &user, recipient, declared_size, now, route) == 0) {
		/* this node's own name is the local Dovecot too */
		if (!mb_context_node_is_local(ctx, user.node) &&
		    (route->node = mb_context_node(ctx, user.node)) == NULL) {
			verdict(route, 451, "451 4.3.5 <%s>: its node '%s' is not in the context's nodes or lmtpd.nodes; try again later",
			       recipient, user.node);
		} else {
			verdict(route, 250, "250 2.1.5 <%s> OK", recipient);
			snprintf(route->mailbox, sizeof(route->mailbox), "%s", user.address);
		}
	}
	mb_user_clear(&user);
}
