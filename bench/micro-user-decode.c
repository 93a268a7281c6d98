/* micro-user-decode.c - one user record decoded by each path, per decode
 *
 * SYNOPSIS
 *	micro-user-decode [COUNT]
 *
 * DESCRIPTION
 *	Decodes the record store_encode_user() writes for a typical user
 *	(a SHA512-CRYPT hash, a home, default limits) COUNT times (default
 *	1,000,000) by jansson (store_decode_user_json), by the fast path
 *	(store_decode_user_fast, lib/record-scan.c) and by the entry point
 *	(store_decode_user), each decode followed by mb_user_clear() as a
 *	lookup does, and prints microseconds per decode. Not a test and not
 *	built by meson; by hand, from the top of the tree after `ninja -C
 *	build`:
 *
 *	cc -O2 -Ilib -Ibuild -o build/micro-user-decode bench/micro-user-decode.c \
 *	   build/lib/libmailbag.a -llmdb -ljansson -lhiredis -lsodium -lcrypt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store-internal.h"

#define KEY "bench.test/u1"

typedef int decode_fn(const char *key, size_t key_len, const char *value, size_t len,
		      struct mb_user *user, char *error, size_t size);

static double seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* per_decode - microseconds per decode of text by decode, count times */
static double per_decode(decode_fn *decode, const char *text, long count)
{
	size_t len = strlen(text);
	struct mb_user user;
	char error[512];
	double start = seconds();

	for (long i = 0; i < count; i++) {
		if (decode(KEY, strlen(KEY), text, len, &user, error, sizeof(error)) < 0) {
			fprintf(stderr, "micro-user-decode: %s\n", error);
			exit(1);
		}
		mb_user_clear(&user);
	}
	return (seconds() - start) / (double)count * 1e6;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000000;
	struct mb_user user = {
		.password_hash = (char *)"{SHA512-CRYPT}$6$abcdefgh$0123456789012345678901234567890"
			"123456789012345678901234567890123456789012345678901234",
		.enabled = true, .created = 1764600000, .home = (char *)"/nonexistent/bench.test/u",
		.quota_bytes = MB_LIMIT_DEFAULT, .max_message_bytes = MB_LIMIT_DEFAULT,
	};
	char *text = store_encode_user(&user);
	struct mb_user check;
	char error[512];

	if (text == NULL || count <= 0 ||
	    store_decode_user_fast(KEY, strlen(KEY), text, strlen(text), &check, error, sizeof(error)) != 1) {
		fprintf(stderr, "micro-user-decode: the fast path does not read %s\n", text);
		return 1;
	}
	mb_user_clear(&check);
	printf("record %s (%zu bytes), %ld decodes each\n", text, strlen(text), count);
	printf("jansson           %.3f us\n", per_decode(store_decode_user_json, text, count));
	printf("fast path         %.3f us\n", per_decode(store_decode_user_fast, text, count));
	printf("store_decode_user %.3f us\n", per_decode(store_decode_user, text, count));
	free(text);
	return 0;
}
