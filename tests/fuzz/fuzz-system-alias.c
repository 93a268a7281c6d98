/* fuzz-system-alias.c - libFuzzer harness for the host's own addresses
 *
 * Each input is used twice: as a system alias name (the CLI's and the
 * import's parser) and as a socketmap payload answered with the host's
 * names set (mx.example.org) against a small LMDB store with a system
 * alias, so hostile keys at the host's names run the whole path (key,
 * +detail, name, live targets). Every answer must be a protocol reply,
 * and never carry a target local(8) could misread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "socketmap.h"
#include "store.h"
#include "system-alias.h"
#include "system-alias-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mb_store *fuzz_store;
static char fuzz_dir[] = "/tmp/mailbag-fuzz-sys-XXXXXX";

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
	const char *root[] = { "ann@example.org", "ext@elsewhere.test", "gone@example.org" };
	struct mb_user user = { .enabled = true };
	char location[80], error[512];

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
	    mb_system_alias_add(fuzz_store, "root", root, 3, error, sizeof(error)) < 0)
		abort();
	system_alias_map_set_hostname("mx.example.org");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char reply[SOCKETMAP_MAX_REPLY];
	char text[SOCKETMAP_MAX_REQUEST + 1], name[MB_LOCAL_MAX + 1];
	const char *why;

	if (fuzz_store == NULL)
		make_store();
	if (size > SOCKETMAP_MAX_REQUEST)
		return 0; /* policyd refuses these before parsing */
	memcpy(text, data, size);
	text[size] = '\0';
	if (mb_system_alias_name_parse(text, name, &why) == 0 && strlen(name) != strlen(text))
		abort();
	size_t len = socketmap_answer(fuzz_store, "+-", (const char *)data, size, reply, sizeof(reply));
	if (len < 5 || len > sizeof(reply))
		abort();
	if (memcmp(reply, "OK ", 3) != 0 && memcmp(reply, "NOTFOUND ", 9) != 0 &&
	    memcmp(reply, "PERM ", 5) != 0 && memcmp(reply, "TEMP ", 5) != 0)
		abort();
	if (memcmp(reply, "OK ", 3) == 0 && (reply[3] == '|' || reply[3] == '/' || reply[3] == ':'))
		abort();
	return 0;
}
