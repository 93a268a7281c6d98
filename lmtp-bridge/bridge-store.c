/* bridge-store.c - mailbag-lmtpd's store, opened on demand
 *
 * SUMMARY
 *	The sessions look recipients up (route.c) and keep the delivery
 *	journal (journal.c) in the store named by the context's "store".
 *	It is opened at the first need and kept; while it cannot be opened
 *	each need gets NULL (the session answers 4xx) and another attempt
 *	is made at most once a second (mb_daemon_store). It lives in the
 *	bridge (struct bridge), so that session.c reaches it without
 *	calling back into main.c, and the session tests link it as is.
 */
#include "bridge.h"

#include "daemon.h"

struct mb_store *bridge_store(struct bridge *b)
{
	char error[1024];

	return mb_daemon_store_cached(b->ctx->store, b->ctx->store_cache_entries, &b->store,
				      &b->last_open_attempt, error, sizeof(error));
}
