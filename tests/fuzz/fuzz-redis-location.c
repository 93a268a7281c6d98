/* fuzz-redis-location.c - libFuzzer harness for the store location parser
 * and its redaction (redis://, unix:, sentinel://)
 *
 * Any bytes must give either a location or an error, never both; a
 * parsed location has its counts and ports in range; redaction always
 * ends within its buffer, and the redacted location, read again, has
 * "***" for each password.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis-location.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_endpoint(const struct mb_redis_endpoint *ep)
{
	if (ep->host[0] == '\0' || memchr(ep->host, '\0', sizeof(ep->host)) == NULL ||
	    ep->port < 1 || ep->port > 65535)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[2048], shown[2100];
	struct mb_redis_location loc;
	const char *error = NULL;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int ret = mb_redis_location_parse(text, &loc, &error);
	if (ret != 0 && ret != -1)
		abort();
	if (ret < 0 && (error == NULL || error[0] == '\0'))
		abort();
	mb_store_location_redact(text, shown, sizeof(shown));
	if (memchr(shown, '\0', sizeof(shown)) == NULL)
		abort();
	mb_store_location_redact(text, shown, 7);
	if (strlen(shown) > 6)
		abort();
	if (ret != 0)
		return 0;
	if (loc.sentinel_count > MB_REDIS_SENTINELS_MAX || loc.db < 0 || loc.db > 255)
		abort();
	for (size_t i = 0; i < loc.sentinel_count; i++)
		check_endpoint(&loc.sentinels[i]);
	if ((loc.sentinel_count > 0) != (loc.master_name[0] != '\0'))
		abort();
	if (loc.sentinel_count == 0 && loc.socket_path[0] == '\0' &&
	    (loc.host[0] == '\0' || loc.port < 1 || loc.port > 65535))
		abort();
	/* read back, the redacted location has "***" for every password */
	struct mb_redis_location again;
	mb_store_location_redact(text, shown, sizeof(shown));
	if (mb_redis_location_parse(shown, &again, &error) == 0 &&
	    ((loc.password[0] != '\0' && strcmp(again.password, "***") != 0) ||
	     (loc.sentinel_password[0] != '\0' && strcmp(again.sentinel_password, "***") != 0)))
		abort();
	return 0;
}
