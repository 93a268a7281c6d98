/* bridge.h - what mailbag-lmtpd's sessions share (see main.c, session.c). */
#ifndef MAILBAG_BRIDGE_H
#define MAILBAG_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "context.h"
#include "loop.h"
#include "store.h"

#define BRIDGE_MAX_SESSIONS 1000

struct session;
struct mb_service_run;

struct bridge {
	struct mb_service_run *service; /* the skeleton running it (main.c, lib/service.c) */
	const char *context_path;
	struct mb_context *ctx;
	struct mb_store *store;      /* NULL until it opens (see bridge_store) */
	time_t last_open_attempt;
	struct watch listener;
	struct watch tcp_listener;   /* lmtpd.listen_tcp, fd -1 when off */
	struct session *sessions;    /* every open Postfix session */
	size_t session_count;
};

/* The open store, opening it if needed (at most once a second); NULL
   when it cannot be opened (logged). */
struct mb_store *bridge_store(struct bridge *bridge);

/* session.c: accept Postfix sessions on a listening socket */
void session_accept(struct bridge *bridge, int listen_fd);
/* About once a second: timeouts of sessions and their upstreams. */
void sessions_tick(struct bridge *bridge, time_t now);
/* Close every session (at exit). */
void sessions_close_all(struct bridge *bridge);

#endif
