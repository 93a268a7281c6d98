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
#include "buffer.h"
#include "grow.h"
#include "lmtp-proto.h"
#include "log.h"
#include "sockaddr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UPSTREAM_IN_MAX 8192
#define BODY_CHUNK 16384
/* never reached: 1000 RCPT lines of 530 bytes, or the body kept under
   three chunks; a bound all the same */
#define UPSTREAM_OUT_MAX (1024 * 1024)

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
	struct mb_reactor *reactor;
	int fd;                 /* -1 when there is no connection */
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
	size_t count, indexes_capacity;
	const struct message *message;
	const char *prefix;     /* header lines sent before the message */
	size_t replies_seen;    /* in UP_REPLIES: MAIL = 0, RCPTs 1..count, DATA count+1 */
	bool mail_ok;
	size_t *accepted;       /* indexes (into indexes[]) Dovecot accepted at RCPT */
	size_t accepted_capacity, accepted_count, finals_seen;
	uint64_t body_offset;
	bool body_line_start, body_end_sent;
	bool reused, retried;
	time_t deadline;
	int64_t timeout;
	/* buffers */
	char in[UPSTREAM_IN_MAX];
	size_t in_len;
	struct mb_buffer out;
};

void recipient_answer(struct recipient *r, int code, const char *fmt, ...)
{
	va_list args;

	r->answered = true;
	r->code = code;
	va_start(args, fmt);
	vsnprintf(r->reply, sizeof(r->reply), fmt, args);
	va_end(args);
}

struct upstream *upstream_new(struct mb_reactor *reactor, const char *node_name, const char *address,
			      const char *hostname, void (*delivered)(void *owner, struct recipient *r),
			      void (*done)(void *owner), void *owner)
{
	struct upstream *up = calloc(1, sizeof(*up));

	if (up == NULL)
		return NULL;
	up->reactor = reactor;
	up->fd = -1;
	mb_buffer_init(&up->out, UPSTREAM_OUT_MAX);
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
	if (up->fd >= 0) {
		mb_reactor_unwatch(up->reactor, up->fd, MB_READABLE | MB_WRITABLE);
		close(up->fd);
		up->fd = -1;
	}
	up->state = UP_CLOSED;
	up->in_len = 0;
	mb_buffer_clear(&up->out);
}

static void free_upstream(void *ptr)
{
	struct upstream *up = ptr;

	mb_buffer_free(&up->out);
	free(up->indexes);
	free(up->accepted);
	free(up);
}

void upstream_free(struct upstream *up)
{
	struct mb_error_text error;

	if (up == NULL)
		return;
	close_connection(up);
	up->active = false;
	up->owner = NULL; /* a report still queued goes nowhere */
	/* after the round: a report queued for it checks up->owner */
	if (mb_reactor_defer(up->reactor, free_upstream, up, &error) < 0)
		mb_error("%s: an upstream session leaks", error.text);
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
	struct mb_error_text error;

	return mb_buffer_append(&up->out, data, len, &error);
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
	struct mb_error_text error;

	up->active = false;
	if (mb_reactor_defer(up->reactor, report_done, up, &error) < 0)
		mb_error("%s: a finished delivery is not reported; the session will time out", error.text);
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

static void on_upstream_readable(struct mb_reactor *r, int fd, int mask, void *data);
static void on_upstream_writable(struct mb_reactor *r, int fd, int mask, void *data);

static void watch_for(struct upstream *up, int mask)
{
	struct mb_error_text error;

	if (mb_reactor_watch_only(up->reactor, up->fd, mask, on_upstream_readable, on_upstream_writable, up,
				  &error) < 0)
		fail(up, "could not be watched");
}

/* want_output - watch for writability while output is pending */
static void want_output(struct upstream *up)
{
	watch_for(up, MB_READABLE | (mb_buffer_length(&up->out) > 0 ? MB_WRITABLE : 0));
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
	up->fd = fd;
	up->state = UP_CONNECTING;
	up->reused = false;
	watch_for(up, MB_WRITABLE);
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
	size_t *grown = mb_grow(up->indexes, &up->indexes_capacity, count, sizeof(*up->indexes), 0);
	size_t *grown_accepted = grown == NULL ? NULL :
		mb_grow(up->accepted, &up->accepted_capacity, count, sizeof(*up->accepted), 0);
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

	while (mb_buffer_length(&up->out) < BODY_CHUNK && !up->body_end_sent) {
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
		/* DATA refused (no valid recipient: every RCPT got a 4xx, as
		   from a Dovecot whose userdb is away) leaves Dovecot's MAIL
		   open, and the next MAIL on this session would get "503 MAIL
		   already given": a 5xx, a bounce. Start afresh next time. */
		close_connection(up);
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

	while (up->fd >= 0) {
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
	if (up->fd < 0)
		return;
	memmove(up->in, up->in + pos, up->in_len - pos);
	up->in_len -= pos;
	if (up->in_len == sizeof(up->in))
		fail(up, "sent a reply line too long");
}

static void on_readable(struct upstream *up)
{
	ssize_t n = read(up->fd, up->in + up->in_len, sizeof(up->in) - up->in_len);

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
		if (getsockopt(up->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			char why[128];
			snprintf(why, sizeof(why), "is unreachable (%s)", strerror(err != 0 ? err : errno));
			fail(up, why);
			return;
		}
		up->state = UP_GREETING;
		watch_for(up, MB_READABLE);
		return;
	}
	while (mb_buffer_length(&up->out) > 0) {
		ssize_t n = write(up->fd, mb_buffer_pending(&up->out), mb_buffer_length(&up->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(up, "lost the connection");
			return;
		}
		mb_buffer_consume(&up->out, (size_t)n);
		up->deadline = time(NULL) + up->timeout;
		if (up->state == UP_BODY && mb_buffer_length(&up->out) < BODY_CHUNK) {
			/* keep the buffer small: slide, then refill from the spool */
			mb_buffer_compact(&up->out);
			fill_body(up);
			if (up->fd < 0)
				return;
		}
	}
	want_output(up);
}

/* on_upstream_readable - replies; while connecting only writing is
   watched, and a hang-up or error comes as writable */
static void on_upstream_readable(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct upstream *up = data;

	(void)r;
	(void)fd;
	(void)mask;
	if (up->state == UP_CONNECTING)
		on_writable(up);
	else
		on_readable(up);
}

static void on_upstream_writable(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)r;
	(void)fd;
	(void)mask;
	on_writable(data);
}

void upstream_tick(struct upstream *up, time_t now)
{
	if (up->active && now > up->deadline)
		fail(up, "timed out");
}
