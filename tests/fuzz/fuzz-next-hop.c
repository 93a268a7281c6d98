/* fuzz-next-hop.c - libFuzzer harness for a relay domain's next hop
 *
 * mb_next_hop_parse reads what `mailbag relay domain add --next-hop`
 * and an import are given, and every relay record read from the store.
 * An accepted next hop is "[HOST]:PORT" with a port from 1 to 65535, and
 * parses again to itself (the form policyd hands Postfix is stable).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], out[MB_NEXT_HOP_MAX + 1], again[MB_NEXT_HOP_MAX + 1];
	const char *why;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mb_next_hop_parse(text, out, &why) < 0) {
		if (why == NULL || why[0] == '\0')
			abort();
		return 0;
	}
	const char *close = strrchr(out, ']');
	if (out[0] != '[' || close == NULL || close[1] != ':' || close == out + 1)
		abort();
	long port = strtol(close + 2, NULL, 10);
	if (port < 1 || port > 65535)
		abort();
	if (mb_next_hop_parse(out, again, &why) < 0 || strcmp(out, again) != 0)
		abort();
	return 0;
}
