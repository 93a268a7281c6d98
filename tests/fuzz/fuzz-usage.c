/* fuzz-usage.c - libFuzzer harness for the dict protocol of usage reports
 *
 * Feeds a byte stream to usage_process() as policyd's reactor does (one
 * connection state, process, keep the unconsumed rest, process again) on
 * a real LMDB store made once per process, and checks its promises:
 * consumed never exceeds the input, replies are whole lines within the
 * reply buffer, and a closed connection consumed everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mb_store *fuzz_store;
static char fuzz_dir[] = "/tmp/mailbag-fuzz-usage-XXXXXX";

static void remove_store(void)
{
	char cmd[80];

	mb_store_close(&fuzz_store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fuzz_dir);
}

static void make_store(void)
{
	char location[80], error[512];

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(remove_store);
	snprintf(location, sizeof(location), "lmdb:%s/store", fuzz_dir);
	if (mb_store_open(location, MB_STORE_CREATE, &fuzz_store, error, sizeof(error)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct usage_connection conn;
	char reply[256], error[256];
	size_t used = 0;

	if (fuzz_store == NULL)
		make_store();
	memset(&conn, 0, sizeof(conn));
	/* the input arrives in two reads, split where its first byte says */
	size_t split = size > 0 ? data[0] % (size + 1) : 0;
	for (int round = 0; round < 2 && used < size; round++) {
		size_t available = round == 0 ? split : size;
		if (available < used)
			continue;
		size_t reply_len;
		bool closed;
		size_t consumed = usage_process(&conn, fuzz_store, "+", 1700000000,
						(const char *)data + used, available - used,
						reply, sizeof(reply), &reply_len, &closed,
						error, sizeof(error));
		if (consumed > available - used || reply_len > sizeof(reply) ||
		    (reply_len > 0 && reply[reply_len - 1] != '\n') ||
		    (closed && consumed != available - used))
			abort();
		used += consumed;
		if (closed)
			break;
	}
	return 0;
}
