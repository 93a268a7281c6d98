/* message.h - the message of one transaction: DATA decoding, the spool,
   and dot-stuffing on the way out (see message.c). */
#ifndef MAILBAG_MESSAGE_H
#define MAILBAG_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept in memory before the spool moves to a file. */
#define MESSAGE_MEMORY_MAX (1024 * 1024)
/* The first bytes, always in memory: the headers the journal reads. */
#define MESSAGE_HEAD_MAX (64 * 1024)

enum decode_state {
	DECODE_LINE_START, DECODE_MIDDLE, DECODE_CR, DECODE_DOT, DECODE_DOT_CR, DECODE_END,
};

struct message {
	enum decode_state state;
	bool after_bare_lf;  /* the current line began after a bare LF */
	uint64_t size;       /* decoded bytes so far (counted past the limit too) */
	uint64_t max_size;   /* 0: no limit */
	bool too_big;        /* over max_size: nothing more is kept */
	bool failed;         /* the spool could not be written (errno in spool_errno) */
	int spool_errno;
	const char *spool_dir;
	char *memory;        /* the first MESSAGE_MEMORY_MAX bytes */
	size_t memory_len;
	int fd;              /* the whole message once it outgrew memory, or -1 */
};

void message_init(struct message *m, const char *spool_dir, uint64_t max_size);
/* Forget the message (end of a transaction); the memory is kept for the next. */
void message_reset(struct message *m);
void message_free(struct message *m);

/* Decode DATA bytes: undo dot-stuffing, turn a bare LF into CRLF and keep
   the result. Only CR LF . CR LF ends the data (a bare LF or CR on
   either side of the dot never does: no SMTP smuggling). Returns the bytes of in consumed; *done once
   the terminating line was read (bytes after it are not consumed). */
size_t message_decode(struct message *m, const char *in, size_t len, bool *done);

/* Copy up to size bytes of the decoded message from offset; the count,
   0 at the end, -1 on a read error. */
long message_read(const struct message *m, uint64_t offset, char *buf, size_t size);

/* Dot-stuffing for the way out: copy decoded bytes from in to out,
   doubling a '.' at the start of a line. *at_line_start carries the state
   between calls. Returns the bytes written to out (at most 2 * len). */
size_t message_stuff(const char *in, size_t len, char *out, bool *at_line_start);

/* The first bytes of the message (its headers, for the journal). */
const char *message_head(const struct message *m, size_t *len_r);

#endif
