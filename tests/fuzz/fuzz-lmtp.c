/* fuzz-lmtp.c - libFuzzer harness for mailbag-lmtpd's parsers
 *
 * The input is cut into lines, each parsed as an LMTP command and as a
 * reply line; then the whole input is decoded as DATA in pieces whose
 * sizes come from the input itself. Checked: a parsed path never holds a
 * space or control byte; the decoded message has CRLF line ends only;
 * the data ends only where the input has CR LF . CR LF (or starts with
 * . CR LF); stuffing the decoded message again and decoding that gives the
 * same message back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "lmtp-proto.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_commands(const char *text, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		const char *eol = memchr(text + pos, '\n', size - pos);
		size_t len = eol != NULL ? (size_t)(eol - (text + pos)) : size - pos;
		struct lmtp_command cmd;
		const char *error;
		int code;
		bool last;
		if (lmtp_command_parse(text + pos, len, &cmd, &error) == 0) {
			for (const char *p = cmd.path; *p != '\0'; p++) {
				if ((unsigned char)*p <= ' ' || *p == '<' || *p == 0x7f)
					abort();
			}
		}
		if (lmtp_reply_parse(text + pos, len, &code, &last) == 0 && (code < 200 || code > 599))
			abort();
		pos += len + 1;
	}
}

/* decode - the whole of text in pieces; the decoded copy (malloc'ed) */
static char *decode(const char *text, size_t size, size_t step, size_t *len_r, bool *done_r,
		    size_t *consumed_r)
{
	struct message m;
	size_t pos = 0;
	bool done = false;

	message_init(&m, "/tmp", 4 * 1024 * 1024);
	while (pos < size && !done) {
		size_t piece = size - pos < step ? size - pos : step;
		pos += message_decode(&m, text + pos, piece, &done);
	}
	char *out = malloc(m.memory_len + 1);
	if (out == NULL)
		abort();
	memcpy(out, m.memory != NULL ? m.memory : "", m.memory_len);
	*len_r = m.memory_len;
	*done_r = done;
	*consumed_r = pos;
	message_free(&m);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
	size_t len, consumed;
	bool done;

	check_commands(text, size);
	char queue_id[JOURNAL_QUEUE_ID_MAX + 1], message_id[256];
	journal_message_ids(text, size, queue_id, message_id);

	char *decoded = decode(text, size, step, &len, &done, &consumed);
	for (size_t i = 0; i < len; i++) {
		if (decoded[i] == '\n' && (i == 0 || decoded[i - 1] != '\r'))
			abort();
	}
	if (done) {
		/* the input up to here ends with the terminator */
		bool at_start = consumed == 3 && memcmp(text, ".\r\n", 3) == 0;
		if (!at_start && (consumed < 5 || memcmp(text + consumed - 5, "\r\n.\r\n", 5) != 0))
			abort();
		/* stuffed again and decoded: the same message */
		char *wire = malloc(2 * len + 8);
		bool line_start = true;
		size_t wire_len = message_stuff(decoded, len, wire, &line_start);
		if (len > 0 && decoded[len - 1] != '\n')
			abort();
		memcpy(wire + wire_len, ".\r\n", 3);
		size_t again_len, again_consumed;
		bool again_done;
		char *again = decode(wire, wire_len + 3, 7, &again_len, &again_done, &again_consumed);
		if (!again_done || again_len != len || memcmp(again, decoded, len) != 0)
			abort();
		free(again);
		free(wire);
	}
	free(decoded);
	return 0;
}
