/* server.c - the single-threaded epoll reactor of mailbag-policyd
 *
 * SUMMARY
 *	Accepts connections on unix sockets, reads whatever arrives, hands
 *	complete requests to the socket's protocol and writes the replies
 *	back. It only moves bytes: every decision is in the protocol.
 *
 *	Bounds: SERVER_MAX_CONNECTIONS connections (one more is accepted and
 *	closed at once), an unfinished request may not exceed the protocol's
 *	max_input, output per connection SERVER_MAX_OUTPUT, and a connection
 *	idle for SERVER_IDLE_TIMEOUT_SECONDS is closed (Postfix reconnects).
 *	Any of these closes that connection only.
 */
#include "server.h"

#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct server_output {
	char *data;
	size_t len, sent, alloc;
	bool overflow;
};

struct connection {
	int fd;
	const struct server_protocol *protocol;
	char *in;
	size_t in_len;
	struct server_output out;
	void *state; /* the protocol's per-connection memory, or NULL */
	bool close_after_flush;
	uint32_t events; /* what epoll watches now */
	time_t last_active;
	struct connection *prev, *next;
};

/* epoll data for a listener: the index with this bit set */
#define LISTENER_TAG ((uint64_t)1 << 63)

bool server_take_reload_request(void)
{
	return mb_take_reload_request();
}

int server_output(struct server_output *out, const char *data, size_t len)
{
	if (out->len + len > SERVER_MAX_OUTPUT) {
		out->overflow = true;
		return -1;
	}
	if (out->len + len > out->alloc) {
		size_t alloc = out->alloc == 0 ? 4096 : out->alloc;
		while (alloc < out->len + len)
			alloc *= 2;
		char *grown = realloc(out->data, alloc);
		if (grown == NULL) {
			out->overflow = true;
			return -1;
		}
		out->data = grown;
		out->alloc = alloc;
	}
	memcpy(out->data + out->len, data, len);
	out->len += len;
	return 0;
}

static struct connection *connections;
static size_t connection_count;

static void connection_close(int epfd, struct connection *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		connections = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->in);
	free(c->out.data);
	free(c->state);
	free(c);
	connection_count--;
}

static void accept_connections(int epfd, int listen_fd,
			       const struct server_protocol *protocol)
{
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
		struct connection *c = calloc(1, sizeof(*c));
		char *in = malloc(protocol->max_input);
		void *state = protocol->state_size > 0 ? calloc(1, protocol->state_size) : NULL;
		if (c == NULL || in == NULL || (protocol->state_size > 0 && state == NULL)) {
			free(c);
			free(in);
			free(state);
			close(fd);
			mb_error("out of memory accepting a connection");
			continue;
		}
		c->fd = fd;
		c->protocol = protocol;
		c->in = in;
		c->state = state;
		c->last_active = time(NULL);
		c->events = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			mb_error("epoll_ctl: %s", strerror(errno));
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

/* flush - write pending output; false when the connection must go */
static bool flush(int epfd, struct connection *c)
{
	while (c->out.sent < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out.sent, c->out.len - c->out.sent);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		c->out.sent += (size_t)n;
	}
	bool pending = c->out.sent < c->out.len;
	if (!pending) {
		c->out.len = c->out.sent = 0;
		if (c->close_after_flush)
			return false;
	}
	uint32_t want = pending ? EPOLLOUT : (c->close_after_flush ? 0 : EPOLLIN);
	if (want != c->events) {
		/* only when it changes: one syscall less per request */
		struct epoll_event ev = { .events = want, .data.ptr = c };
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = want;
	}
	return true;
}

/* on_readable - read, process complete requests; false to close */
static bool on_readable(struct connection *c)
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

		bool close_now = false;
		size_t used = p->process(p->context, c->state, c->in, c->in_len, &c->out, &close_now);
		if (c->out.overflow)
			return false;
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (close_now) {
			c->close_after_flush = true;
			return true;
		}
		if (c->out.len > 0)
			return true; /* write before reading more */
	}
}

static void close_idle(int epfd, time_t now)
{
	struct connection *c = connections, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		if (now - c->last_active > SERVER_IDLE_TIMEOUT_SECONDS)
			connection_close(epfd, c);
	}
}

int server_run(const int *listen_fds, const struct server_protocol *const *protocols,
	       size_t count, server_tick_fn *tick, void *tick_context)
{
	struct epoll_event events[64];
	time_t last_sweep = time(NULL);
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0 || mb_signals_install() < 0) {
		mb_error("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER_TAG | i };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fds[i], &ev) < 0) {
			mb_error("epoll_ctl on listener: %s", strerror(errno));
			close(epfd);
			return -1;
		}
	}
	while (!mb_stop_requested()) {
		int n = epoll_wait(epfd, events, 64, 1000);
		if (n < 0 && errno != EINTR) {
			mb_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if ((events[i].data.u64 & LISTENER_TAG) != 0) {
				size_t idx = (size_t)(events[i].data.u64 & ~LISTENER_TAG);
				accept_connections(epfd, listen_fds[idx], protocols[idx]);
				continue;
			}
			struct connection *c = events[i].data.ptr;
			bool keep = true;
			if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 &&
			    !c->close_after_flush)
				keep = on_readable(c);
			if (keep)
				keep = flush(epfd, c);
			if (!keep)
				connection_close(epfd, c);
		}
		time_t now = time(NULL);
		if (now != last_sweep) {
			close_idle(epfd, now);
			last_sweep = now;
			if (tick != NULL)
				tick(tick_context, now);
		}
	}
	while (connections != NULL)
		connection_close(epfd, connections);
	close(epfd);
	return 0;
}
