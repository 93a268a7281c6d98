/* fuzz-srs.c - libFuzzer harness for the SRS reverse parser and the
 * secret file parser (lib/srs.c)
 *
 * The input is an address as Postfix would ask srs_reverse about it (and
 * the same bytes as a secret file). A reversed address must be shorter
 * than an address can be and hold an "@"; a sender that is rewritten
 * forward must reverse to itself (SRS0) or to an SRS0 address (SRS1).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char secret_a[] = "the first secret of the fuzzer";
static char secret_b[] = "the second secret of the fuzzer";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[1024], out[MB_ADDRESS_MAX + 1], back[MB_ADDRESS_MAX + 1], error[256];
	struct mb_srs_secrets secrets = { 2, { secret_a, secret_b }, { sizeof(secret_a) - 1, sizeof(secret_b) - 1 } };
	struct mb_srs srs = { &secrets, "srs.example", 21 };
	struct mb_srs_secrets parsed;
	const char *why;
	const time_t now = 1800000000;

	if (mb_srs_secrets_parse((const char *)data, size, "fuzz", &parsed, error, sizeof(error)) == 0) {
		if (parsed.count == 0 || parsed.count > MB_SRS_MAX_SECRETS)
			abort();
		mb_srs_secrets_clear(&parsed);
	}
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) != size)
		return 0;
	int ret = mb_srs_reverse(&srs, text, now, out, sizeof(out), &why);
	if (ret == 1 && (strchr(out, '@') == NULL || strlen(out) > MB_ADDRESS_MAX))
		abort();
	if (ret < 0 && (why == NULL || why[0] == '\0'))
		abort();
	ret = mb_srs_forward(&srs, text, now, out, sizeof(out), &why);
	if (ret != 1)
		return 0;
	if (mb_srs_reverse(&srs, out, now, back, sizeof(back), &why) != 1)
		abort();
	if (strncasecmp(out, "SRS0", 4) == 0 && strcasecmp(back, text) != 0)
		abort();
	if (strncasecmp(out, "SRS1", 4) == 0 && strncasecmp(back, "SRS0", 4) != 0)
		abort();
	return 0;
}
