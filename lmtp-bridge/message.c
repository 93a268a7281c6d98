/* message.c - the message of one LMTP transaction
 *
 * SUMMARY
 *	DATA arrives dot-stuffed and (from a careful client) with CRLF line
 *	ends. message_decode() undoes the stuffing byte by byte, so a line
 *	may be any length and a read may end anywhere; a bare LF becomes
 *	CRLF; a bare CR is kept as a byte of the line. The data ends only at
 *	CR LF . CR LF: "\n.\n", "\n.\r\n", "\r.\r" and the like are content, which
 *	closes the door to SMTP smuggling (a second message hidden after a
 *	false end of data). The decoded message is kept once: the first
 *	MESSAGE_MEMORY_MAX bytes in memory, and when it grows past that, the
 *	whole of it in an unnamed file (O_TMPFILE) in spool_dir, which
 *	vanishes by itself when the process dies. A message over its size
 *	limit is read to its end and dropped; a write error (a full disk)
 *	marks it failed: the session then answers 4xx for every recipient.
 *	Nothing reaches Dovecot before the message is complete.
 */
#include "message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void message_init(struct message *m, const char *spool_dir, uint64_t max_size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->spool_dir = spool_dir;
	m->max_size = max_size;
}

void message_reset(struct message *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->state = DECODE_LINE_START;
	m->after_bare_lf = false;
	m->size = 0;
	m->too_big = false;
	m->failed = false;
	m->spool_errno = 0;
	m->memory_len = 0;
}

void message_free(struct message *m)
{
	message_reset(m);
	free(m->memory);
	m->memory = NULL;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* spill - the message outgrew memory: everything so far into a file */
static int spill(struct message *m)
{
	m->fd = open(m->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (m->fd < 0 || write_all(m->fd, m->memory, m->memory_len) < 0) {
		m->spool_errno = errno;
		return -1;
	}
	return 0;
}

/* keep - append decoded bytes to memory, or to the file */
static void keep(struct message *m, const char *data, size_t len)
{
	m->size += len;
	if (m->too_big || m->failed)
		return;
	if (m->max_size != 0 && m->size > m->max_size) {
		m->too_big = true;
		return;
	}
	if (m->memory == NULL && (m->memory = malloc(MESSAGE_MEMORY_MAX)) == NULL) {
		m->failed = true;
		m->spool_errno = ENOMEM;
		return;
	}
	size_t room = MESSAGE_MEMORY_MAX - m->memory_len;
	size_t to_memory = len < room ? len : room;
	memcpy(m->memory + m->memory_len, data, to_memory);
	m->memory_len += to_memory;
	if (to_memory == len && m->fd < 0)
		return;
	if (m->fd < 0 && spill(m) < 0) {
		m->failed = true;
		return;
	}
	/* memory is full and already in the file: the rest goes to the file */
	if (write_all(m->fd, data + to_memory, len - to_memory) < 0) {
		m->spool_errno = errno;
		m->failed = true;
	}
}

/* fast_line - in the middle of a line (or at its start, not at a dot):
   take the rest of it at once when it holds no bare CR. Returns the bytes
   consumed, 0 when the byte-by-byte path must handle what comes next. */
static size_t fast_line(struct message *m, const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);
	size_t end = nl != NULL ? (size_t)(nl - in) : len;
	const char *cr = memchr(in, '\r', end);

	if (cr == NULL) {
		/* no CR before the line end (or the end of the input) */
		if (end > 0)
			keep(m, in, end);
		if (nl == NULL) {
			m->state = DECODE_MIDDLE;
			return end;
		}
		keep(m, "\r\n", 2); /* a bare LF ends the line as CRLF does */
		m->state = DECODE_LINE_START;
		m->after_bare_lf = true;
		return end + 1;
	}
	if (nl != NULL && cr == nl - 1) {
		/* the usual case: text CR LF */
		if (end > 1)
			keep(m, in, end - 1);
		keep(m, "\r\n", 2);
		m->state = DECODE_LINE_START;
		m->after_bare_lf = false;
		return end + 1;
	}
	/* a CR inside the line or at the end of the input: the text before
	   it at once, the CR byte by byte */
	size_t before = (size_t)(cr - in);
	if (before > 0) {
		keep(m, in, before);
		m->state = DECODE_MIDDLE;
	}
	return before;
}

size_t message_decode(struct message *m, const char *in, size_t len, bool *done)
{
	/* decoded bytes of the byte-by-byte path are gathered in a run */
	char run[64];
	size_t run_len = 0, i = 0;

	*done = false;
	while (i < len && m->state != DECODE_END) {
		char c = in[i];
		if ((m->state == DECODE_MIDDLE || (m->state == DECODE_LINE_START && c != '.')) &&
		    c != '\r') {
			if (run_len > 0) {
				keep(m, run, run_len);
				run_len = 0;
			}
			size_t used = fast_line(m, in + i, len - i);
			if (used > 0) {
				i += used;
				continue;
			}
		}
		if (run_len + 3 > sizeof(run)) {
			keep(m, run, run_len);
			run_len = 0;
		}
		i++;
		switch (m->state) {
		case DECODE_LINE_START:
			if (c == '.') {
				m->state = DECODE_DOT;
				break;
			}
			/* any other byte starts the line as in the middle of one */
			__attribute__((fallthrough));
		case DECODE_MIDDLE:
			if (c == '\r') {
				m->state = DECODE_CR;
			} else if (c == '\n') {
				run[run_len++] = '\r';
				run[run_len++] = '\n';
				m->state = DECODE_LINE_START;
				m->after_bare_lf = true;
			} else {
				run[run_len++] = c;
				m->state = DECODE_MIDDLE;
			}
			break;
		case DECODE_CR:
			if (c == '\n') {
				run[run_len++] = '\r';
				run[run_len++] = '\n';
				m->state = DECODE_LINE_START;
				m->after_bare_lf = false;
			} else if (c == '\r') {
				run[run_len++] = '\r'; /* the first CR was bare */
			} else {
				run[run_len++] = '\r';
				run[run_len++] = c;
				m->state = DECODE_MIDDLE;
			}
			break;
		case DECODE_DOT:
			/* the leading dot is stuffing: dropped */
			if (c == '\r') {
				m->state = DECODE_DOT_CR;
			} else if (c == '\n') {
				run[run_len++] = '\r';
				run[run_len++] = '\n';
				m->state = DECODE_LINE_START;
				m->after_bare_lf = true;
			} else {
				run[run_len++] = c;
				m->state = DECODE_MIDDLE;
			}
			break;
		case DECODE_DOT_CR:
			if (c == '\n' && m->after_bare_lf) {
				/* LF . CR LF: a line "." (stuffing dropped), not the end */
				run[run_len++] = '\r';
				run[run_len++] = '\n';
				m->state = DECODE_LINE_START;
				m->after_bare_lf = false;
			} else if (c == '\n') {
				m->state = DECODE_END;
			} else if (c == '\r') {
				run[run_len++] = '\r';
				m->state = DECODE_CR;
			} else {
				run[run_len++] = '\r';
				run[run_len++] = c;
				m->state = DECODE_MIDDLE;
			}
			break;
		case DECODE_END:
			break;
		}
	}
	if (run_len > 0)
		keep(m, run, run_len);
	*done = m->state == DECODE_END;
	return i;
}

long message_read(const struct message *m, uint64_t offset, char *buf, size_t size)
{
	if (m->fd < 0) {
		if (offset >= m->memory_len)
			return 0;
		size_t n = m->memory_len - offset < size ? m->memory_len - (size_t)offset : size;
		memcpy(buf, m->memory + offset, n);
		return (long)n;
	}
	ssize_t n;
	do
		n = pread(m->fd, buf, size, (off_t)offset);
	while (n < 0 && errno == EINTR);
	return (long)n;
}

size_t message_stuff(const char *in, size_t len, char *out, bool *at_line_start)
{
	size_t o = 0, i = 0;

	while (i < len) {
		if (*at_line_start && in[i] == '.')
			out[o++] = '.';
		/* the rest of the line at once */
		const char *nl = memchr(in + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (in + i)) + 1 : len - i;
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
		*at_line_start = nl != NULL;
	}
	return o;
}

const char *message_head(const struct message *m, size_t *len_r)
{
	*len_r = m->memory_len < MESSAGE_HEAD_MAX ? m->memory_len : MESSAGE_HEAD_MAX;
	return m->memory != NULL ? m->memory : "";
}
