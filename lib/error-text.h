/* error-text.h - how new code says what failed (see error-text.c).

   The one convention for new functions: the last parameter is
   `struct mb_error_text *error_r`; on failure the function returns -1
   (or NULL) and has written one line into error_r->text that names what
   failed, where (file, key, address, socket) and, when it helps, what
   to do. On success error_r is left alone. error_r is never NULL. The
   caller decides whether and how to log it; a secret is never part of
   the text.

   Older functions take (char *error, size_t error_size) with the same
   meaning; they pass error_r->text, sizeof(error_r->text) through. */
#ifndef MAILBAG_ERROR_TEXT_H
#define MAILBAG_ERROR_TEXT_H

#define MB_ERROR_TEXT_MAX 1024

struct mb_error_text {
	char text[MB_ERROR_TEXT_MAX];
};

/* Write a printf-style message into error_r (truncated to fit). Returns
   -1, so that `return mb_set_error(error_r, ...);` reads as failure. */
int mb_set_error(struct mb_error_text *error_r, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

#endif
