/* log.c - logging for mailbag's programs
 *
 * SUMMARY
 *	One line per event on stderr, "ident: level: message", which
 *	journald (under systemd) or the test fixture keeps. The library
 *	itself never logs: it returns errors and the program decides.
 *	Anything that came from the network goes through mb_log_sanitize()
 *	first, so a request cannot forge log lines.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_ident = "mailbag";
static bool log_debug;

void mb_log_init(const char *ident, bool debug)
{
	log_ident = ident;
	log_debug = debug;
}

void mb_log(enum mb_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	char line[2048];
	va_list args;

	if (level == MB_LOG_DEBUG && !log_debug)
		return;
	va_start(args, fmt);
	vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	fprintf(stderr, "%s: %s: %s\n", log_ident, names[level], line);
}

char *mb_log_sanitize(const char *in, size_t len, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > out_size) {
			if (out_size >= 4) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (out_size > 0)
		out[o < out_size ? o : out_size - 1] = '\0';
	return out;
}
