/* netstring.h - netstring framing for the socketmap protocol (see netstring.c). */
#ifndef MAILBAG_NETSTRING_H
#define MAILBAG_NETSTRING_H

#include <stddef.h>

enum mb_netstring_result {
	MB_NETSTRING_OK,         /* a whole netstring: payload and consumed set */
	MB_NETSTRING_NEED_MORE,  /* valid so far, incomplete */
	MB_NETSTRING_MALFORMED,  /* not a netstring: the stream is lost */
	MB_NETSTRING_TOO_LONG,   /* declared length over max_payload */
};

/* Parse one netstring "LEN:PAYLOAD," at the start of buf. Pure: no I/O,
   no allocation; payload_r points into buf. */
enum mb_netstring_result
mb_netstring_parse(const char *buf, size_t len, size_t max_payload,
		   const char **payload_r, size_t *payload_len_r,
		   size_t *consumed_r);

/* Write "LEN:PAYLOAD," into out. Returns its length, or 0 if out_size is
   too small. */
size_t mb_netstring_format(char *out, size_t out_size, const char *payload,
			   size_t payload_len);

#endif
