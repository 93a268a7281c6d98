/* greylist.c - greylisting of unauthenticated SMTP clients
 *
 * SUMMARY
 *	The first attempt of a triplet (client network: its /24 or /64;
 *	envelope sender; recipient) is deferred with DEFER_IF_PERMIT 4.7.1;
 *	a retry after greylisting.delay and within greylisting.retry_window
 *	passes, and the triplet is then known for greylisting.lifetime. A
 *	network whose retries passed greylisting.auto_allow_after times is
 *	not greylisted any more. Authenticated clients and the allowlist
 *	(networks, and domains matched against the verified client_name)
 *	are never greylisted.
 *
 *	Triplets live in the store's state with an expiry, as
 *	"grey/NETWORK/HASH" = "FIRST_SEEN PASSED" (sender and recipient are
 *	hashed: long, and case-insensitive), and passed retries per network
 *	as the counter "grey-ok/NETWORK": they survive restarts and, with
 *	Redis, are shared by every node.
 */
#include "policy-call.h"

#include "address.h"
#include "context.h"
#include "network.h"
#include "store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the hash of sender and recipient in a greylisting key (BLAKE2b):
   changing it forgets every triplet seen */
#define GREYLIST_HASH_BYTES 16

/* allowlisted - the client is in an allowlisted network, or its verified
   host name is an allowlisted domain or below one */
static bool allowlisted(const struct policy_call *call, const char *client_address)
{
	const char *client_name = policy_attribute(call, "client_name");
	size_t name_len = strlen(client_name);

	for (size_t i = 0; i < call->ctx->greylisting.allowlist.count; i++) {
		const struct mb_allow_entry *entry = &call->ctx->greylisting.allowlist.items[i];
		if (entry->is_network) {
			if (mb_network_contains(&entry->network, client_address))
				return true;
			continue;
		}
		size_t domain_len = strlen(entry->domain);
		if (name_len < domain_len || strcasecmp(client_name + name_len - domain_len, entry->domain) != 0)
			continue;
		if (name_len == domain_len || client_name[name_len - domain_len - 1] == '.')
			return true;
	}
	return false;
}

/* triplet_key - "grey/NETWORK/HASH": the network stays readable for the
   operator, sender and recipient (long, case-insensitive) are hashed */
static void triplet_key(const char *network, const char *sender, const char *recipient,
			char *key, size_t size)
{
	char lower[2 * (MB_ADDRESS_MAX + 1) + 2], hex[2 * GREYLIST_HASH_BYTES + 1];
	unsigned char hash[GREYLIST_HASH_BYTES];

	mb_lower_copy(sender, lower, MB_ADDRESS_MAX + 1);
	size_t used = strlen(lower);
	lower[used++] = '\n';
	mb_lower_copy(recipient, lower + used, MB_ADDRESS_MAX + 1);
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)lower, strlen(lower), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(key, size, "grey/%s/%s", network, hex);
}

static int greylist_defer(char *reason, size_t reason_size, int64_t wait)
{
	snprintf(reason, reason_size,
		 "DEFER_IF_PERMIT 4.7.1 Greylisted: this server delays first mail from new senders; please try again in %" PRId64 " seconds",
		 wait);
	return 1;
}

int policy_check_greylisting(const struct policy_call *call, char *reason, size_t reason_size)
{
	const struct mb_context *ctx = call->ctx;
	const char *client_address = policy_attribute(call, "client_address");
	char network[64], key[MB_STATE_KEY_MAX + 1], value[64], allow_key[96];
	int64_t first_seen = 0, passed = 0, count;
	int found;

	if (policy_attribute(call, "sasl_username")[0] != '\0' || allowlisted(call, client_address))
		return 0;
	if (mb_client_network(client_address, network, sizeof(network)) < 0)
		return 0; /* not an IP address: not an SMTP client to greylist */
	snprintf(allow_key, sizeof(allow_key), "grey-ok/%s", network);
	if (ctx->greylisting.auto_allow_after > 0) {
		found = mb_state_get(call->store, allow_key, call->now, value, sizeof(value),
				     reason, reason_size);
		if (found < 0)
			return -1;
		if (found > 0 && strtoull(value, NULL, 10) >= ctx->greylisting.auto_allow_after)
			return 0;
	}
	triplet_key(network, policy_attribute(call, "sender"), policy_attribute(call, "recipient"), key, sizeof(key));
	found = mb_state_get(call->store, key, call->now, value, sizeof(value), reason, reason_size);
	if (found < 0)
		return -1;
	if (found == 0 || sscanf(value, "%" SCNd64 " %" SCNd64, &first_seen, &passed) != 2) {
		/* first attempt: remember it for the retry window */
		snprintf(value, sizeof(value), "%" PRId64 " 0", call->now);
		if (mb_state_put(call->store, key, value, call->now + ctx->greylisting.retry_window,
				 reason, reason_size) < 0)
			return -1;
		return greylist_defer(reason, reason_size, ctx->greylisting.delay);
	}
	if (passed == 0 && call->now - first_seen < ctx->greylisting.delay)
		return greylist_defer(reason, reason_size, first_seen + ctx->greylisting.delay - call->now);
	/* a retry after the delay, or a known triplet: pass, and keep it */
	snprintf(value, sizeof(value), "%" PRId64 " 1", first_seen);
	if (mb_state_put(call->store, key, value, call->now + ctx->greylisting.lifetime,
			 reason, reason_size) < 0)
		return -1;
	if (passed == 0 && ctx->greylisting.auto_allow_after > 0 &&
	    mb_state_add(call->store, allow_key, 1, call->now + ctx->greylisting.lifetime, call->now,
			 &count, reason, reason_size) < 0)
		return -1;
	return 0;
}
