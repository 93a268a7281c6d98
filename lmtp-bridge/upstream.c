/* upstream.c - one LMTP session to a Dovecot node
 *
 * SUMMARY
 *	The client half of the bridge. For a transaction it connects (or
 *	reuses the session of the previous transaction), reads the 220
 *	greeting, says LHLO, then sends MAIL, one RCPT per recipient and
 *	DATA in one write (Dovecot announces PIPELINING), streams the
 *	message dot-stuffed, and reads one final reply per recipient Dovecot
 *	accepted, in order. Each recipient's outcome is Dovecot's own reply
 *	line; when Dovecot gives none (connection refused or lost, a
 *	timeout, a reply that is not LMTP) every recipient still open gets a
 *	4xx, so Postfix keeps the message queued. Nothing here ever makes up
 *	a 250.
 *
 *	A kept session that Dovecot closed while idle is noticed at once
 *	(end of file while idle) or, if the close crosses the next
 *	transaction, before any reply came back: then the transaction is
 *	sent once more on a fresh connection.
 */
#include "upstream.h"
#include "lmtp-proto.h"
#include "log.h"
#include "loop.h"
#include "sockaddr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UPSTREAM_IN_MAX 8192
#define BODY_CHUNK 16384

enum upstream_state {
	UP_CLOSED,      /* no connection */
	UP_CONNECTING,  /* connect() in progress */
	UP_GREETING,    /* waiting for 220 */
	UP_LHLO,        /* waiting for LHLO's 250 */
	UP_READY,       /* idle, session open */
	UP_REPLIES,     /* MAIL, RCPTs, DATA sent; reading their replies */
	UP_BODY,        /* streaming the message */
	UP_FINAL,       /* reading one reply per accepted recipient */
};

struct upstream {
	struct watch watch;
	enum upstream_state state;
	char node_name[40];
	char address[210];
	char hostname[256];
	void (*delivered)(void *owner, struct recipient *r);
	void (*done)(void *owner);
	void *owner;
	/* the transaction */
	bool active;
	const char *sender;
	struct recipient *recipients;
	size_t *indexes;
	size_t count, alloc;
	const struct message *message;
	const char *prefix;     /* header lines sent before the message */
	size_t replies_seen;    /* in UP_REPLIES: MAIL = 0, RCPTs 1..count, DATA count+1 */
	bool mail_ok;
	size_t *accepted;       /* indexes (into indexes[]) Dovecot accepted at RCPT */
	size_t accepted_count, finals_seen;
	uint64_t body_offset;
	bool body_line_start, body_end_sent;
	bool reused, retried;
	time_t deadline;
	int64_t timeout;
	/* buffers */
	char in[UPSTREAM_IN_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_sent, out_alloc;
};

static void on_event(struct watch *w, uint32_t events);

void recipient_answer(struct recipient *r, int code, const char *fmt, ...)
{
	va_list args;

	r->answered = true;
	r->code = code;
	va_start(args, fmt);
	vsnprintf(r->reply, sizeof(r->reply), fmt, args);
	va_end(args);
}

struct upstream *upstream_new(const char *node_name, const char *address, const char *hostname,
			      void (*delivered)(void *owner, struct recipient *r),
			      void (*done)(void *owner), void *owner)
{
	struct upstream *up = calloc(1, sizeof(*up));

	if (up == NULL)
		return NULL;
	up->watch.fd = -1;
	up->watch.handler = on_event;
	up->watch.owner = up;
	snprintf(up->node_name, sizeof(up->node_name), "%s", node_name);
	snprintf(up->address, sizeof(up->address), "%s", address);
	snprintf(up->hostname, sizeof(up->hostname), "%s", hostname);
	up->delivered = delivered;
	up->done = done;
	up->owner = owner;
	return up;
}

static void close_connection(struct upstream *up)
{
	if (up->watch.fd >= 0) {
		int fd = up->watch.fd;
		loop_forget(&up->watch);
		close(fd);
	}
	up->state = UP_CLOSED;
	up->in_len = 0;
	up->out_len = up->out_sent = 0;
}

static void free_upstream(void *ptr)
{
	struct upstream *up = ptr;

	free(up->out);
	free(up->indexes);
	free(up->accepted);
	free(up);
}

void upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	close_connection(up);
	up->active = false;
	up->owner = NULL; /* a report still queued goes nowhere */
	if (loop_defer(up, free_upstream) < 0)
		mb_error("out of memory: an upstream session leaks");
}

bool upstream_busy(const struct upstream *up)
{
	return up->active;
}

const char *upstream_address(const struct upstream *up)
{
	return up->address;
}

static int append(struct upstream *up, const char *data, size_t len)
{
	if (up->out_len + len > up->out_alloc) {
		size_t alloc = up->out_alloc == 0 ? 4096 : up->out_alloc;
		while (alloc < up->out_len + len)
			alloc *= 2;
		char *grown = realloc(up->out, alloc);
		if (grown == NULL)
			return -1;
		up->out = grown;
		up->out_alloc = alloc;
	}
	memcpy(up->out + up->out_len, data, len);
	up->out_len += len;
	return 0;
}

static int appendf(struct upstream *up, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(struct upstream *up, const char *fmt, ...)
{
	char line[1200];
	va_list args;

	va_start(args, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return append(up, line, (size_t)n);
}

static void report_done(void *ptr)
{
	struct upstream *up = ptr;

	if (up->owner != NULL)
		up->done(up->owner);
}

/* finish - the transaction is over: every recipient is answered; the
   owner hears of it after this round of events, never from inside
   upstream_start() or a reply being read */
static void finish(struct upstream *up)
{
	up->active = false;
	if (loop_defer(up, report_done) < 0)
		mb_error("out of memory: a finished delivery is not reported; the session will time out");
}

/* fail - no (more) answers from Dovecot: a 4xx for each open recipient */
static void fail(struct upstream *up, const char *why)
{
	size_t open = 0;

	close_connection(up);
	if (!up->active)
		return;
	for (size_t i = 0; i < up->count; i++) {
		struct recipient *r = &up->recipients[up->indexes[i]];
		if (r->answered)
			continue;
		recipient_answer(r, 451, "451 4.4.2 <%s>: mailbox server %s %s; try again later",
				 r->path, up->node_name, why);
		open++;
	}
	mb_warning("Dovecot LMTP %s (%s) %s: %zu recipient(s) deferred", up->node_name, up->address,
		   why, open);
	finish(up);
}

static void watch_for(struct upstream *up, uint32_t events)
{
	if (loop_set(&up->watch, events) < 0)
		fail(up, "could not be watched");
}

/* want_output - watch for writability while output is pending */
static void want_output(struct upstream *up)
{
	watch_for(up, EPOLLIN | (up->out_sent < up->out_len ? EPOLLOUT : 0));
}

static int open_socket(struct upstream *up)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* checked when the context was read; a failure here is a bug */
	if (mb_sockaddr_parse(up->address, &ss, &len) < 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void connect_now(struct upstream *up)
{
	int fd = open_socket(up);

	if (fd < 0) {
		char why[128];
		snprintf(why, sizeof(why), "is unreachable (%s)", strerror(errno));
		fail(up, why);
		return;
	}
	up->watch.fd = fd;
	up->watch.events = 0;
	up->state = UP_CONNECTING;
	up->reused = false;
	watch_for(up, EPOLLOUT);
}

/* send_transaction - MAIL, the RCPTs and DATA in one go */
static void send_transaction(struct upstream *up)
{
	int ret = appendf(up, "MAIL FROM:<%s>\r\n", up->sender);

	for (size_t i = 0; ret == 0 && i < up->count; i++)
		ret = appendf(up, "RCPT TO:<%s>\r\n", up->recipients[up->indexes[i]].path);
	if (ret == 0)
		ret = append(up, "DATA\r\n", 6);
	if (ret < 0) {
		fail(up, "could not be sent the transaction (out of memory)");
		return;
	}
	up->state = UP_REPLIES;
	up->replies_seen = 0;
	up->accepted_count = 0;
	up->finals_seen = 0;
	up->mail_ok = false;
	want_output(up);
}

void upstream_start(struct upstream *up, const char *sender, struct recipient *recipients,
		    const size_t *indexes, size_t count, const struct message *message,
		    const char *prefix, time_t now, int64_t timeout)
{
	if (count > up->alloc) {
		size_t *grown = realloc(up->indexes, count * sizeof(*grown));
		size_t *grown_accepted = grown == NULL ? NULL : realloc(up->accepted, count * sizeof(*grown_accepted));
		if (grown != NULL)
			up->indexes = grown;
		if (grown_accepted != NULL)
			up->accepted = grown_accepted;
		if (grown == NULL || grown_accepted == NULL) {
			for (size_t i = 0; i < count; i++) {
				struct recipient *r = &recipients[indexes[i]];
				recipient_answer(r, 451, "451 4.3.0 <%s>: out of memory; try again later", r->path);
			}
			up->active = true;
			finish(up);
			return;
		}
		up->alloc = count;
	}
	memcpy(up->indexes, indexes, count * sizeof(*indexes));
	up->count = count;
	up->sender = sender;
	up->recipients = recipients;
	up->message = message;
	up->prefix = prefix;
	up->active = true;
	up->retried = false;
	up->timeout = timeout;
	up->deadline = now + timeout;
	if (up->state == UP_READY) {
		up->reused = true;
		send_transaction(up);
	} else {
		close_connection(up);
		connect_now(up);
	}
}

/* reply_text - one reply line for Postfix: printable, without CR */
static void reply_text(const char *line, size_t len, char *buf, size_t size)
{
	size_t used = 0;

	for (size_t i = 0; i < len && used + 1 < size; i++) {
		unsigned char c = (unsigned char)line[i];
		buf[used++] = c >= ' ' && c < 0x7f ? (char)c : ' ';
	}
	buf[used] = '\0';
}

static void answer(struct upstream *up, size_t nth, int code, const char *line, size_t len)
{
	struct recipient *r = &up->recipients[up->indexes[nth]];

	r->answered = true;
	r->code = code;
	reply_text(line, len, r->reply, sizeof(r->reply));
	if (code / 100 == 2 && up->owner != NULL)
		up->delivered(up->owner, r);
}

static void fill_body(struct upstream *up)
{
	char chunk[BODY_CHUNK], stuffed[2 * BODY_CHUNK];

	while (up->out_len - up->out_sent < BODY_CHUNK && !up->body_end_sent) {
		long n = message_read(up->message, up->body_offset, chunk, sizeof(chunk));
		if (n < 0) {
			fail(up, "could not be sent the message (spool read error)");
			return;
		}
		if (n == 0) {
			/* the decoded message ends with CRLF unless it is empty */
			if (append(up, ".\r\n", 3) < 0) {
				fail(up, "could not be sent the message (out of memory)");
				return;
			}
			up->body_end_sent = true;
			up->state = UP_FINAL;
			break;
		}
		up->body_offset += (uint64_t)n;
		size_t len = message_stuff(chunk, (size_t)n, stuffed, &up->body_line_start);
		if (append(up, stuffed, len) < 0) {
			fail(up, "could not be sent the message (out of memory)");
			return;
		}
	}
}

/* on_transaction_reply - the replies to MAIL, each RCPT and DATA */
static void on_transaction_reply(struct upstream *up, int code, const char *line, size_t len)
{
	size_t nth = up->replies_seen++;

	if (nth == 0) {
		up->mail_ok = code / 100 == 2;
		if (!up->mail_ok) {
			for (size_t i = 0; i < up->count; i++)
				answer(up, i, code, line, len);
		}
	} else if (nth <= up->count) {
		if (up->mail_ok && code / 100 == 2)
			up->accepted[up->accepted_count++] = nth - 1;
		else if (up->mail_ok)
			answer(up, nth - 1, code, line, len);
	} else {
		/* DATA */
		if (code == 354 && up->accepted_count == 0) {
			/* not LMTP (no recipient was accepted): start afresh next time */
			close_connection(up);
			finish(up);
			return;
		}
		if (code == 354) {
			up->state = UP_BODY;
			up->body_offset = 0;
			up->body_line_start = true;
			up->body_end_sent = false;
			/* header lines of ours first: they start no line with a dot */
			if (append(up, up->prefix, strlen(up->prefix)) < 0) {
				fail(up, "could not be sent the message (out of memory)");
				return;
			}
			fill_body(up);
			if (up->state != UP_CLOSED)
				want_output(up);
			return;
		}
		for (size_t i = 0; i < up->accepted_count; i++)
			answer(up, up->accepted[i], code / 100 == 2 ? 451 : code, line, len);
		up->state = UP_READY;
		finish(up);
	}
}

static void on_reply(struct upstream *up, int code, const char *line, size_t len)
{
	switch (up->state) {
	case UP_GREETING:
		if (code != 220) {
			fail(up, "did not greet with 220");
			return;
		}
		if (appendf(up, "LHLO %s\r\n", up->hostname) < 0) {
			fail(up, "could not be greeted");
			return;
		}
		up->state = UP_LHLO;
		want_output(up);
		return;
	case UP_LHLO:
		if (code != 250) {
			fail(up, "refused LHLO");
			return;
		}
		up->state = UP_READY;
		if (up->active)
			send_transaction(up);
		return;
	case UP_REPLIES:
		on_transaction_reply(up, code, line, len);
		return;
	case UP_BODY:
		/* a reply before the body is complete: not LMTP */
		fail(up, "answered before the end of the message");
		return;
	case UP_FINAL:
		if (up->finals_seen >= up->accepted_count) {
			fail(up, "sent an unexpected reply");
			return;
		}
		answer(up, up->accepted[up->finals_seen++], code, line, len);
		if (up->finals_seen == up->accepted_count) {
			up->state = UP_READY;
			finish(up);
		}
		return;
	default:
		/* idle: Dovecot says something (a 421 before closing) */
		close_connection(up);
		return;
	}
}

/* read_replies - take complete reply lines from the input */
static void read_replies(struct upstream *up)
{
	size_t pos = 0;

	while (up->watch.fd >= 0) {
		char *eol = memchr(up->in + pos, '\n', up->in_len - pos);
		if (eol == NULL)
			break;
		size_t len = (size_t)(eol - (up->in + pos));
		const char *line = up->in + pos;
		pos += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		int code;
		bool last;
		if (lmtp_reply_parse(line, len, &code, &last) < 0) {
			fail(up, "sent a line that is not an LMTP reply");
			return;
		}
		if (last)
			on_reply(up, code, line, len);
	}
	if (up->watch.fd < 0)
		return;
	memmove(up->in, up->in + pos, up->in_len - pos);
	up->in_len -= pos;
	if (up->in_len == sizeof(up->in))
		fail(up, "sent a reply line too long");
}

static void on_readable(struct upstream *up)
{
	ssize_t n = read(up->watch.fd, up->in + up->in_len, sizeof(up->in) - up->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		bool nothing_yet = up->state == UP_REPLIES && up->replies_seen == 0;
		if (up->active && up->reused && nothing_yet && !up->retried) {
			/* Dovecot closed the kept session: once more, afresh */
			close_connection(up);
			up->retried = true;
			connect_now(up);
			return;
		}
		if (!up->active) {
			close_connection(up);
			return;
		}
		fail(up, n == 0 ? "closed the connection" : "lost the connection");
		return;
	}
	up->in_len += (size_t)n;
	up->deadline = time(NULL) + up->timeout;
	read_replies(up);
}

static void on_writable(struct upstream *up)
{
	if (up->state == UP_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(up->watch.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			char why[128];
			snprintf(why, sizeof(why), "is unreachable (%s)", strerror(err != 0 ? err : errno));
			fail(up, why);
			return;
		}
		up->state = UP_GREETING;
		watch_for(up, EPOLLIN);
		return;
	}
	while (up->out_sent < up->out_len) {
		ssize_t n = write(up->watch.fd, up->out + up->out_sent, up->out_len - up->out_sent);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(up, "lost the connection");
			return;
		}
		up->out_sent += (size_t)n;
		up->deadline = time(NULL) + up->timeout;
		if (up->state == UP_BODY && up->out_len - up->out_sent < BODY_CHUNK) {
			/* keep the buffer small: slide, then refill from the spool */
			memmove(up->out, up->out + up->out_sent, up->out_len - up->out_sent);
			up->out_len -= up->out_sent;
			up->out_sent = 0;
			fill_body(up);
			if (up->watch.fd < 0)
				return;
		}
	}
	if (up->out_sent == up->out_len)
		up->out_len = up->out_sent = 0;
	want_output(up);
}

static void on_event(struct watch *w, uint32_t events)
{
	struct upstream *up = w->owner;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (up->state == UP_CONNECTING) {
			on_writable(up);
			return;
		}
		on_readable(up);
		if (up->watch.fd < 0)
			return;
	}
	if (events & EPOLLOUT)
		on_writable(up);
}

void upstream_tick(struct upstream *up, time_t now)
{
	if (up->active && now > up->deadline)
		fail(up, "timed out");
}
