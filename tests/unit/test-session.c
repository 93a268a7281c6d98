/* test-session.c - mailbag-lmtpd's LMTP session (lmtp-bridge/session.c)
 * as Postfix meets it: the real session code, lib/reactor.c, route.c on a
 * real LMDB store, the journal and upstream.c, in a child process; this
 * process is the LMTP client on the bridge's socket and a scripted Dovecot
 * LMTP server on the socket lmtpd.dovecot_lmtp names. Checked: the order
 * commands must come in, the bounds (bad commands, line length, message
 * size), one reply per recipient in RCPT order and each Dovecot's own,
 * pipelined commands held behind a message until its replies are out, a
 * retry answered from the journal without a second delivery, no Dovecot
 * means 4xx and never 250, a client that vanishes mid-DATA leaves
 * nothing delivered, and one delivery at a time per mailbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge.h"
#include "context.h"
#include "daemon.h"
#include "reactor.h"
#include "store-fixture.h"

#define WAIT_MS 5000

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len;
};

struct world {
	char dir[64];
	char context[128], lmtp[128], dovecot[128], log[128];
	int dovecot_listener;
	pid_t bridge;
};

/* The bridge: what main.c does, minus the privileges */

static long long tick(struct mb_reactor *r, long long id, void *context)
{
	(void)r;
	(void)id;
	sessions_tick(context, time(NULL));
	return 1000;
}

static void run_bridge(struct world *w, int listen_fd)
{
	static struct bridge b;
	char error[1024];

	if (freopen(w->log, "a", stderr) == NULL)
		_exit(70);
	setvbuf(stderr, NULL, _IONBF, 0);
	b.context_path = w->context;
	if (mb_context_load(w->context, &b.ctx, error, sizeof(error)) < 0) {
		fprintf(stderr, "context: %s\n", error);
		_exit(78);
	}
	struct mb_error_text loop_error;
	if (sodium_init() < 0 || mb_signals_install() < 0 || (b.reactor = mb_reactor_new(&loop_error)) == NULL)
		_exit(71);
	if (session_listen(&b, listen_fd, &loop_error) < 0 ||
	    mb_reactor_add_timer(b.reactor, 1000, tick, &b, &loop_error) < 0)
		_exit(71);
	int ret = mb_reactor_run(b.reactor, &loop_error);
	sessions_close_all(&b);
	mb_reactor_free(&b.reactor);
	mb_store_close(&b.store);
	mb_context_free(&b.ctx);
	_exit(ret < 0 ? 1 : 0);
}

/* Sockets */

/* listen_on - a listening socket at path, non-blocking as the daemon's
   is (session_accept accepts until EAGAIN) */
static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0 && strlen(path) < sizeof(addr.sun_path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static void conn_open(struct conn *c, int fd)
{
	c->fd = fd;
	c->len = 0;
}

static struct conn *client_connect(struct world *w)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct conn *c = calloc(1, sizeof(*c));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_non_null(c);
	memcpy(addr.sun_path, w->lmtp, strlen(w->lmtp) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	conn_open(c, fd);
	return c;
}

/* dovecot_accept - the bridge's connection to the scripted Dovecot, or
   NULL when none comes within ms */
static struct conn *dovecot_accept(struct world *w, int ms)
{
	if (!readable(w->dovecot_listener, ms))
		return NULL;
	int fd = accept4(w->dovecot_listener, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	struct conn *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	conn_open(c, fd);
	return c;
}

static void conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static void put(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, data, len);
		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

static void say(struct conn *c, const char *line)
{
	put(c, line, strlen(line));
	put(c, "\r\n", 2);
}

/* get_line - the next line without its CRLF; false at end of file */
static bool get_line(struct conn *c, char *line, size_t size)
{
	for (;;) {
		char *eol = memchr(c->buf, '\n', c->len);
		if (eol != NULL) {
			size_t len = (size_t)(eol - c->buf);
			size_t keep = len > 0 && c->buf[len - 1] == '\r' ? len - 1 : len;
			assert_true(keep < size);
			memcpy(line, c->buf, keep);
			line[keep] = '\0';
			memmove(c->buf, eol + 1, c->len - len - 1);
			c->len -= len + 1;
			return true;
		}
		if (!readable(c->fd, WAIT_MS))
			fail_msg("no line within %d ms (have '%.*s')", WAIT_MS, (int)c->len, c->buf);
		assert_true(c->len < sizeof(c->buf));
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return false;
		c->len += (size_t)n;
	}
}

static void expect_line(struct conn *c, const char *start)
{
	char line[1024];

	if (!get_line(c, line, sizeof(line)))
		fail_msg("end of file, wanted '%s...'", start);
	if (strncmp(line, start, strlen(start)) != 0)
		fail_msg("got '%s', wanted '%s...'", line, start);
}

/* cmd - send a command, check its (last) reply line starts with want */
static void cmd(struct conn *c, const char *command, const char *want)
{
	char line[1024];

	say(c, command);
	do {
		if (!get_line(c, line, sizeof(line)))
			fail_msg("%s: end of file, wanted '%s...'", command, want);
	} while (line[3] == '-');
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("%s: got '%s', wanted '%s...'", command, line, want);
}

static void expect_eof(struct conn *c)
{
	char line[1024];

	if (get_line(c, line, sizeof(line)))
		fail_msg("got '%s', wanted the end of the connection", line);
}

/* nothing_within - no byte arrives on c for ms */
static void nothing_within(struct conn *c, int ms)
{
	if (c->len > 0 || readable(c->fd, ms))
		fail_msg("the bridge said something too early: '%.*s'", (int)c->len, c->buf);
}

/* The scripted Dovecot */

/* dovecot_greet - greeting and LHLO, as Dovecot's LMTP does them */
static void dovecot_greet(struct conn *d)
{
	say(d, "220 fake-dovecot LMTP ready");
	expect_line(d, "LHLO ");
	say(d, "250-fake-dovecot");
	say(d, "250-PIPELINING");
	say(d, "250-ENHANCEDSTATUSCODES");
	say(d, "250 8BITMIME");
}

/* dovecot_transaction - read MAIL, the RCPTs (checked against rcpts, in
   order, NULL-terminated) and DATA; accept them all; return the message
   as it came (still dot-stuffed, without the final dot) */
static char *dovecot_transaction(struct conn *d, const char *sender, const char *const *rcpts)
{
	char line[1024], want[600];
	size_t count = 0;

	snprintf(want, sizeof(want), "MAIL FROM:<%s>", sender);
	expect_line(d, want);
	for (; rcpts[count] != NULL; count++) {
		snprintf(want, sizeof(want), "RCPT TO:<%s>", rcpts[count]);
		assert_true(get_line(d, line, sizeof(line)));
		assert_string_equal(line, want);
	}
	expect_line(d, "DATA");
	say(d, "250 2.1.0 OK");
	for (size_t i = 0; i < count; i++)
		say(d, "250 2.1.5 OK");
	say(d, "354 OK");
	size_t size = 1 << 16, len = 0;
	char *body = malloc(size);
	assert_non_null(body);
	for (;;) {
		assert_true(get_line(d, line, sizeof(line)));
		if (strcmp(line, ".") == 0)
			break;
		size_t n = strlen(line);
		if (len + n + 3 > size)
			assert_non_null(body = realloc(body, size *= 2));
		memcpy(body + len, line, n);
		memcpy(body + len + n, "\r\n", 2);
		len += n + 2;
	}
	body[len] = '\0';
	return body;
}

/* Fixture: a store with two mailboxes and a disabled one, a context, the
   scripted Dovecot's socket, and the bridge running */

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct mb_store *store;
	char error[512], location[128];

	if (w == NULL)
		return -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/mailbag-session-XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	snprintf(location, sizeof(location), "lmdb:%s/store", w->dir);
	if (mb_store_open(location, MB_STORE_CREATE, &store, error, sizeof(error)) < 0) {
		fprintf(stderr, "store: %s\n", error);
		return -1;
	}
	if (mb_store_domain_add(store, "example.org", error, sizeof(error)) != 0) {
		fprintf(stderr, "domain: %s\n", error);
		return -1;
	}
	fixture_add_user(store, "ann@example.org", true);
	fixture_add_user(store, "bob@example.org", true);
	fixture_add_user(store, "off@example.org", false);
	fixture_add_moving_user(store, "moving@example.org", MB_MOVE_FREEZE, (int64_t)time(NULL) + 3600);
	fixture_add_moving_user(store, "copying@example.org", MB_MOVE_COPY, 0);
	fixture_add_moving_user(store, "stale@example.org", MB_MOVE_FREEZE, 1000);
	mb_store_close(&store); /* the bridge's process opens its own */

	snprintf(w->context, sizeof(w->context), "%s/context.json", w->dir);
	snprintf(w->lmtp, sizeof(w->lmtp), "%s/lmtp", w->dir);
	snprintf(w->dovecot, sizeof(w->dovecot), "%s/dovecot", w->dir);
	snprintf(w->log, sizeof(w->log), "%s/lmtpd.log", w->dir);
	FILE *f = fopen(w->context, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "{\"hostname\": \"mx.session.example\", \"store\": \"%s\",\n"
		   " \"lmtpd\": {\"dovecot_lmtp\": \"%s\", \"spool_dir\": \"%s\",\n"
		   "           \"max_message_size\": 100000, \"timeout\": 30}}\n",
		location, w->dovecot, w->dir);
	fclose(f);

	w->dovecot_listener = listen_on(w->dovecot);
	int lmtp_fd = listen_on(w->lmtp);
	fflush(NULL);
	w->bridge = fork();
	if (w->bridge < 0)
		return -1;
	if (w->bridge == 0) {
		close(w->dovecot_listener);
		run_bridge(w, lmtp_fd);
	}
	close(lmtp_fd);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	int status = -1;
	char command[256];

	kill(w->bridge, SIGTERM);
	waitpid(w->bridge, &status, 0);
	if (w->dovecot_listener >= 0)
		close(w->dovecot_listener);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the bridge ended with status 0x%x; its log:\n", status);
		snprintf(command, sizeof(command), "cat '%s' >&2", w->log);
		if (system(command) != 0)
			return -1;
		return -1;
	}
	snprintf(command, sizeof(command), "rm -rf '%s'", w->dir);
	if (system(command) != 0)
		return -1;
	free(w);
	return 0;
}

static bool log_has(const struct world *w, const char *text)
{
	char buf[1 << 16];
	FILE *f = fopen(w->log, "r");

	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* a message as Postfix hands it over: its Received line names the queue ID */
#define MESSAGE(queue_id) \
	"Received: from client.example by mx.session.example (Postfix) with ESMTP id " queue_id ";\r\n" \
	"\tTue,  1 Dec 2026 12:00:00 +0000 (UTC)\r\n" \
	"Message-ID: <" queue_id "@client.example>\r\n" \
	"Subject: test\r\n" \
	"\r\n" \
	"first line\r\n" \
	"..a line that starts with a dot\r\n" \
	".\r\n"

/* Tests */

static void test_commands_in_their_order(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	char line[1024];

	expect_line(c, "220 mx.session.example LMTP");
	cmd(c, "MAIL FROM:<a@remote.example>", "503 5.5.1 Say LHLO first");
	cmd(c, "RCPT TO:<ann@example.org>", "503 5.5.1 Need MAIL before RCPT");
	cmd(c, "DATA", "503 5.5.1 Need MAIL before DATA");
	cmd(c, "EHLO client.example", "500 5.5.1 This is LMTP: use LHLO");
	cmd(c, "XYZZY", "500 5.5.2 Unknown command");
	cmd(c, "MAIL FROM:a@remote.example", "501 5.5.4");

	/* LHLO: every line of the reply, in order */
	say(c, "LHLO postfix.example");
	const char *lhlo[] = { "250-mx.session.example", "250-PIPELINING", "250-ENHANCEDSTATUSCODES",
			       "250-8BITMIME", "250-SIZE 100000", "250 XMAILBAG" };
	for (size_t i = 0; i < sizeof(lhlo) / sizeof(lhlo[0]); i++) {
		assert_true(get_line(c, line, sizeof(line)));
		assert_string_equal(line, lhlo[i]);
	}

	cmd(c, "MAIL FROM:<a@remote.example> SIZE=100001", "552 5.3.4 Message size exceeds the limit of 100000");
	cmd(c, "RCPT TO:<ann@example.org>", "503 5.5.1 Need MAIL before RCPT"); /* the 552 left no MAIL */
	cmd(c, "MAIL FROM:<a@remote.example> SIZE=1000", "250 2.1.0");
	cmd(c, "MAIL FROM:<a@remote.example>", "503 5.5.1 Nested MAIL command");
	cmd(c, "DATA", "503 5.5.1 No valid recipients");
	cmd(c, "RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such mailbox here");
	cmd(c, "RCPT TO:<off@example.org>", "550 5.2.1 <off@example.org>: mailbox disabled");
	/* a mailbox frozen for a move: 451 for it alone; the copy before
	   the freeze, and a freeze whose lease ran out, take mail */
	cmd(c, "RCPT TO:<moving@example.org>",
	    "451 4.2.1 <moving@example.org>: mailbox being moved to node b; try again later");
	cmd(c, "DATA", "503 5.5.1 No valid recipients");
	cmd(c, "RCPT TO:<copying@example.org>", "250 2.1.5 <copying@example.org> OK");
	cmd(c, "RCPT TO:<stale@example.org>", "250 2.1.5 <stale@example.org> OK");
	cmd(c, "RSET", "250 2.0.0");
	cmd(c, "MAIL FROM:<a@remote.example> SIZE=1000", "250 2.1.0");
	cmd(c, "RCPT TO:<ann+tag@example.org>", "250 2.1.5 <ann+tag@example.org> OK");
	cmd(c, "NOOP", "250 2.0.0");
	cmd(c, "VRFY ann@example.org", "252 2.5.0");
	/* RSET forgets the transaction: RCPT needs a MAIL again */
	cmd(c, "RSET", "250 2.0.0");
	cmd(c, "RCPT TO:<ann@example.org>", "503 5.5.1 Need MAIL before RCPT");
	/* a second LHLO starts over too */
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "RCPT TO:<ann@example.org>", "503 5.5.1 Need MAIL before RCPT");
	cmd(c, "QUIT", "221 2.0.0 mx.session.example closing");
	expect_eof(c);
	conn_close(c);
	/* nothing was ever delivered */
	assert_null(dovecot_accept(w, 0));
}

static void test_twenty_bad_commands_close_the_session(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);

	expect_line(c, "220 ");
	for (int i = 1; i < 20; i++)
		cmd(c, "HELO x", "500 5.5.1");
	/* good commands do not count, nor reset the count */
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "NOOP", "250 2.0.0");
	cmd(c, "BOGUS", "500 5.5.2");
	expect_line(c, "421 4.7.0 mx.session.example too many errors; closing");
	expect_eof(c);
	conn_close(c);
}

static void test_an_overlong_command_line_closes_the_session(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	char long_line[3000];

	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	/* at the limit: a syntax answer, the session goes on */
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "NOOP ", 5);
	long_line[2048] = '\0';
	cmd(c, long_line, "250 2.0.0");
	/* over it, with no end of line yet: refused before the line ends */
	put(c, long_line, 2048);
	put(c, "yyyy", 4);
	expect_line(c, "500 5.5.6 Command line too long");
	expect_eof(c);
	conn_close(c);
}

static void test_each_recipient_gets_its_own_answer_in_order(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	char line[1024];

	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "RCPT TO:<nobody@example.org>", "550 5.1.1");
	cmd(c, "RCPT TO:<bob@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, MESSAGE("4FirstQ1"), strlen(MESSAGE("4FirstQ1")));
	/* nothing is answered before Dovecot has answered */
	struct conn *d = dovecot_accept(w, WAIT_MS);
	assert_non_null(d);
	dovecot_greet(d);
	const char *const both[] = { "ann@example.org", "bob@example.org", NULL };
	char *body = dovecot_transaction(d, "a@remote.example", both);
	nothing_within(c, 200);
	/* the message went on whole, dot-stuffed again, after the delivery ID */
	assert_true(strncmp(body, "X-Mailbag-Delivery-Id: ", 23) == 0);
	assert_non_null(strstr(body, "\r\nReceived: from client.example by mx.session.example"));
	assert_non_null(strstr(body, "\r\n\r\nfirst line\r\n..a line that starts with a dot\r\n"));
	free(body);
	/* Dovecot's answers, one per recipient; the first is final at once */
	say(d, "250 2.0.0 <ann@example.org> Saved");
	say(d, "452 4.2.2 <bob@example.org> Quota exceeded (mailbox for user is full)");
	assert_true(get_line(c, line, sizeof(line)));
	assert_string_equal(line, "250 2.0.0 <ann@example.org> Saved");
	assert_true(get_line(c, line, sizeof(line)));
	assert_string_equal(line, "452 4.2.2 <bob@example.org> Quota exceeded (mailbox for user is full)");

	/* Postfix retries bob's share, with ann too (as after a lost reply):
	   ann's delivery is in the journal and is not made again; bob's
	   goes to Dovecot on the session kept open */
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "RCPT TO:<bob@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, MESSAGE("4FirstQ1"), strlen(MESSAGE("4FirstQ1")));
	const char *const only_bob[] = { "bob@example.org", NULL };
	body = dovecot_transaction(d, "a@remote.example", only_bob);
	free(body);
	say(d, "250 2.0.0 <bob@example.org> Saved");
	expect_line(c, "250 2.0.0 <ann@example.org> delivered before (queue ID 4FirstQ1)");
	assert_true(get_line(c, line, sizeof(line)));
	assert_string_equal(line, "250 2.0.0 <bob@example.org> Saved");
	assert_null(dovecot_accept(w, 0)); /* no second connection */

	/* and a third time: both from the journal, Dovecot not asked at all */
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "RCPT TO:<bob@example.org>", "250 2.1.5");
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, MESSAGE("4FirstQ1"), strlen(MESSAGE("4FirstQ1")));
	expect_line(c, "250 2.0.0 <bob@example.org> delivered before");
	expect_line(c, "250 2.0.0 <ann@example.org> delivered before");
	nothing_within(d, 200);
	cmd(c, "QUIT", "221 ");
	expect_eof(c);
	conn_close(c);
	conn_close(d);
}

static void test_pipelined_commands_wait_behind_the_message(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	static const char pipelined[] =
		"LHLO postfix.example\r\n"
		"MAIL FROM:<a@remote.example>\r\n"
		"RCPT TO:<ann@example.org>\r\n"
		"DATA\r\n"
		MESSAGE("4PipeQ2")
		"MAIL FROM:<b@remote.example>\r\n"
		"RCPT TO:<nobody@example.org>\r\n"
		"QUIT\r\n";
	char line[1024];

	expect_line(c, "220 ");
	put(c, pipelined, sizeof(pipelined) - 1);
	for (int i = 0; i < 6; i++)
		assert_true(get_line(c, line, sizeof(line))); /* LHLO */
	assert_string_equal(line, "250 XMAILBAG");
	expect_line(c, "250 2.1.0");
	expect_line(c, "250 2.1.5");
	expect_line(c, "354 ");
	struct conn *d = dovecot_accept(w, WAIT_MS);
	assert_non_null(d);
	dovecot_greet(d);
	const char *const ann[] = { "ann@example.org", NULL };
	free(dovecot_transaction(d, "a@remote.example", ann));
	/* while Dovecot has not answered, the commands behind the message
	   are not answered either */
	nothing_within(c, 300);
	say(d, "250 2.0.0 <ann@example.org> Saved");
	expect_line(c, "250 2.0.0 <ann@example.org> Saved");
	expect_line(c, "250 2.1.0");
	expect_line(c, "550 5.1.1 <nobody@example.org>");
	expect_line(c, "221 ");
	expect_eof(c);
	conn_close(c);
	conn_close(d);
}

static void test_no_dovecot_is_4xx_for_every_recipient(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	char line[1024];

	/* nobody listens where lmtpd.dovecot_lmtp points */
	close(w->dovecot_listener);
	w->dovecot_listener = -1;
	unlink(w->dovecot);
	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "RCPT TO:<bob@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, MESSAGE("4NoDoveQ3"), strlen(MESSAGE("4NoDoveQ3")));
	for (int i = 0; i < 2; i++) {
		assert_true(get_line(c, line, sizeof(line)));
		if (line[0] != '4')
			fail_msg("recipient %d: got '%s', wanted a 4xx", i, line);
	}
	cmd(c, "NOOP", "250 2.0.0"); /* the session goes on */
	conn_close(c);
}

static void test_a_message_over_the_limit_is_552_for_each_recipient(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	char chunk[1002];

	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0"); /* no SIZE= declared */
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "RCPT TO:<bob@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	memset(chunk, 'z', 1000);
	memcpy(chunk + 1000, "\r\n", 2);
	put(c, "Subject: big\r\n\r\n", 16);
	for (int i = 0; i < 101; i++)
		put(c, chunk, sizeof(chunk));
	put(c, ".\r\n", 3);
	expect_line(c, "552 5.3.4 <ann@example.org>: the message exceeds the size limit");
	expect_line(c, "552 5.3.4 <bob@example.org>: the message exceeds the size limit");
	assert_null(dovecot_accept(w, 200)); /* Dovecot never saw it */
	cmd(c, "QUIT", "221 ");
	conn_close(c);
}

static void test_a_client_gone_mid_data_leaves_nothing_delivered(void **state)
{
	struct world *w = *state;
	struct conn *c = client_connect(w);
	static const char half[] = "Subject: half\r\n\r\nthe first half\r\n";

	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	cmd(c, "RCPT TO:<ann@example.org>", "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, half, sizeof(half) - 1);
	conn_close(c);
	assert_null(dovecot_accept(w, 500));
	for (int i = 0; i < 50 && !log_has(w, "session closed in the middle of a transaction"); i++)
		usleep(20000);
	assert_true(log_has(w, "session closed in the middle of a transaction"));
	/* the bridge serves the next session */
	c = client_connect(w);
	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "QUIT", "221 ");
	conn_close(c);
}

/* open_transaction - a session that has sent a message to rcpt */
static struct conn *open_transaction(struct world *w, const char *rcpt, const char *message)
{
	struct conn *c = client_connect(w);
	char line[600];

	expect_line(c, "220 ");
	cmd(c, "LHLO postfix.example", "250 XMAILBAG");
	cmd(c, "MAIL FROM:<a@remote.example>", "250 2.1.0");
	snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
	cmd(c, line, "250 2.1.5");
	cmd(c, "DATA", "354 ");
	put(c, message, strlen(message));
	return c;
}

static void test_one_delivery_at_a_time_per_mailbox(void **state)
{
	struct world *w = *state;
	const char *const ann[] = { "ann@example.org", NULL }, *const bob[] = { "bob@example.org", NULL };

	struct conn *first = open_transaction(w, "ann@example.org", MESSAGE("4BusyQ1"));
	struct conn *d1 = dovecot_accept(w, WAIT_MS);
	assert_non_null(d1);
	dovecot_greet(d1);
	free(dovecot_transaction(d1, "a@remote.example", ann));
	/* a second message to the same mailbox waits: no Dovecot session */
	struct conn *second = open_transaction(w, "ann@example.org", MESSAGE("4BusyQ2"));
	assert_null(dovecot_accept(w, 300));
	/* one to another mailbox does not */
	struct conn *other = open_transaction(w, "bob@example.org", MESSAGE("4BusyQ3"));
	struct conn *d3 = dovecot_accept(w, WAIT_MS);
	assert_non_null(d3);
	dovecot_greet(d3);
	free(dovecot_transaction(d3, "a@remote.example", bob));
	say(d3, "250 2.0.0 <bob@example.org> Saved");
	expect_line(other, "250 2.0.0 <bob@example.org> Saved");
	assert_null(dovecot_accept(w, 100)); /* ann is still busy */
	nothing_within(second, 0);
	/* the first delivery ends: the waiting one starts */
	say(d1, "250 2.0.0 <ann@example.org> Saved");
	expect_line(first, "250 2.0.0 <ann@example.org> Saved");
	struct conn *d2 = dovecot_accept(w, WAIT_MS);
	assert_non_null(d2);
	dovecot_greet(d2);
	char *body = dovecot_transaction(d2, "a@remote.example", ann);
	assert_non_null(strstr(body, "Message-ID: <4BusyQ2@client.example>"));
	free(body);
	say(d2, "250 2.0.0 <ann@example.org> Saved");
	expect_line(second, "250 2.0.0 <ann@example.org> Saved");
	conn_close(first);
	conn_close(second);
	conn_close(other);
	conn_close(d1);
	conn_close(d2);
	conn_close(d3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commands_in_their_order, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_twenty_bad_commands_close_the_session, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_an_overlong_command_line_closes_the_session, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_each_recipient_gets_its_own_answer_in_order, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_commands_wait_behind_the_message, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_no_dovecot_is_4xx_for_every_recipient, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_a_message_over_the_limit_is_552_for_each_recipient, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_a_client_gone_mid_data_leaves_nothing_delivered, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_one_delivery_at_a_time_per_mailbox, world_setup, world_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
