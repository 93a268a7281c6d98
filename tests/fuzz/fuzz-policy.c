/* fuzz-policy.c - libFuzzer harness for policy delegation requests
 *
 * Feeds a byte stream to the parser the way policyd's reactor does (parse,
 * decide, consume, parse again) and decides each request against a small
 * real LMDB store made once per process, with every check switched on
 * (greylisting, rate limits of every kind, the recipient cap), so that
 * state is written and read for whatever attributes the input carries.
 * Every reply must be one "action=...\n\n" line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "policy.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mb_store *fuzz_store;
static struct mb_context *fuzz_ctx;
static struct policy_scratch *fuzz_scratch;
static char fuzz_dir[] = "/tmp/mailbag-fuzz-policy-XXXXXX";

static void remove_store(void)
{
	char cmd[80];

	mb_store_close(&fuzz_store);
	mb_context_free(&fuzz_ctx);
	policy_scratch_free(&fuzz_scratch);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fuzz_dir);
}

static const char fuzz_context[] =
	"{\"checks\": {\"max_recipients_per_message\": 3},"
	" \"greylisting\": {\"enabled\": true, \"delay\": 0, \"auto_allow_after\": 2,"
	"   \"retry_window\": \"10m\", \"lifetime\": \"1h\","
	"   \"allowlist\": [\"192.0.2.0/24\", \"2001:db8::/32\", \"relay.example\"]},"
	" \"rate_limits\": ["
	"  {\"key\": \"sasl_username\", \"count\": \"messages\", \"per\": \"minute\", \"limit\": 2},"
	"  {\"key\": \"sender_domain\", \"count\": \"recipients\", \"per\": \"hour\", \"limit\": 5},"
	"  {\"key\": \"client_address\", \"count\": \"messages\", \"per\": \"day\", \"limit\": 3},"
	"  {\"key\": \"client_network\", \"count\": \"recipients\", \"per\": \"minute\", \"limit\": 4},"
	"  {\"key\": \"recipient\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 2}]}";

static void make_store(void)
{
	const char *list[] = { "small@example.org", "ext@elsewhere.test", "list@example.org" };
	struct mb_user user = { .enabled = true, .max_message_bytes = 100 };
	char location[80], error[512];

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(remove_store);
	snprintf(location, sizeof(location), "lmdb:%s/store", fuzz_dir);
	fuzz_scratch = policy_scratch_new();
	if (fuzz_scratch == NULL ||
	    mb_context_parse("fuzz", fuzz_context, strlen(fuzz_context), &fuzz_ctx, error, sizeof(error)) < 0 ||
	    mb_store_open(location, MB_STORE_CREATE, &fuzz_store, error, sizeof(error)) < 0 ||
	    mb_store_domain_add(fuzz_store, "example.org", error, sizeof(error)) < 0)
		abort();
	snprintf(user.address, sizeof(user.address), "small@example.org");
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/x";
	/* list points at itself through its own targets: a loop to survive */
	if (mb_store_user_add(fuzz_store, &user, error, sizeof(error)) < 0 ||
	    mb_store_alias_add(fuzz_store, "list@example.org", list, 3, error, sizeof(error)) < 0 ||
	    mb_store_alias_add(fuzz_store, "@example.org", list + 2, 1, error, sizeof(error)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy_request req;
	char reply[POLICY_MAX_ACTION + 64], error[512];
	size_t used = 0, consumed;

	if (fuzz_store == NULL)
		make_store();
	while (used < size) {
		enum policy_parse_result r = policy_request_parse((const char *)data + used,
								  size - used, &req, &consumed);
		if (r != POLICY_PARSE_OK)
			break;
		if (consumed == 0 || consumed > size - used)
			abort();
		/* time moves a little with each request: windows turn over */
		static int64_t now = 1700000000;
		size_t len = policy_decide(&req, fuzz_ctx, fuzz_store, fuzz_scratch, now += 7,
					    reply, sizeof(reply));
		/* as policyd does once a second: expired state is swept, so
		   a long run does not fill the map */
		static unsigned int decided;
		if (++decided % 256 == 0 && mb_state_maintain(fuzz_store, now, error, sizeof(error)) < 0)
			abort();
		if (len < 9 || strncmp(reply, "action=", 7) != 0 ||
		    memcmp(reply + len - 2, "\n\n", 2) != 0 || memchr(reply, '\n', len - 2) != NULL)
			abort();
		used += consumed;
	}
	return 0;
}
