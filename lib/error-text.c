/*
 * error-text.c - the error message of new code
 *
 * One fixed-size text per failure, written once by the function that
 * failed and read by whoever decides what to log (error-text.h gives
 * the convention). Fixed size so that no path that reports an
 * allocation failure has to allocate.
 */
#include "error-text.h"

#include <stdarg.h>
#include <stdio.h>

int mb_set_error(struct mb_error_text *error_r, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(error_r->text, sizeof(error_r->text), format, args);
	va_end(args);
	return -1;
}
