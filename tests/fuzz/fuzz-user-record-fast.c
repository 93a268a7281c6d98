/* fuzz-user-record-fast.c - differential libFuzzer harness: the user
 * record fast path (lib/record-scan.c) against jansson's decoder
 *
 * The fast path may decline any record, but a record it reads it must
 * read exactly as store_decode_user_json() does: same answer, same
 * error text, the same value in every field of struct mb_user. A record
 * read differently by two nodes' decoders, or by one node's two paths,
 * could let a login through that the other refuses. Any difference
 * aborts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "example.org/ann"

static bool same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_move(const struct mb_user_move *a, const struct mb_user_move *b)
{
	return a->phase == b->phase && strcmp(a->from, b->from) == 0 &&
		strcmp(a->to, b->to) == 0 && a->started == b->started && a->until == b->until;
}

/* same_user - field by field (the fast path never has app passwords) */
static bool same_user(const struct mb_user *a, const struct mb_user *b)
{
	return strcmp(a->address, b->address) == 0 &&
		same_string(a->password_hash, b->password_hash) &&
		same_string(a->home, b->home) &&
		a->quota_bytes == b->quota_bytes &&
		a->max_message_bytes == b->max_message_bytes &&
		a->enabled == b->enabled && a->created == b->created &&
		a->app_passwords == NULL && b->app_passwords == NULL &&
		a->app_password_count == 0 && b->app_password_count == 0 &&
		a->app_passwords_only == b->app_passwords_only &&
		strcmp(a->node, b->node) == 0 && same_move(&a->move, &b->move);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mb_user fast, json;
	char fast_error[512] = "", json_error[512] = "";

	int fast_ret = store_decode_user_fast(KEY, strlen(KEY), text, size, &fast,
					      fast_error, sizeof(fast_error));
	int json_ret = store_decode_user_json(KEY, strlen(KEY), text, size, &json,
					      json_error, sizeof(json_error));
	if (fast_ret != 0) {
		if ((fast_ret > 0 ? 0 : -1) != json_ret || !same_user(&fast, &json))
			abort();
		if (json_ret < 0 && strcmp(fast_error, json_error) != 0)
			abort();
		mb_user_clear(&fast);
	}
	if (json_ret == 0)
		mb_user_clear(&json);
	return 0;
}
