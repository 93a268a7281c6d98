/* session.c - one LMTP session from Postfix
 *
 * SUMMARY
 *	The server half of the bridge, RFC 2033: LHLO, MAIL, RCPT (each
 *	recipient judged at once by route.c, its own answer), DATA (decoded
 *	into the spool by message.c), then one reply per accepted recipient,
 *	in order, each being Dovecot's answer for it (upstream.c) or the
 *	bridge's 4xx when Dovecot gave none. The message goes to every node
 *	that holds one of its mailboxes at the same time, one upstream
 *	session per node, kept open for the session's next transaction.
 *
 *	Before delivering, each recipient is looked up in the journal
 *	(journal.c): a retry of a delivery whose 250 was lost is answered
 *	250 and not delivered again. After Dovecot's 250 the journal entry
 *	is written first, the 250 passed on second.
 *
 *	Commands may be pipelined: they are taken from the input in order,
 *	and while a message is being delivered the rest waits in the input
 *	buffer. Bounds: a command line of LMTP_COMMAND_MAX bytes (500 and
 *	close), 1000 recipients per message (452), 20 bad commands (421 and
 *	close), 1 MB of unsent replies, an idle or stalled client closed
 *	after lmtpd.timeout. A client that vanishes mid-DATA leaves nothing
 *	behind: nothing reaches Dovecot before the final dot.
 */
#include "bridge.h"
#include "buffer.h"
#include "grow.h"
#include "journal.h"
#include "lmtp-proto.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "route.h"
#include "upstream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SESSION_IN_MAX (64 * 1024)
#define SESSION_OUT_MAX (1024 * 1024)
#define SESSION_MAX_RECIPIENTS 1000
#define SESSION_MAX_ERRORS 20

enum session_state {
	S_COMMANDS,    /* reading commands */
	S_DATA,        /* reading the message */
	S_WAITING,     /* a mailbox of the message is busy with another delivery */
	S_DELIVERING,  /* waiting for the upstreams */
};

struct session {
	int fd;              /* -1 once closed */
	struct bridge *bridge;
	struct session *prev, *next;
	struct session *wait_prev, *wait_next; /* in the waiting list (S_WAITING) */
	enum session_state state;
	bool lhlo_seen, mail_seen, closing;
	bool processing;     /* inside process_input() */
	int errors;
	time_t last_active;
	char in[SESSION_IN_MAX];
	size_t in_len;
	struct mb_buffer out; /* replies not sent yet, SESSION_OUT_MAX at most */
	/* the transaction */
	char sender[LMTP_PATH_MAX + 1];
	uint64_t declared_size;
	struct recipient *recipients; /* those accepted at RCPT, in order */
	size_t recipient_count, recipient_alloc;
	struct message message;
	char prefix[96];     /* header lines added before the message */
	size_t upstreams_pending;
	/* one upstream per node, kept between transactions */
	struct upstream *upstreams[MB_NODES_MAX + 1];
	size_t upstream_count;
};

static void process_input(struct session *s);
static bool flush_output(struct session *s);
static void start_waiting(void);

/* Output */

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list args;

	va_start(args, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, args);
	va_end(args);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	/* over the limit: a client that never reads its replies */
	struct mb_error_text error;
	if (mb_buffer_append(&s->out, line, (size_t)n + 2, &error) < 0)
		s->closing = true;
}

/* Mailboxes being delivered to
 *
 * One delivery at a time per mailbox: Dovecot's duplicate database (where
 * mailbag-dedupe.sieve records each delivery ID) is rewritten whole by
 * each delivery, so two at once to one user can lose a record, and a
 * retry after a crash would then be saved twice. A message whose mailbox
 * is busy waits (S_WAITING) until that delivery is over; deliveries to
 * different mailboxes run at the same time. */

#define BUSY_BUCKETS 1024

struct busy_mailbox {
	struct busy_mailbox *next;
	unsigned int count;
	char address[];
};

static struct busy_mailbox *busy_table[BUSY_BUCKETS];
static struct session *waiting_first, *waiting_last;

static struct busy_mailbox **busy_slot(const char *address)
{
	uint32_t hash = 2166136261u;

	for (const char *p = address; *p != '\0'; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	struct busy_mailbox **slot = &busy_table[hash % BUSY_BUCKETS];
	while (*slot != NULL && strcmp((*slot)->address, address) != 0)
		slot = &(*slot)->next;
	return slot;
}

/* mailboxes_free - none of the session's mailboxes is being delivered to */
static bool mailboxes_free(const struct session *s)
{
	for (size_t i = 0; i < s->recipient_count; i++) {
		const struct recipient *r = &s->recipients[i];
		if (r->delivering && !r->answered && *busy_slot(r->mailbox) != NULL)
			return false;
	}
	return true;
}

/* mark_busy - claim (or with claim false, release) the session's mailboxes */
static void mark_busy(const struct session *s, bool claim)
{
	for (size_t i = 0; i < s->recipient_count; i++) {
		const struct recipient *r = &s->recipients[i];
		if (!r->delivering || r->mailbox[0] == '\0')
			continue;
		struct busy_mailbox **slot = busy_slot(r->mailbox);
		if (claim && *slot == NULL) {
			size_t len = strlen(r->mailbox) + 1;
			struct busy_mailbox *b = malloc(sizeof(*b) + len);
			if (b == NULL)
				continue; /* not serialised: Dovecot still delivers */
			b->next = NULL;
			b->count = 0;
			memcpy(b->address, r->mailbox, len);
			*slot = b;
		}
		if (*slot == NULL)
			continue;
		if (claim) {
			(*slot)->count++;
		} else if (--(*slot)->count == 0) {
			struct busy_mailbox *gone = *slot;
			*slot = gone->next;
			free(gone);
		}
	}
}

static void wait_list_remove(struct session *s)
{
	if (s->wait_prev != NULL)
		s->wait_prev->wait_next = s->wait_next;
	else
		waiting_first = s->wait_next;
	if (s->wait_next != NULL)
		s->wait_next->wait_prev = s->wait_prev;
	else
		waiting_last = s->wait_prev;
	s->wait_prev = s->wait_next = NULL;
}

static void wait_list_append(struct session *s)
{
	s->wait_prev = waiting_last;
	s->wait_next = NULL;
	if (waiting_last != NULL)
		waiting_last->wait_next = s;
	else
		waiting_first = s;
	waiting_last = s;
}

/* Life cycle */

static void free_session(void *ptr)
{
	struct session *s = ptr;

	message_free(&s->message);
	free(s->recipients);
	mb_buffer_free(&s->out);
	free(s);
}

static void session_close(struct session *s)
{
	struct bridge *b = s->bridge;
	struct mb_error_text error;

	for (size_t i = 0; i < s->upstream_count; i++)
		upstream_free(s->upstreams[i]);
	s->upstream_count = 0;
	if (s->state == S_WAITING)
		wait_list_remove(s);
	if (s->state == S_DELIVERING) {
		mark_busy(s, false);
		start_waiting();
	}
	if (s->fd >= 0) {
		mb_reactor_unwatch(b->reactor, s->fd, MB_READABLE | MB_WRITABLE);
		close(s->fd);
		s->fd = -1;
	}
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	b->session_count--;
	if (s->state != S_COMMANDS)
		mb_info("session closed in the middle of a transaction: nothing was delivered for it");
	/* freed after the round: whoever called this looks at s->fd next */
	if (mb_reactor_defer(b->reactor, free_session, s, &error) < 0)
		mb_error("%s: a closed session leaks", error.text);
}

static void on_session_readable(struct mb_reactor *r, int fd, int mask, void *data);
static void on_session_writable(struct mb_reactor *r, int fd, int mask, void *data);

/* update_watch - read while there is room and no delivery is waiting
   on input order; write while replies are pending */
static void update_watch(struct session *s)
{
	struct mb_error_text error;
	int mask = 0;

	if (!s->closing && s->in_len < sizeof(s->in))
		mask |= MB_READABLE;
	if (mb_buffer_length(&s->out) > 0)
		mask |= MB_WRITABLE;
	if (s->closing && mb_buffer_length(&s->out) == 0) {
		session_close(s);
		return;
	}
	if (mb_reactor_watch_only(s->bridge->reactor, s->fd, mask, on_session_readable, on_session_writable, s,
				  &error) < 0)
		session_close(s);
}

static void reset_transaction(struct session *s)
{
	s->mail_seen = false;
	s->sender[0] = '\0';
	s->declared_size = 0;
	s->recipient_count = 0;
	message_reset(&s->message);
}

/* Delivery */

static struct upstream *upstream_for(struct session *s, const struct recipient *r);
static void upstream_done(void *owner);

/* answer_all - the same answer for every accepted recipient: code and
   text follow "CODE X.Y.Z <recipient>: " */
static void answer_all(struct session *s, int code, const char *status, const char *text)
{
	for (size_t i = 0; i < s->recipient_count; i++)
		recipient_answer(&s->recipients[i], code, "%d %s <%s>: %s", code, status,
				 s->recipients[i].path, text);
}

/* check_journal - recipients delivered before (a retry) are answered
   now; returns how many are left to deliver */
static size_t check_journal(struct session *s, time_t now)
{
	char queue_id[JOURNAL_QUEUE_ID_MAX + 1], message_id[256], error[512];
	size_t head_len, left = 0;
	const char *head = message_head(&s->message, &head_len);
	bool has_id = journal_message_ids(head, head_len, queue_id, message_id) > 0;
	struct mb_store *store = has_id ? bridge_store(s->bridge) : NULL;

	s->prefix[0] = '\0';
	if (has_id) {
		char id[JOURNAL_DELIVERY_ID_MAX];
		journal_delivery_id(queue_id, message_id, id);
		snprintf(s->prefix, sizeof(s->prefix), "X-Mailbag-Delivery-Id: %s\r\n", id);
	}
	for (size_t i = 0; i < s->recipient_count; i++) {
		struct recipient *r = &s->recipients[i];
		r->journal_key[0] = '\0';
		if (has_id)
			journal_key(queue_id, message_id, r->path, r->journal_key);
		int seen = store != NULL ? journal_seen(store, r->journal_key, now, error, sizeof(error)) : 0;
		if (seen < 0)
			mb_warning("journal lookup for <%s> failed (delivering anyway): %s", r->path, error);
		if (seen > 0) {
			recipient_answer(r, 250, "250 2.0.0 <%s> delivered before (queue ID %s); not delivered twice",
					 r->path, queue_id);
			mb_info("<%s> queue ID %s: a retry of a delivery already made; answered 250",
				r->path, queue_id);
			continue;
		}
		r->delivering = true;
		left++;
	}
	return left;
}

/* finish_delivery - every recipient answered: journal, then replies */
static void finish_delivery(struct session *s)
{
	bool was_delivering = s->state == S_DELIVERING;

	for (size_t i = 0; i < s->recipient_count; i++) {
		const struct recipient *r = &s->recipients[i];
		reply(s, "%s", r->answered ? r->reply : "451 4.3.0 internal error; try again later");
		mb_info("<%s> node %s: %s", r->path, r->node_name, r->answered ? r->reply : "unanswered");
	}
	if (was_delivering)
		mark_busy(s, false);
	reset_transaction(s);
	s->state = S_COMMANDS;
	if (was_delivering)
		start_waiting();
	/* pipelined commands waiting behind the message */
	if (!s->processing)
		process_input(s);
}

/* journal_delivered - the moment Dovecot says 250 for a recipient, and
   before that 250 goes anywhere: remember the delivery (and tell the
   notify socket, if one is set) */
static void journal_delivered(void *owner, struct recipient *r)
{
	struct session *s = owner;
	char error[512];

	notify_delivered(s->bridge->ctx->lmtpd.notify_socket, r->mailbox, "INBOX");
	if (r->journal_key[0] == '\0')
		return;
	struct mb_store *store = bridge_store(s->bridge);
	if (store == NULL || journal_record(store, r->journal_key, time(NULL),
					    s->bridge->ctx->lmtpd.dedupe_window, error, sizeof(error)) < 0)
		mb_warning("journal entry for <%s> not written (a retry would be left to Dovecot's dedupe): %s",
			   r->path, store == NULL ? "store unavailable" : error);
}

static void start_delivery(struct session *s);

static void deliver(struct session *s)
{
	const struct mb_context *ctx = s->bridge->ctx;
	time_t now = time(NULL);

	s->state = S_WAITING;
	if (s->message.too_big) {
		answer_all(s, 552, "5.3.4", "the message exceeds the size limit");
		finish_delivery(s);
		return;
	}
	if (s->message.failed) {
		mb_error("spooling a message to %s failed: %s", ctx->lmtpd.spool_dir,
			 strerror(s->message.spool_errno));
		answer_all(s, 452, "4.3.1", "insufficient system storage; try again later");
		finish_delivery(s);
		return;
	}
	if (check_journal(s, now) == 0) {
		finish_delivery(s);
		return;
	}
	if (!mailboxes_free(s)) {
		wait_list_append(s);
		return;
	}
	start_delivery(s);
}

/* start_waiting - messages whose mailboxes are free now, in arrival order */
static void start_waiting(void)
{
	struct session *next;

	for (struct session *s = waiting_first; s != NULL; s = next) {
		next = s->wait_next;
		if (!mailboxes_free(s))
			continue;
		wait_list_remove(s);
		start_delivery(s);
	}
}

/* start_delivery - one upstream per node, all at once */
static void start_delivery(struct session *s)
{
	const struct mb_context *ctx = s->bridge->ctx;
	time_t now = time(NULL);
	size_t indexes[SESSION_MAX_RECIPIENTS];

	s->state = S_DELIVERING;
	mark_busy(s, true);
	s->upstreams_pending = 0;
	struct upstream *started[MB_NODES_MAX + 1];
	size_t started_count = 0;
	for (size_t i = 0; i < s->recipient_count; i++) {
		struct recipient *r = &s->recipients[i];
		if (!r->delivering || r->answered)
			continue;
		struct upstream *up = upstream_for(s, r);
		bool seen = false;
		for (size_t k = 0; k < started_count; k++)
			seen = seen || started[k] == up;
		if (seen || up == NULL)
			continue;
		size_t count = 0;
		for (size_t j = i; j < s->recipient_count; j++) {
			struct recipient *other = &s->recipients[j];
			if (other->delivering && !other->answered &&
			    strcmp(other->node_address, r->node_address) == 0)
				indexes[count++] = j;
		}
		started[started_count++] = up;
		s->upstreams_pending++;
		upstream_start(up, s->sender, s->recipients, indexes, count, &s->message, s->prefix, now,
			       ctx->lmtpd.timeout);
	}
	if (s->upstreams_pending == 0)
		finish_delivery(s);
}

static struct upstream *upstream_for(struct session *s, const struct recipient *r)
{
	for (size_t i = 0; i < s->upstream_count; i++) {
		if (strcmp(upstream_address(s->upstreams[i]), r->node_address) == 0)
			return s->upstreams[i];
	}
	struct upstream *up = s->upstream_count < MB_NODES_MAX + 1 ?
		upstream_new(s->bridge->reactor, r->node_name, r->node_address, s->bridge->ctx->hostname,
			     journal_delivered, upstream_done, s) : NULL;
	if (up == NULL) {
		for (size_t i = 0; i < s->recipient_count; i++) {
			struct recipient *other = &s->recipients[i];
			if (other->delivering && !other->answered &&
			    strcmp(other->node_address, r->node_address) == 0)
				recipient_answer(other, 451, "451 4.3.0 <%s>: out of memory; try again later",
						 other->path);
		}
		return NULL;
	}
	s->upstreams[s->upstream_count++] = up;
	return up;
}

static void upstream_done(void *owner)
{
	struct session *s = owner;

	if (s->fd < 0)
		return; /* closed meanwhile */
	if (s->upstreams_pending > 0 && --s->upstreams_pending == 0)
		finish_delivery(s);
	if (s->fd >= 0 && flush_output(s))
		update_watch(s);
}

/* Commands */

static void bad_command(struct session *s, const char *text)
{
	reply(s, "%s", text);
	if (++s->errors >= SESSION_MAX_ERRORS) {
		reply(s, "421 4.7.0 %s too many errors; closing", s->bridge->ctx->hostname);
		s->closing = true;
	}
}

static void on_lhlo(struct session *s)
{
	const struct mb_context *ctx = s->bridge->ctx;

	reset_transaction(s);
	s->lhlo_seen = true;
	reply(s, "250-%s", ctx->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	if (ctx->lmtpd.max_message_bytes > 0)
		reply(s, "250-SIZE %llu", (unsigned long long)ctx->lmtpd.max_message_bytes);
	else
		reply(s, "250-SIZE");
	reply(s, "250 XMAILBAG");
}

static void on_mail(struct session *s, const struct lmtp_command *cmd)
{
	uint64_t max = s->bridge->ctx->lmtpd.max_message_bytes;

	if (!s->lhlo_seen)
		bad_command(s, "503 5.5.1 Say LHLO first");
	else if (s->mail_seen)
		bad_command(s, "503 5.5.1 Nested MAIL command");
	else if (max > 0 && cmd->size > max)
		reply(s, "552 5.3.4 Message size exceeds the limit of %llu bytes", (unsigned long long)max);
	else {
		s->mail_seen = true;
		snprintf(s->sender, sizeof(s->sender), "%s", cmd->path);
		s->declared_size = cmd->size;
		reply(s, "250 2.1.0 Ok");
	}
}

static void on_rcpt(struct session *s, const struct lmtp_command *cmd)
{
	const struct mb_context *ctx = s->bridge->ctx;
	struct route route;

	if (!s->mail_seen) {
		bad_command(s, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if (s->recipient_count >= SESSION_MAX_RECIPIENTS) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	route_recipient(ctx, bridge_store(s->bridge), cmd->path, s->declared_size, (int64_t)time(NULL), &route);
	if (route.code == 250) {
		struct recipient *grown = mb_grow(s->recipients, &s->recipient_alloc, s->recipient_count + 1,
						  sizeof(*s->recipients), 16);
		if (grown == NULL) {
			reply(s, "452 4.3.0 <%s>: out of memory; try again later", cmd->path);
			return;
		}
		s->recipients = grown;
	}
	if (route.code == 250) {
		struct recipient *r = &s->recipients[s->recipient_count++];
		memset(r, 0, sizeof(*r));
		snprintf(r->path, sizeof(r->path), "%s", cmd->path);
		snprintf(r->mailbox, sizeof(r->mailbox), "%s", route.mailbox);
		snprintf(r->node_name, sizeof(r->node_name), "%s", route.node != NULL ? route.node->name : "local");
		snprintf(r->node_address, sizeof(r->node_address), "%s",
			 route.node != NULL ? route.node->address : ctx->lmtpd.dovecot_lmtp);
	} else {
		mb_info("<%s>: %s", cmd->path, route.reply);
	}
	reply(s, "%s", route.reply);
}

static void on_data(struct session *s)
{
	if (!s->mail_seen) {
		bad_command(s, "503 5.5.1 Need MAIL before DATA");
	} else if (s->recipient_count == 0) {
		reply(s, "503 5.5.1 No valid recipients");
	} else {
		message_reset(&s->message);
		s->state = S_DATA;
		reply(s, "354 Go ahead; end with <CR><LF>.<CR><LF>");
	}
}

static void on_command(struct session *s, const char *line, size_t len)
{
	struct lmtp_command cmd;
	const char *error;

	if (lmtp_command_parse(line, len, &cmd, &error) < 0) {
		bad_command(s, error);
		return;
	}
	switch (cmd.verb) {
	case LMTP_LHLO: on_lhlo(s); break;
	case LMTP_MAIL: on_mail(s, &cmd); break;
	case LMTP_RCPT: on_rcpt(s, &cmd); break;
	case LMTP_DATA: on_data(s); break;
	case LMTP_RSET: reset_transaction(s); reply(s, "250 2.0.0 Ok"); break;
	case LMTP_NOOP: reply(s, "250 2.0.0 Ok"); break;
	case LMTP_VRFY: reply(s, "252 2.5.0 Not verified; send the message"); break;
	case LMTP_QUIT:
		reply(s, "221 2.0.0 %s closing", s->bridge->ctx->hostname);
		s->closing = true;
		break;
	case LMTP_HELO: case LMTP_EHLO:
		bad_command(s, "500 5.5.1 This is LMTP: use LHLO");
		break;
	case LMTP_UNKNOWN:
		bad_command(s, "500 5.5.2 Unknown command");
		break;
	}
}

/* process_input - commands and message data from the input, in order,
   until a delivery has to wait or the input is used up */
static void process_input(struct session *s)
{
	size_t pos = 0;

	s->processing = true;
	while (pos < s->in_len && !s->closing) {
		if (s->state == S_WAITING || s->state == S_DELIVERING)
			break; /* the rest waits behind the message's replies */
		if (s->state == S_DATA) {
			bool done;
			pos += message_decode(&s->message, s->in + pos, s->in_len - pos, &done);
			if (done)
				deliver(s);
			continue;
		}
		char *eol = memchr(s->in + pos, '\n', s->in_len - pos);
		if (eol == NULL) {
			if (s->in_len - pos > LMTP_COMMAND_MAX) {
				reply(s, "500 5.5.6 Command line too long");
				s->closing = true;
			}
			break;
		}
		size_t len = (size_t)(eol - (s->in + pos));
		const char *line = s->in + pos;
		pos += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > LMTP_COMMAND_MAX) {
			reply(s, "500 5.5.6 Command line too long");
			s->closing = true;
			break;
		}
		on_command(s, line, len);
	}
	memmove(s->in, s->in + pos, s->in_len - pos);
	s->in_len -= pos;
	s->processing = false;
}

/* I/O */

static void read_input(struct session *s)
{
	ssize_t n = read(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_close(s);
		return;
	}
	s->in_len += (size_t)n;
	s->last_active = time(NULL);
	process_input(s);
}

static bool flush_output(struct session *s)
{
	while (mb_buffer_length(&s->out) > 0) {
		ssize_t n = write(s->fd, mb_buffer_pending(&s->out), mb_buffer_length(&s->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			session_close(s);
			return false;
		}
		mb_buffer_consume(&s->out, (size_t)n);
	}
	return true;
}

static void on_session_readable(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct session *s = data;

	(void)r;
	(void)fd;
	(void)mask;
	read_input(s);
	if (s->fd >= 0 && flush_output(s))
		update_watch(s);
}

static void on_session_writable(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct session *s = data;

	(void)r;
	(void)fd;
	(void)mask;
	if (flush_output(s))
		update_watch(s);
}

static void session_accept(struct bridge *b, int listen_fd)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				mb_error("accept: %s", strerror(errno));
			return;
		}
		struct session *s = b->session_count < BRIDGE_MAX_SESSIONS ? calloc(1, sizeof(*s)) : NULL;
		if (s == NULL) {
			static const char too_many[] = "421 4.3.2 Too many sessions; try again later\r\n";
			if (write(fd, too_many, sizeof(too_many) - 1) < 0) {
				/* closing anyway */
			}
			close(fd);
			continue;
		}
		s->fd = fd;
		s->bridge = b;
		mb_buffer_init(&s->out, SESSION_OUT_MAX);
		s->last_active = time(NULL);
		message_init(&s->message, b->ctx->lmtpd.spool_dir, b->ctx->lmtpd.max_message_bytes);
		s->next = b->sessions;
		if (b->sessions != NULL)
			b->sessions->prev = s;
		b->sessions = s;
		b->session_count++;
		reply(s, "220 %s LMTP mailbag-lmtpd ready", b->ctx->hostname);
		if (flush_output(s))
			update_watch(s);
	}
}

static void on_listener(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)r;
	(void)mask;
	session_accept(data, fd);
}

int session_listen(struct bridge *b, int listen_fd, struct mb_error_text *error_r)
{
	return mb_reactor_watch(b->reactor, listen_fd, MB_READABLE, on_listener, b, error_r);
}

void sessions_tick(struct bridge *b, time_t now)
{
	struct session *next;

	for (struct session *s = b->sessions; s != NULL; s = next) {
		next = s->next;
		for (size_t i = 0; i < s->upstream_count; i++)
			upstream_tick(s->upstreams[i], now);
		if (s->fd < 0)
			continue;
		if (s->state != S_DELIVERING && s->state != S_WAITING &&
		    now - s->last_active > b->ctx->lmtpd.timeout) {
			mb_info("closing a session idle for %lld s", (long long)(now - s->last_active));
			session_close(s);
		}
	}
}

void sessions_close_all(struct bridge *b)
{
	while (b->sessions != NULL)
		session_close(b->sessions);
}
