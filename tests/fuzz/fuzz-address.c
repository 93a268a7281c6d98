/* fuzz-address.c - libFuzzer harness for address parsing
 *
 * An accepted address must format back to something that parses to the
 * same address (normalisation is idempotent) and holds no upper case.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[1024], formatted[MB_ADDRESS_MAX + 1];
	struct mb_address a, b;
	const char *error;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mb_address_parse(text, "+", &a, &error) < 0)
		return 0;
	mb_address_format(&a, formatted, sizeof(formatted));
	if (mb_address_parse(formatted, "+", &b, &error) < 0 ||
	    strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0 || b.has_detail)
		abort();
	for (const char *p = formatted; *p != '\0'; p++) {
		if (isupper((unsigned char)*p))
			abort();
	}
	return 0;
}
