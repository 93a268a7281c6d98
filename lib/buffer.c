/* buffer.c - the bounded byte buffer behind every daemon's output
 *
 * SUMMARY
 *	Replies queue here until write() takes them: appended at the end,
 *	consumed from the front, and bounded, so that a peer that never
 *	reads cannot make the daemon grow without end (the caller closes
 *	that connection). The allocation grows by doubling through
 *	mb_grow(), from 4 KB; bytes already written are reclaimed by moving
 *	the rest to the front before growing, and all at once when nothing
 *	is pending.
 *
 * DIAGNOSTICS
 *	An append that does not fit (over the limit, or out of memory)
 *	fails whole, with errno and error_r saying which, and leaves the
 *	buffer as it was.
 */
#include "buffer.h"

#include "grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_FIRST_ALLOCATION 4096

void mb_buffer_init(struct mb_buffer *b, size_t limit)
{
	b->data = NULL;
	b->start = b->end = b->capacity = 0;
	b->limit = limit;
}

size_t mb_buffer_length(const struct mb_buffer *b)
{
	return b->end - b->start;
}

const char *mb_buffer_pending(const struct mb_buffer *b)
{
	return b->data != NULL ? b->data + b->start : "";
}

void mb_buffer_compact(struct mb_buffer *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

int mb_buffer_append(struct mb_buffer *b, const void *data, size_t len, struct mb_error_text *error_r)
{
	size_t pending = b->end - b->start;

	if (len > b->limit - pending) {
		mb_set_error(error_r, "%zu more bytes would put %zu pending, over the limit of %zu",
			     len, pending, b->limit);
		errno = EMSGSIZE;
		return -1;
	}
	if (len == 0)
		return 0;
	if (b->end + len > b->capacity)
		mb_buffer_compact(b);
	if (b->end + len > b->capacity) {
		char *grown = mb_grow(b->data, &b->capacity, b->end + len, 1, BUFFER_FIRST_ALLOCATION);
		if (grown == NULL) {
			mb_set_error(error_r, "out of memory growing a buffer to %zu bytes", b->end + len);
			errno = ENOMEM;
			return -1;
		}
		b->data = grown;
	}
	memcpy(b->data + b->end, data, len);
	b->end += len;
	return 0;
}

void mb_buffer_consume(struct mb_buffer *b, size_t n)
{
	if (n > b->end - b->start)
		n = b->end - b->start;
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

void mb_buffer_clear(struct mb_buffer *b)
{
	b->start = b->end = 0;
}

void mb_buffer_free(struct mb_buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->start = b->end = b->capacity = 0;
}
