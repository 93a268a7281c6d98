/* server.c - mailbag-policyd's connections, on lib/reactor.c
 *
 * SUMMARY
 *	Accepts connections on unix sockets, reads whatever arrives, hands
 *	complete requests to the socket's protocol and writes the replies
 *	back. It only moves bytes: every decision is in the protocol. The
 *	event loop is lib/reactor.c; the replies queue in a lib/buffer.c
 *	buffer per connection.
 *
 *	A connection is watched for reading while it has no output
 *	pending, and for writing (only) while it has: a client that does
 *	not read its replies is not read from either.
 *
 *	Bounds: SERVER_MAX_CONNECTIONS connections (one more is accepted and
 *	closed at once), an unfinished request may not exceed the protocol's
 *	max_input, output per connection SERVER_MAX_OUTPUT, and a connection
 *	idle for SERVER_IDLE_TIMEOUT_SECONDS is closed (Postfix reconnects).
 *	Any of these closes that connection only. The idle check and the
 *	caller's tick run from one reactor timer, once a second.
 */
#include "server.h"

#include "buffer.h"
#include "daemon.h"
#include "log.h"
#include "reactor.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_TICK_MS 1000

struct server_output {
	struct mb_buffer buffer; /* bounded by SERVER_MAX_OUTPUT */
	bool overflow;           /* an append failed: drop the connection */
};

struct connection {
	int fd;
	const struct server_protocol *protocol;
	char *in;
	size_t in_len;
	struct server_output out;
	void *state; /* the protocol's per-connection memory, or NULL */
	bool close_after_flush;
	bool held;   /* a reply comes later (server_hold): read nothing more */
	time_t last_active;
	struct connection *prev, *next;
};

struct listener {
	const struct server_protocol *protocol;
};

struct tick_call {
	server_tick_fn *fn;
	void *context;
};

static struct connection *connections;
static size_t connection_count;
static struct mb_reactor *running_reactor;

int server_output(struct server_output *out, const char *data, size_t len)
{
	struct mb_error_text error;

	if (mb_buffer_append(&out->buffer, data, len, &error) < 0) {
		out->overflow = true;
		return -1;
	}
	return 0;
}

static void connection_close(struct mb_reactor *r, struct connection *c)
{
	mb_reactor_unwatch(r, c->fd, MB_READABLE | MB_WRITABLE);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		connections = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->protocol->closed != NULL)
		c->protocol->closed(c->protocol->context, c->state);
	free(c->in);
	mb_buffer_free(&c->out.buffer);
	free(c->state);
	free(c);
	connection_count--;
}

static void on_connection_readable(struct mb_reactor *r, int fd, int mask, void *data);
static void on_connection_writable(struct mb_reactor *r, int fd, int mask, void *data);

static int watch_connection(struct mb_reactor *r, struct connection *c, int mask,
			    struct mb_error_text *error_r)
{
	return mb_reactor_watch_only(r, c->fd, mask, on_connection_readable, on_connection_writable, c,
				     error_r);
}

static struct connection *connection_new(int fd, const struct server_protocol *protocol)
{
	struct connection *c = calloc(1, sizeof(*c));
	char *in = malloc(protocol->max_input);
	void *state = protocol->state_size > 0 ? calloc(1, protocol->state_size) : NULL;

	if (c == NULL || in == NULL || (protocol->state_size > 0 && state == NULL)) {
		free(c);
		free(in);
		free(state);
		return NULL;
	}
	c->fd = fd;
	c->protocol = protocol;
	c->in = in;
	c->state = state;
	c->last_active = time(NULL);
	mb_buffer_init(&c->out.buffer, SERVER_MAX_OUTPUT);
	return c;
}

static void on_listener(struct mb_reactor *r, int listen_fd, int mask, void *data)
{
	const struct server_protocol *protocol = ((struct listener *)data)->protocol;
	struct mb_error_text error;

	(void)mask;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				mb_warning("accept on %s socket: %s", protocol->name, strerror(errno));
			return;
		}
		if (connection_count >= SERVER_MAX_CONNECTIONS) {
			mb_warning("%s: %d connections open, refusing one more", protocol->name, SERVER_MAX_CONNECTIONS);
			close(fd);
			continue;
		}
		struct connection *c = connection_new(fd, protocol);
		if (c == NULL) {
			close(fd);
			mb_error("out of memory accepting a connection");
			continue;
		}
		if (watch_connection(r, c, MB_READABLE, &error) < 0) {
			mb_error("%s", error.text);
			free(c->in);
			free(c->state);
			free(c);
			close(fd);
			continue;
		}
		c->next = connections;
		if (connections != NULL)
			connections->prev = c;
		connections = c;
		connection_count++;
	}
}

/* flush - write pending output, then watch for what comes next; false
   when the connection must go */
static bool flush(struct mb_reactor *r, struct connection *c)
{
	struct mb_buffer *out = &c->out.buffer;
	struct mb_error_text error;

	while (mb_buffer_length(out) > 0) {
		ssize_t n = write(c->fd, mb_buffer_pending(out), mb_buffer_length(out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		mb_buffer_consume(out, (size_t)n);
	}
	bool pending = mb_buffer_length(out) > 0;
	if (!pending && c->close_after_flush && !c->held)
		return false;
	/* no syscall when the direction stays: one less per request (a
	   held connection stays watched: see on_connection_readable) */
	if (watch_connection(r, c, pending ? MB_WRITABLE : MB_READABLE, &error) < 0) {
		mb_warning("%s: %s, closing connection", c->protocol->name, error.text);
		return false;
	}
	return true;
}

/* process_input - hand the protocol what was read; false to close */
static bool process_input(struct connection *c)
{
	const struct server_protocol *p = c->protocol;
	bool close_now = false;
	size_t used = p->process(p->context, c->state, c->in, c->in_len, &c->out, &close_now);

	if (c->out.overflow)
		return false;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	if (close_now)
		c->close_after_flush = true;
	return true;
}

/* read_requests - read, process complete requests; false to close */
static bool read_requests(struct connection *c)
{
	const struct server_protocol *p = c->protocol;

	for (;;) {
		if (c->in_len == p->max_input) {
			/* the protocol left a full buffer unconsumed */
			mb_warning("%s: request larger than %zu bytes, closing connection", p->name, p->max_input);
			return false;
		}
		ssize_t n = read(c->fd, c->in + c->in_len, p->max_input - c->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		c->in_len += (size_t)n;
		c->last_active = time(NULL);
		if (!process_input(c))
			return false;
		if (c->close_after_flush || c->held)
			return true;
		if (mb_buffer_length(&c->out.buffer) > 0)
			return true; /* write before reading more */
	}
}

struct server_hold *server_hold(struct server_output *out)
{
	struct connection *c = (struct connection *)((char *)out - offsetof(struct connection, out));

	c->held = true;
	return (struct server_hold *)c;
}

void server_answer(struct server_hold *hold, const char *data, size_t len)
{
	struct connection *c = (struct connection *)hold;

	c->held = false;
	c->last_active = time(NULL);
	server_output(&c->out, data, len);
	/* requests that came behind the held one, already read */
	bool ok = !c->out.overflow && (c->in_len == 0 || c->close_after_flush || process_input(c));
	if (!ok || !flush(running_reactor, c))
		connection_close(running_reactor, c);
}

struct mb_reactor *server_reactor(void)
{
	return running_reactor;
}

static void on_connection_readable(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct connection *c = data;

	(void)fd;
	(void)mask;
	if (c->held) {
		/* more input before the held reply (Postfix waits for it): not
		   read until server_answer() watches the connection again */
		mb_reactor_unwatch(r, c->fd, MB_READABLE | MB_WRITABLE);
		return;
	}
	if (!c->close_after_flush && !read_requests(c)) {
		connection_close(r, c);
		return;
	}
	if (!flush(r, c))
		connection_close(r, c);
}

static void on_connection_writable(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct connection *c = data;

	(void)fd;
	(void)mask;
	if (!flush(r, c))
		connection_close(r, c);
}

/* on_tick - once a second: idle connections, then the caller's tick */
static long long on_tick(struct mb_reactor *r, long long id, void *data)
{
	const struct tick_call *tick = data;
	time_t now = time(NULL);
	struct connection *next;

	(void)id;
	for (struct connection *c = connections; c != NULL; c = next) {
		next = c->next;
		if (!c->held && now - c->last_active > SERVER_IDLE_TIMEOUT_SECONDS)
			connection_close(r, c);
	}
	if (tick->fn != NULL)
		tick->fn(tick->context, now);
	return SERVER_TICK_MS;
}

/* serve - watch the listeners, add the tick and run until stopped */
static int serve(struct mb_reactor *r, const int *listen_fds, struct listener *listeners, size_t count,
		 struct tick_call *tick)
{
	struct mb_error_text error;

	for (size_t i = 0; i < count; i++) {
		if (mb_reactor_watch(r, listen_fds[i], MB_READABLE, on_listener, &listeners[i], &error) < 0) {
			mb_error("cannot watch the %s socket: %s", listeners[i].protocol->name, error.text);
			return -1;
		}
	}
	if (mb_reactor_add_timer(r, SERVER_TICK_MS, on_tick, tick, &error) < 0) {
		mb_error("cannot set up the event loop: %s", error.text);
		return -1;
	}
	if (mb_reactor_run(r, &error) < 0)
		mb_error("%s", error.text); /* stops the daemon */
	return 0;
}

int server_run(const int *listen_fds, const struct server_protocol *const *protocols,
	       size_t count, server_tick_fn *tick_fn, server_start_fn *start, server_stop_fn *stop,
	       void *tick_context)
{
	struct mb_error_text error;
	struct tick_call tick = { .fn = tick_fn, .context = tick_context };
	struct listener *listeners = calloc(count, sizeof(*listeners));
	struct mb_reactor *r = mb_reactor_new(&error);

	if (listeners == NULL || r == NULL) {
		mb_error("cannot set up the event loop: %s", r == NULL ? error.text : strerror(errno));
		free(listeners);
		mb_reactor_free(&r);
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		listeners[i].protocol = protocols[i];
	running_reactor = r;
	if (start != NULL && start(tick_context, r) < 0) {
		running_reactor = NULL;
		mb_reactor_free(&r);
		free(listeners);
		return -1;
	}
	int ret = serve(r, listen_fds, listeners, count, &tick);
	while (connections != NULL)
		connection_close(r, connections);
	for (size_t i = 0; i < count; i++)
		mb_reactor_unwatch(r, listen_fds[i], MB_READABLE);
	if (stop != NULL)
		stop(tick_context);
	mb_reactor_free(&r);
	running_reactor = NULL;
	free(listeners);
	return ret;
}
