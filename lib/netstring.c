/* netstring.c - netstring framing for the socketmap protocol
 *
 * SUMMARY
 *	Postfix's socketmap client frames each request and reply as a
 *	netstring (D. J. Bernstein): decimal length, ':', the bytes, ','.
 *	This parser is a pure function so that it can be tested table-style
 *	and fuzzed; the daemon decides what to do with each result.
 *
 *	A length is at most 9 digits and must not have leading zeros, and
 *	a declared length over the caller's bound is reported as soon as the
 *	digits are read, before any payload is buffered.
 */
#include "netstring.h"

#include <stdio.h>
#include <string.h>

#define MAX_LENGTH_DIGITS 9

enum mb_netstring_result
mb_netstring_parse(const char *buf, size_t len, size_t max_payload,
		   const char **payload_r, size_t *payload_len_r,
		   size_t *consumed_r)
{
	size_t digits = 0, declared = 0, total;

	while (digits < len && buf[digits] >= '0' && buf[digits] <= '9') {
		if (digits == MAX_LENGTH_DIGITS)
			return MB_NETSTRING_MALFORMED;
		declared = declared * 10 + (size_t)(buf[digits] - '0');
		digits++;
	}
	if (digits > 1 && buf[0] == '0')
		return MB_NETSTRING_MALFORMED;
	if (digits > 0 && declared > max_payload)
		return MB_NETSTRING_TOO_LONG;
	if (digits == len)
		return digits == MAX_LENGTH_DIGITS ? MB_NETSTRING_MALFORMED :
						    MB_NETSTRING_NEED_MORE;
	if (digits == 0 || buf[digits] != ':')
		return MB_NETSTRING_MALFORMED;
	total = digits + 1 + declared + 1;
	if (len < total)
		return MB_NETSTRING_NEED_MORE;
	if (buf[total - 1] != ',')
		return MB_NETSTRING_MALFORMED;
	*payload_r = buf + digits + 1;
	*payload_len_r = declared;
	*consumed_r = total;
	return MB_NETSTRING_OK;
}

size_t mb_netstring_format(char *out, size_t out_size, const char *payload,
			   size_t payload_len)
{
	char prefix[24];
	int n = snprintf(prefix, sizeof(prefix), "%zu:", payload_len);
	size_t total = (size_t)n + payload_len + 1;

	if (total > out_size)
		return 0;
	memcpy(out, prefix, (size_t)n);
	memcpy(out + n, payload, payload_len);
	out[total - 1] = ',';
	return total;
}
