/* fuzz-netstring.c - libFuzzer harness for the netstring parser
 *
 * Feeds arbitrary bytes to mb_netstring_parse() the way policyd's reactor
 * does (parse, consume, parse again) and checks the parser's promises: a
 * payload lies inside the input, consumed never exceeds it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "netstring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t used = 0;

	while (used < size) {
		const char *payload;
		size_t payload_len, consumed;
		enum mb_netstring_result r = mb_netstring_parse(buf + used, size - used, 1024,
								&payload, &payload_len, &consumed);
		if (r != MB_NETSTRING_OK)
			break;
		if (consumed > size - used || payload < buf + used ||
		    payload + payload_len > buf + used + consumed || payload_len > 1024)
			abort();
		used += consumed;
	}
	return 0;
}
