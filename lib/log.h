/* log.h - logging for mailbag's programs (see log.c). */
#ifndef MAILBAG_LOG_H
#define MAILBAG_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum mb_log_level { MB_LOG_DEBUG, MB_LOG_INFO, MB_LOG_WARNING, MB_LOG_ERROR };

void mb_log_init(const char *ident, bool debug);
void mb_log(enum mb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define mb_debug(...) mb_log(MB_LOG_DEBUG, __VA_ARGS__)
#define mb_info(...) mb_log(MB_LOG_INFO, __VA_ARGS__)
#define mb_warning(...) mb_log(MB_LOG_WARNING, __VA_ARGS__)
#define mb_error(...) mb_log(MB_LOG_ERROR, __VA_ARGS__)

/* Copy untrusted bytes for a log line: non-printable bytes become \xNN,
   the copy is cut at out_size with "..." . Returns out. */
char *mb_log_sanitize(const char *in, size_t len, char *out, size_t out_size);

#endif
