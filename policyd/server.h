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
	void *context;
};

struct server_output;
/* Append bytes to the connection's output (a lib/buffer.c buffer).
   Returns 0 or -1 (over SERVER_MAX_OUTPUT pending, or out of memory:
   the connection is dropped). */
int server_output(struct server_output *out, const char *data, size_t len);

/* Called about once a second, between requests (housekeeping). */
typedef void server_tick_fn(void *context, time_t now);

/* Serve the listening sockets until SIGTERM or SIGINT. 0 or -1. */
int server_run(const int *listen_fds, const struct server_protocol *const *protocols,
	       size_t count, server_tick_fn *tick, void *tick_context);


#endif
