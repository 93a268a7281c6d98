/* server.h - mailbag-policyd's connections, on lib/reactor.c (see server.c). */
#ifndef MAILBAG_SERVER_H
#define MAILBAG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SERVER_MAX_CONNECTIONS 1000
#define SERVER_IDLE_TIMEOUT_SECONDS 600
#define SERVER_MAX_OUTPUT (1024 * 1024)

/* What the reactor needs of a protocol: take complete requests from the
   front of in (len bytes), append replies with server_output(). Returns
   the bytes consumed; sets *close_r when the connection must be closed
   once its output is flushed (a malformed stream). */
struct server_output;

struct server_protocol {
	const char *name;
	size_t max_input; /* a buffered, unfinished request may not exceed it */
	/* bytes of zeroed memory kept per connection for the protocol
	   (passed as connection_state, NULL when 0) */
	size_t state_size;
	size_t (*process)(void *context, void *connection_state, const char *in, size_t len,
			  struct server_output *out, bool *close_r);
	/* the connection is closing, its state about to be freed (NULL:
	   nothing to do); a reply held for it must not be answered */
	void (*closed)(void *context, void *connection_state);
	void *context;
};

struct server_output;
/* Append bytes to the connection's output (a lib/buffer.c buffer).
   Returns 0 or -1 (over SERVER_MAX_OUTPUT pending, or out of memory:
   the connection is dropped). */
int server_output(struct server_output *out, const char *data, size_t len);

/* From process(): the reply to the request it consumed last will come
   later, through server_answer(); process() returns at once, and
   nothing more of the connection is read or processed until then. The
   handle lives until server_answer() or the protocol's closed(). */
struct server_hold;
struct server_hold *server_hold(struct server_output *out);
/* The held reply: written, then the requests that came behind it are
   processed. May close the connection (closed() is then called). */
void server_answer(struct server_hold *hold, const char *data, size_t len);

/* The event loop server_run() turns (NULL when it is not running). */
struct mb_reactor;
struct mb_reactor *server_reactor(void);

/* Called about once a second, between requests (housekeeping). */
typedef void server_tick_fn(void *context, time_t now);
/* Called with the reactor before serving (0, or -1 not to serve), and
   after, before the reactor is freed; either may be NULL. */
typedef int server_start_fn(void *context, struct mb_reactor *reactor);
typedef void server_stop_fn(void *context);

/* Serve the listening sockets until SIGTERM or SIGINT. 0 or -1. */
int server_run(const int *listen_fds, const struct server_protocol *const *protocols,
	       size_t count, server_tick_fn *tick, server_start_fn *start, server_stop_fn *stop,
	       void *tick_context);


#endif
