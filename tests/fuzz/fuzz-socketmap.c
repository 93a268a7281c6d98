/* fuzz-socketmap.c - libFuzzer harness for socketmap requests
 *
 * Each input is one netstring payload ("mapname key"), parsed and answered
 * against a small real LMDB store made once per process, so the whole
 * decision path (address parsing, subaddress, catch-all, domain alias,
 * sender logins) runs on hostile keys. Every answer must be one of the
 * protocol's replies.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "socketmap.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mb_store *fuzz_store;
static char fuzz_dir[] = "/tmp/mailbag-fuzz-XXXXXX";

static void remove_store(void)
{
	char cmd[64];

	mb_store_close(&fuzz_store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fuzz_dir);
}

static void make_store(void)
{
	const char *team[] = { "ann@example.org", "ext@elsewhere.test" };
	const char *domain_target[] = { "@example.org" };
	const char *relay_listed[] = { "ok@listed.example" };
	struct mb_user user = { .enabled = true };
	char location[64], error[512];

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(remove_store);
	snprintf(location, sizeof(location), "lmdb:%s/store", fuzz_dir);
	if (mb_store_open(location, MB_STORE_CREATE, &fuzz_store, error, sizeof(error)) < 0 ||
	    mb_store_domain_add(fuzz_store, "example.org", error, sizeof(error)) < 0)
		abort();
	snprintf(user.address, sizeof(user.address), "ann@example.org");
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/x";
	if (mb_store_user_add(fuzz_store, &user, error, sizeof(error)) < 0 ||
	    mb_store_alias_add(fuzz_store, "team@example.org", team, 2, error, sizeof(error)) < 0 ||
	    mb_store_alias_add(fuzz_store, "@example.org", team, 1, error, sizeof(error)) < 0 ||
	    mb_store_alias_add(fuzz_store, "@alias.example", domain_target, 1, error, sizeof(error)) < 0)
		abort();
	/* the routing records: a global alias, relay domains, a network */
	if (mb_store_global_alias_add(fuzz_store, "abuse", team, 1, error, sizeof(error)) < 0 ||
	    mb_store_relay_domain_add(fuzz_store, "backup.example", NULL, 0, "127.0.0.1:2525",
				      error, sizeof(error)) < 0 ||
	    mb_store_relay_domain_add(fuzz_store, "listed.example", relay_listed, 1, NULL,
				      error, sizeof(error)) < 0 ||
	    mb_store_relay_network_add(fuzz_store, "10.0.0.0/8", error, sizeof(error)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char reply[SOCKETMAP_MAX_REPLY];

	if (fuzz_store == NULL)
		make_store();
	if (size > SOCKETMAP_MAX_REQUEST)
		return 0; /* policyd refuses these before parsing */
	size_t len = socketmap_answer(fuzz_store, "+-", (const char *)data, size,
				      reply, sizeof(reply));
	if (len < 5 || len > sizeof(reply))
		abort();
	if (memcmp(reply, "OK ", 3) != 0 && memcmp(reply, "NOTFOUND ", 9) != 0 &&
	    memcmp(reply, "PERM ", 5) != 0 && memcmp(reply, "TEMP ", 5) != 0)
		abort();
	return 0;
}
