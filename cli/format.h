/* format.h - sizes and days as `mailbag` prints them (see format.c). */
#ifndef MAILBAG_CLI_FORMAT_H
#define MAILBAG_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* bytes as "1.5G" ("unlimited" for 0). */
void cli_format_size(uint64_t bytes, char *buf, size_t size);
/* when as "YYYY-MM-DD" (UTC), "?" if it cannot be shown. */
void cli_format_day(int64_t when, char *buf, size_t size);

#endif
