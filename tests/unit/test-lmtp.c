/* test-lmtp.c - mailbag-lmtpd's parsers: LMTP commands and replies, DATA
 * decoding (dot-stuffing, bare LF and CR, the end of data, the size limit,
 * the spool file), dot-stuffing on the way out, and the journal's message
 * identity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "lmtp-proto.h"
#include "message.h"

struct command_case {
	const char *line;
	int want;               /* 0 or -1 */
	enum lmtp_verb verb;
	const char *path;       /* or the error's start */
	uint64_t size;
};

static const struct command_case command_cases[] = {
	{ "LHLO mx.example", 0, LMTP_LHLO, "", 0 },
	{ "lhlo x", 0, LMTP_LHLO, "", 0 },
	{ "MAIL FROM:<a@b.example>", 0, LMTP_MAIL, "a@b.example", 0 },
	{ "mail from:<a@b.example> SIZE=1234 BODY=8BITMIME", 0, LMTP_MAIL, "a@b.example", 1234 },
	{ "MAIL FROM:<>", 0, LMTP_MAIL, "", 0 },
	{ "MAIL FROM: <a@b.example>", 0, LMTP_MAIL, "a@b.example", 0 },
	{ "MAIL FROM:<@relay.example,@r2.example:a@b.example>", 0, LMTP_MAIL, "a@b.example", 0 },
	{ "RCPT TO:<Ann+tag@Example.ORG> ORCPT=rfc822;ann@example.org", 0, LMTP_RCPT, "Ann+tag@Example.ORG", 0 },
	{ "DATA", 0, LMTP_DATA, "", 0 },
	{ "RSET", 0, LMTP_RSET, "", 0 },
	{ "NOOP", 0, LMTP_NOOP, "", 0 },
	{ "QUIT", 0, LMTP_QUIT, "", 0 },
	{ "EHLO x", 0, LMTP_EHLO, "", 0 },
	{ "DATAX", 0, LMTP_UNKNOWN, "", 0 },
	{ "XYZZY", 0, LMTP_UNKNOWN, "", 0 },
	{ "", 0, LMTP_UNKNOWN, "", 0 },
	{ "MAIL", -1, LMTP_MAIL, "501 5.5.4 Syntax: MAIL FROM:<address>", 0 },
	{ "MAIL FROM:a@b.example", -1, LMTP_MAIL, "501 5.5.4 Syntax: the address must be in <>", 0 },
	{ "MAIL FROM:<a@b.example", -1, LMTP_MAIL, "501 5.5.4 Syntax: no closing >", 0 },
	{ "MAIL FROM:<a b@c.example>", -1, LMTP_MAIL, "501 5.1.3", 0 },
	{ "MAIL FROM:<a@b.example> SIZE=", -1, LMTP_MAIL, "501 5.5.4 Syntax: SIZE=", 0 },
	{ "MAIL FROM:<a@b.example> SIZE=12x", -1, LMTP_MAIL, "501 5.5.4 Syntax: SIZE=", 0 },
	{ "MAIL FROM:<a@b.example> SIZE=99999999999999999999999", -1, LMTP_MAIL, "501 5.5.4 Syntax: SIZE=", 0 },
	{ "MAIL FROM:<a@b.example>junk", -1, LMTP_MAIL, "501 5.5.4 Syntax: expected a space", 0 },
	{ "MAIL FROM:<@relay.example>", -1, LMTP_MAIL, "501 5.1.3 Syntax: a source route", 0 },
	{ "RCPT TO:<>", -1, LMTP_RCPT, "501 5.1.3 Syntax: an empty recipient", 0 },
	{ "RCPT FROM:<a@b.example>", -1, LMTP_RCPT, "501 5.5.4 Syntax: RCPT TO:", 0 },
};

static void test_commands(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(command_cases) / sizeof(command_cases[0]); i++) {
		const struct command_case *c = &command_cases[i];
		struct lmtp_command cmd;
		const char *error = "";
		int got = lmtp_command_parse(c->line, strlen(c->line), &cmd, &error);
		if (got != c->want)
			fail_msg("case %zu '%s': got %d (%s)", i, c->line, got, error);
		if (got < 0) {
			if (strncmp(error, c->path, strlen(c->path)) != 0)
				fail_msg("case %zu: error '%s', want '%s...'", i, error, c->path);
			continue;
		}
		assert_int_equal(cmd.verb, c->verb);
		assert_string_equal(cmd.path, c->path);
		assert_true(cmd.size == c->size);
	}
	/* a path over the limit, and a NUL inside the line */
	char line[LMTP_PATH_MAX + 64];
	struct lmtp_command cmd;
	const char *error;
	int n = snprintf(line, sizeof(line), "RCPT TO:<");
	memset(line + n, 'a', LMTP_PATH_MAX + 1);
	snprintf(line + n + LMTP_PATH_MAX + 1, sizeof(line) - (size_t)n - LMTP_PATH_MAX - 1, ">");
	assert_int_equal(lmtp_command_parse(line, strlen(line), &cmd, &error), -1);
	assert_int_equal(lmtp_command_parse("RCPT TO:<a@b>\0x", 16, &cmd, &error), -1);
}

static void test_replies(void **state)
{
	int code;
	bool last;

	(void)state;
	assert_int_equal(lmtp_reply_parse("250-mx.example", 14, &code, &last), 0);
	assert_int_equal(code, 250);
	assert_false(last);
	assert_int_equal(lmtp_reply_parse("250 2.0.0 <a@b> Saved", 21, &code, &last), 0);
	assert_true(last);
	assert_int_equal(lmtp_reply_parse("452", 3, &code, &last), 0);
	assert_true(last && code == 452);
	assert_int_equal(lmtp_reply_parse("25", 2, &code, &last), -1);
	assert_int_equal(lmtp_reply_parse("abc def", 7, &code, &last), -1);
	assert_int_equal(lmtp_reply_parse("250x", 4, &code, &last), -1);
	assert_int_equal(lmtp_reply_parse("650 no", 6, &code, &last), -1);
}

/* decode_all - feed text in pieces of step bytes; the decoded message */
static char *decode_all(const char *text, size_t len, size_t step, uint64_t max, size_t *consumed_r,
			bool *done_r, bool *too_big_r)
{
	struct message m;
	size_t pos = 0;
	bool done = false;

	message_init(&m, "/tmp", max);
	while (pos < len && !done) {
		size_t piece = len - pos < step ? len - pos : step;
		pos += message_decode(&m, text + pos, piece, &done);
	}
	*consumed_r = pos;
	*done_r = done;
	*too_big_r = m.too_big;
	char *out = calloc(1, m.memory_len + 1);
	if (m.memory_len > 0)
		memcpy(out, m.memory, m.memory_len);
	message_free(&m);
	return out;
}

struct decode_case {
	const char *wire;
	const char *decoded;
	bool done;
	size_t consumed; /* 0: all of wire */
};

static const struct decode_case decode_cases[] = {
	{ "a\r\nb\r\n.\r\n", "a\r\nb\r\n", true, 0 },
	{ "..a\r\n.\r\n", ".a\r\n", true, 0 },
	{ "a\r\n..\r\n.\r\n", "a\r\n.\r\n", true, 0 },
	/* a bare LF is a line end, never the end of data */
	{ "a\nb\n.\nc\r\n.\r\n", "a\r\nb\r\n\r\nc\r\n", true, 0 },
	{ "a\r\n.\n", "a\r\n\r\n", false, 0 },
	{ "a\n.\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 0 },
	{ "a\xf7\n.\r\n", "a\xf7\r\n\r\n", false, 0 },
	/* a bare CR is content, and no end either */
	{ "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", true, 0 },
	{ "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", true, 0 },
	{ "x\r\r\n.\r\n", "x\r\r\n", true, 0 },
	/* bytes after the end are the next command's */
	{ "a\r\n.\r\nQUIT\r\n", "a\r\n", true, 6 },
	{ ".\r\n", "", true, 0 },
	{ "a\r\n.\r", "a\r\n", false, 0 },
	{ "no end", "no end", false, 0 },
};

static void test_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		size_t len = strlen(c->wire);
		/* whole, and one byte at a time: the same result */
		for (size_t step = len; step >= 1; step = step == 1 ? 0 : 1) {
			size_t consumed;
			bool done, too_big;
			char *got = decode_all(c->wire, len, step, 0, &consumed, &done, &too_big);
			if (strcmp(got, c->decoded) != 0 || done != c->done ||
			    consumed != (c->consumed != 0 ? c->consumed : len))
				fail_msg("case %zu step %zu: got '%s' done %d consumed %zu", i, step, got, done, consumed);
			free(got);
			if (step == 0)
				break;
		}
	}
}

static void test_size_limit(void **state)
{
	size_t consumed;
	bool done, too_big;

	(void)state;
	char *got = decode_all("0123456789\r\n.\r\n", 15, 4, 10, &consumed, &done, &too_big);
	assert_true(done && too_big);
	free(got);
	got = decode_all("01234567\r\n.\r\n", 13, 4, 10, &consumed, &done, &too_big);
	assert_true(done && !too_big);
	assert_string_equal(got, "01234567\r\n");
	free(got);
}

static void test_spool_file_and_stuffing(void **state)
{
	struct message m;
	bool done;
	size_t line_count = 40000;

	(void)state;
	/* 40,000 lines of 40 bytes, every one starting with a dot: 1.6 MB,
	   past the memory bound, so into the spool file */
	message_init(&m, "/tmp", 0);
	for (size_t i = 0; i < line_count; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "..line %08zu of the spooled message\r\n", i);
		assert_int_equal(message_decode(&m, line, (size_t)n, &done), (size_t)n);
		assert_false(done);
	}
	assert_int_equal(message_decode(&m, ".\r\n", 3, &done), 3);
	assert_true(done && !m.failed);
	assert_true(m.fd >= 0);
	/* read back and stuffed again: the wire form we were given */
	char buf[7000], stuffed[14000];
	uint64_t offset = 0;
	bool line_start = true;
	size_t lines_seen = 0, stuffed_total = 0;
	long n;
	while ((n = message_read(&m, offset, buf, sizeof(buf))) > 0) {
		size_t len = message_stuff(buf, (size_t)n, stuffed, &line_start);
		for (size_t i = 0; i < len; i++)
			lines_seen += stuffed[i] == '\n';
		stuffed_total += len;
		offset += (uint64_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(lines_seen, line_count);
	/* one dot doubled again on every line: exactly what came in */
	assert_int_equal(stuffed_total, line_count * 40);
	assert_true(offset == m.size);
	/* the head stays in memory */
	size_t head_len;
	const char *head = message_head(&m, &head_len);
	assert_int_equal(head_len, MESSAGE_HEAD_MAX);
	assert_memory_equal(head, ".line 00000000", 14);
	message_free(&m);
	/* a spool directory that cannot take the file: the message fails */
	message_init(&m, "/nonexistent-spool-dir", 0);
	static char big[MESSAGE_MEMORY_MAX + 100];
	memset(big, 'x', sizeof(big));
	message_decode(&m, big, sizeof(big), &done);
	assert_true(m.failed);
	message_free(&m);
}

static void test_stuff(void **state)
{
	char out[64];
	bool line_start = true;

	(void)state;
	size_t len = message_stuff(".a\r\nb.\r\n.", 9, out, &line_start);
	assert_int_equal(len, 11);
	assert_memory_equal(out, "..a\r\nb.\r\n..", 11);
	assert_false(line_start);
}

static void test_journal_ids(void **state)
{
	static const char head[] =
		"Return-Path: <a@remote.example>\r\n"
		"Received: from client.remote.example (client.remote.example [192.0.2.1])\r\n"
		"\tby mx.example.org (Postfix) with ESMTP id 4Xb1Kq2vYpz9rS\r\n"
		"\tfor <bob@example.org>; Sun, 22 Nov 2026 01:00:00 +0000 (UTC)\r\n"
		"Received: by other.example with SMTP id OLDER1; Sat, 21 Nov 2026\r\n"
		"message-id: <abc@remote.example>\r\n"
		"Subject: x\r\n"
		"\r\n"
		"Received: in the body id BODY1; no\r\n";
	char queue_id[JOURNAL_QUEUE_ID_MAX + 1], message_id[256];
	char k1[JOURNAL_KEY_MAX], k2[JOURNAL_KEY_MAX], k3[JOURNAL_KEY_MAX];

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	assert_int_equal(journal_message_ids(head, strlen(head), queue_id, message_id), 1);
	assert_string_equal(queue_id, "4Xb1Kq2vYpz9rS");
	assert_string_equal(message_id, "<abc@remote.example>");
	journal_key(queue_id, message_id, "bob@example.org", k1);
	journal_key(queue_id, message_id, "ann@example.org", k2);
	journal_key(queue_id, "<other@remote.example>", "bob@example.org", k3);
	assert_string_not_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	assert_int_equal(strncmp(k1, "delivered/", 10), 0);
	/* no Received header in the headers: nothing to recognise */
	static const char none[] = "Subject: x\r\n\r\nReceived: by x with SMTP id BODY1;\r\n";
	assert_int_equal(journal_message_ids(none, strlen(none), queue_id, message_id), 0);
	/* an id that is not a queue ID shape is not taken */
	static const char odd[] = "Received: by x with SMTP id <weird>; now\r\n\r\n";
	assert_int_equal(journal_message_ids(odd, strlen(odd), queue_id, message_id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_spool_file_and_stuffing),
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_journal_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
