/* buffer.h - a bounded byte buffer for output (see buffer.c). */
#ifndef MAILBAG_BUFFER_H
#define MAILBAG_BUFFER_H

#include <stddef.h>

#include "error-text.h"

/* Bytes appended at the end and consumed from the front (by write()).
   The fields are read by the tests; use the functions. A zeroed struct
   is an empty buffer with limit 0: call mb_buffer_init() first. */
struct mb_buffer {
	char *data;
	size_t start;     /* the first byte not consumed yet */
	size_t end;       /* one past the last byte appended */
	size_t capacity;  /* bytes allocated at data */
	size_t limit;     /* the most bytes pending at once */
};

/* An empty buffer that holds at most limit pending bytes. Allocates
   nothing until the first append. */
void mb_buffer_init(struct mb_buffer *buffer, size_t limit);

/* Append len bytes. 0, or -1 with error_r and the buffer unchanged:
   errno EMSGSIZE when the pending bytes would exceed the limit (the
   overflow: a peer that does not read), ENOMEM when out of memory. */
int mb_buffer_append(struct mb_buffer *buffer, const void *data, size_t len,
		     struct mb_error_text *error_r);

/* The pending bytes: how many, and where they start (for write()). */
size_t mb_buffer_length(const struct mb_buffer *buffer);
const char *mb_buffer_pending(const struct mb_buffer *buffer);

/* Drop n pending bytes from the front (n <= the pending length). Once
   none are left the buffer starts again at its beginning. */
void mb_buffer_consume(struct mb_buffer *buffer, size_t n);
/* Move the pending bytes to the front of the allocation (appending
   does it too, before it would grow). */
void mb_buffer_compact(struct mb_buffer *buffer);
/* Drop every pending byte, keeping the allocation. */
void mb_buffer_clear(struct mb_buffer *buffer);
/* Free the allocation; the buffer is empty and may be used again. */
void mb_buffer_free(struct mb_buffer *buffer);

#endif
