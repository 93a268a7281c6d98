/* fuzz-passwd.c - libFuzzer harness for the passwd-file line parser of
 * `mailbag user import`
 *
 * Whatever the line, an accepted entry must hold a normalised address that
 * parses again to itself, a hash the store accepts, and a home that is
 * empty or absolute without "/../".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import-passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_passwd_entry entry;
	struct mb_address again;
	char formatted[MB_ADDRESS_MAX + 1];
	const char *why;
	/* the first byte chooses whether bare logins get a domain */
	const char *domain = size > 0 && (data[0] & 1) ? "example.org" : NULL;

	if (mb_passwd_line_parse((const char *)data, size, domain, &entry, &why) <= 0)
		return 0;
	if (mb_address_parse(entry.address, NULL, &again, &why) < 0)
		abort();
	mb_address_format(&again, formatted, sizeof(formatted));
	if (strcmp(formatted, entry.address) != 0)
		abort();
	if (mb_password_hash_check(entry.hash, &why) < 0)
		abort();
	if (entry.home[0] != '\0' && (entry.home[0] != '/' || strstr(entry.home, "/../") != NULL))
		abort();
	return 0;
}
