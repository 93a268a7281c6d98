/* bridge.h - what mailbag-lmtpd's sessions share (see main.c, session.c,
   bridge-store.c). */
#ifndef MAILBAG_BRIDGE_H
#define MAILBAG_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "context.h"
#include "error-text.h"
#include "reactor.h"
#include "store.h"

#define BRIDGE_MAX_SESSIONS 1000

struct session;
struct mb_service_run;

struct bridge {
	struct mb_service_run *service; /* the skeleton running it (main.c, lib/service.c) */
	const char *context_path;
	struct mb_context *ctx;
	struct mb_reactor *reactor;  /* the one event loop (lib/reactor.c) */
	struct mb_store *store;      /* NULL until it opens (see bridge_store) */
	time_t last_open_attempt;
	struct session *sessions;    /* every open Postfix session */
	size_t session_count;
};

/* bridge-store.c: the open store, opening it if needed (at most once a
   second); NULL when it cannot be opened (logged). */
struct mb_store *bridge_store(struct bridge *bridge);

/* session.c: accept Postfix sessions on a listening socket (watched on
   bridge->reactor until the caller unwatches it). 0, or -1 with error_r. */
int session_listen(struct bridge *bridge, int listen_fd, struct mb_error_text *error_r);
/* About once a second: timeouts of sessions and their upstreams. */
void sessions_tick(struct bridge *bridge, time_t now);
/* Close every session (at exit; their memory goes with the reactor's
   deferred calls). */
void sessions_close_all(struct bridge *bridge);

#endif
