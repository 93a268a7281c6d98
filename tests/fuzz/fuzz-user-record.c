/* fuzz-user-record.c - libFuzzer harness for a user record as the store
 * holds it (JSON, lib/store-record.c), its move state included
 *
 * A record comes from the store, which another node (or anyone who can
 * write to Redis) may have written. Decoding must never crash, and a
 * record it accepts must encode again and decode to the same move state
 * (a move read differently on two nodes could let one deliver into a
 * frozen mailbox).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "example.org/ann"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_user user, again;
	char error[512];

	if (store_decode_user(KEY, strlen(KEY), (const char *)data, size, &user, error, sizeof(error)) < 0)
		return 0;
	char *text = store_encode_user(&user);
	if (text == NULL)
		abort();
	if (store_decode_user(KEY, strlen(KEY), text, strlen(text), &again, error, sizeof(error)) < 0)
		abort();
	if (again.move.phase != user.move.phase || strcmp(again.move.from, user.move.from) != 0 ||
	    strcmp(again.move.to, user.move.to) != 0 || again.move.started != user.move.started ||
	    again.move.until != user.move.until || strcmp(again.node, user.node) != 0)
		abort();
	mb_user_clear(&again);
	mb_user_clear(&user);
	free(text);
	return 0;
}
