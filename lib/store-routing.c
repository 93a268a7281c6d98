/* store-routing.c - global aliases, relay domains and relay networks
 *
 * SUMMARY
 *	The routing records of store.h: where they live (the aliases
 *	table, under a "domain" starting with '*', which no domain name
 *	can spell, so every backend, the Redis read cache and LMDB's
 *	generation cover them with no migration), what a relay domain's
 *	record holds ({"v", "targets": its recipients, "next_hop",
 *	"created"}, so that a walk over the aliases decodes it as an alias
 *	like any other) and the checks of their changes: a relay domain
 *	is never a domain served here, its recipients are at it, its next
 *	hop is a host Postfix can reach without an MX lookup, a network is
 *	one mb_network_parse reads.
 *
 * DIAGNOSTICS
 *	Every refusal names the input it refused and why.
 */
#include "store-internal.h"

#include "network.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELAY_RECORD_VERSION 1

bool mb_alias_is_routing(const char *source)
{
	const char *at = strrchr(source, '@');

	return at != NULL && at[1] == '*';
}

bool mb_alias_is_global(const char *source)
{
	const char *at = strrchr(source, '@');

	return at != NULL && at != source && strcmp(at + 1, MB_GLOBAL_DOMAIN) == 0;
}

/* global_source - "LOCAL@*" into buf; -1 for what is not a local part */
static int global_source(const char *local, char buf[MB_ADDRESS_MAX + 1], char *error, size_t size)
{
	size_t len = strlen(local);

	if (len == 0 || len > MB_LOCAL_MAX || strchr(local, '@') != NULL) {
		snprintf(error, size, "'%.100s' is not a local part (postmaster, abuse, ...)", local);
		return -1;
	}
	snprintf(buf, MB_ADDRESS_MAX + 1, "%s@%s", local, MB_GLOBAL_DOMAIN);
	return 0;
}

int mb_store_global_alias_get(struct mb_store *store, const char *local,
			      struct mb_alias *alias_r, char *error, size_t size)
{
	char source[MB_ADDRESS_MAX + 1];

	memset(alias_r, 0, sizeof(*alias_r));
	if (global_source(local, source, error, size) < 0)
		return 0;
	return mb_store_alias_get(store, source, alias_r, error, size);
}

int mb_store_global_alias_add(struct mb_store *store, const char *local,
			      const char *const *targets, size_t count, char *error, size_t size)
{
	char source[MB_ADDRESS_MAX + 1];

	if (global_source(local, source, error, size) < 0)
		return -EINVAL;
	return mb_store_alias_add(store, source, targets, count, error, size);
}

int mb_store_global_alias_del(struct mb_store *store, const char *local,
			      const char *const *targets, size_t count, char *error, size_t size)
{
	char source[MB_ADDRESS_MAX + 1];

	if (global_source(local, source, error, size) < 0)
		return -EINVAL;
	int ret = mb_store_alias_del(store, source, targets, count, error, size);
	if (ret == -ENOENT && count == 0)
		snprintf(error, size, "no global alias %s (list them with 'mailbag alias list --global')", local);
	return ret;
}

void mb_store_set_postmaster(struct mb_store *store, const char (*targets)[MB_ADDRESS_MAX + 1],
			     size_t count)
{
	store->postmaster = count > 0 ? targets : NULL;
	store->postmaster_count = targets != NULL ? count : 0;
}

/* Relay domains. */

void mb_relay_domain_clear(struct mb_relay_domain *relay)
{
	for (size_t i = 0; i < relay->recipient_count; i++)
		free(relay->recipients[i]);
	free(relay->recipients);
	memset(relay, 0, sizeof(*relay));
}

bool mb_relay_domain_accepts(const struct mb_relay_domain *relay, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || strcmp(at + 1, relay->name) != 0)
		return false;
	if (relay->recipient_count == 0)
		return true;
	for (size_t i = 0; i < relay->recipient_count; i++) {
		if (strcmp(relay->recipients[i], address) == 0)
			return true;
	}
	return false;
}

/* parse_port - "1".."65535" into *port_r; 0 or -1 */
static int parse_port(const char *text, unsigned long *port_r)
{
	char *end;

	if (text[0] < '0' || text[0] > '9' || strlen(text) > 5)
		return -1;
	*port_r = strtoul(text, &end, 10);
	return *end == '\0' && *port_r >= 1 && *port_r <= 65535 ? 0 : -1;
}

int mb_next_hop_parse(const char *text, char out[MB_NEXT_HOP_MAX + 1], const char **why_r)
{
	char host[MB_DOMAIN_MAX + 1], domain[MB_DOMAIN_MAX + 1];
	const char *port_text = NULL, *end;
	unsigned long port = 25;
	size_t len;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL) {
			*why_r = "a '[' with no ']'";
			return -1;
		}
		len = (size_t)(end - text - 1);
		if (end[1] == ':')
			port_text = end + 2;
		else if (end[1] != '\0') {
			*why_r = "only ':PORT' may follow ']'";
			return -1;
		}
	} else {
		end = strrchr(text, ':');
		len = end != NULL ? (size_t)(end - text) : strlen(text);
		if (end != NULL)
			port_text = end + 1;
		if (memchr(text, ':', len) != NULL) {
			*why_r = "an IPv6 address must be in brackets: [2001:db8::1]:25";
			return -1;
		}
	}
	const char *host_start = text[0] == '[' ? text + 1 : text;
	if (len == 0 || len > MB_DOMAIN_MAX) {
		*why_r = len == 0 ? "no host" : "a host name longer than 253 characters";
		return -1;
	}
	memcpy(host, host_start, len);
	host[len] = '\0';
	if (port_text != NULL && parse_port(port_text, &port) < 0) {
		*why_r = "the port is not a number from 1 to 65535";
		return -1;
	}
	struct in6_addr a6;
	struct in_addr a4;
	const char *domain_why;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (text[0] != '[') {
			*why_r = "an IPv6 address must be in brackets: [2001:db8::1]:25";
			return -1;
		}
		snprintf(out, MB_NEXT_HOP_MAX + 1, "[%s]:%lu", host, port);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a4) == 1) {
		snprintf(out, MB_NEXT_HOP_MAX + 1, "[%s]:%lu", host, port);
		return 0;
	}
	if (mb_domain_parse(host, domain, &domain_why) < 0) {
		*why_r = "the host is neither a host name nor an IP address";
		return -1;
	}
	snprintf(out, MB_NEXT_HOP_MAX + 1, "[%s]:%lu", domain, port);
	return 0;
}

/* relay_source - "DOMAIN@*relay-to" */
static void relay_source(const char *domain, char buf[MB_ADDRESS_MAX + 1])
{
	snprintf(buf, MB_ADDRESS_MAX + 1, "%s@%s", domain, MB_RELAY_TO_DOMAIN);
}

/* decode_relay - a relay record's JSON; 0, or -1 damaged (said in error) */
static int decode_relay(const char *domain, const char *value, size_t len,
			struct mb_relay_domain *relay, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);
	json_t *targets = json_object_get(root, "targets");
	const char *next_hop = json_string_value(json_object_get(root, "next_hop"));
	char checked[MB_NEXT_HOP_MAX + 1];
	const char *why;
	size_t count = json_array_size(targets);

	memset(relay, 0, sizeof(*relay));
	snprintf(relay->name, sizeof(relay->name), "%s", domain);
	if (!json_is_array(targets) || count > MB_ALIAS_MAX_TARGETS ||
	    (next_hop != NULL && next_hop[0] != '\0' && mb_next_hop_parse(next_hop, checked, &why) < 0) ||
	    (relay->recipients = calloc(count + 1, sizeof(char *))) == NULL) {
		json_decref(root);
		return store_corrupt(error, size, "relay domain", domain);
	}
	if (next_hop != NULL && next_hop[0] != '\0')
		snprintf(relay->next_hop, sizeof(relay->next_hop), "%s", checked);
	relay->created = json_integer_value(json_object_get(root, "created"));
	for (size_t i = 0; i < count; i++) {
		const char *t = json_string_value(json_array_get(targets, i));
		if (t == NULL || strlen(t) > MB_ADDRESS_MAX || (relay->recipients[i] = strdup(t)) == NULL) {
			json_decref(root);
			mb_relay_domain_clear(relay);
			return store_corrupt(error, size, "relay domain", domain);
		}
		relay->recipient_count++;
	}
	json_decref(root);
	return 0;
}

static char *encode_relay(const struct mb_relay_domain *relay)
{
	json_t *targets = json_array();
	char *text;

	for (size_t i = 0; i < relay->recipient_count; i++)
		json_array_append_new(targets, json_string(relay->recipients[i]));
	json_t *root = json_pack("{s:i, s:o, s:s, s:I}", "v", RELAY_RECORD_VERSION, "targets", targets,
				 "next_hop", relay->next_hop, "created", (json_int_t)relay->created);
	text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

/* relay_get - read the record at key; 1, 0, -1 */
static int relay_get(struct mb_store *store, const char *domain, struct mb_relay_domain *relay_r,
		     char *error, size_t size)
{
	char source[MB_ADDRESS_MAX + 1], key[MB_ADDRESS_MAX + 2], *value;
	size_t len;

	memset(relay_r, 0, sizeof(*relay_r));
	if (strlen(domain) > MB_DOMAIN_MAX || domain[0] == '\0' || domain[0] == '*')
		return 0;
	relay_source(domain, source);
	if (store_address_key(source, key, sizeof(key), error, size) < 0)
		return 0;
	int ret = store->backend->get(store->state, MB_TABLE_ALIASES, key, &value, &len, error, size);
	if (ret <= 0)
		return ret;
	ret = decode_relay(domain, value, len, relay_r, error, size);
	free(value);
	return ret < 0 ? -1 : 1;
}

int mb_store_relay_domain_get(struct mb_store *store, const char *domain,
			      struct mb_relay_domain *relay_r, char *error, size_t size)
{
	return relay_get(store, domain, relay_r, error, size);
}

/* the write side, as store-write.c's: begin, checks, puts, commit */
static int routing_begin(struct mb_store *store, char *error, size_t size)
{
	if (!store->writable) {
		snprintf(error, size, "the store was opened read-only");
		return -EPERM;
	}
	return store->backend->begin(store->state, error, size) < 0 ? -EIO : 0;
}

static int routing_finish(struct mb_store *store, int ret, char *error, size_t size)
{
	if (ret != 0) {
		store->backend->abort(store->state);
		return ret;
	}
	return store->backend->commit(store->state, error, size) < 0 ? -EIO : 0;
}

/* relay_put - write relay's record (deleting it when delete) */
static int relay_put(struct mb_store *store, const struct mb_relay_domain *relay, bool delete,
		     char *error, size_t size)
{
	char source[MB_ADDRESS_MAX + 1], key[MB_ADDRESS_MAX + 2];

	relay_source(relay->name, source);
	if (store_address_key(source, key, sizeof(key), error, size) < 0)
		return -EINVAL;
	if (delete)
		return store->backend->del(store->state, MB_TABLE_ALIASES, key, error, size) < 0 ? -EIO : 0;
	char *record = encode_relay(relay);
	if (record == NULL) {
		snprintf(error, size, "out of memory");
		return -ENOMEM;
	}
	int ret = store->backend->put(store->state, MB_TABLE_ALIASES, key, record, strlen(record),
				      error, size) < 0 ? -EIO : 0;
	free(record);
	return ret;
}

/* served_here - whether domain is a mailbox domain or a domain alias:
   1 (said in error), 0, -EIO */
static int served_here(struct mb_store *store, const char *domain, char *error, size_t size)
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;
	int ret = mb_store_domain_exists(store, domain, error, size);

	if (ret > 0) {
		snprintf(error, size, "%s is a mailbox domain here; a relay domain is one served elsewhere (delete it with 'mailbag domain del %s' first)",
			 domain, domain);
		return 1;
	}
	if (ret < 0)
		return -EIO;
	snprintf(source, sizeof(source), "@%s", domain);
	ret = mb_store_alias_get(store, source, &alias, error, size);
	if (ret < 0)
		return -EIO;
	if (ret == 0)
		return 0;
	mb_alias_clear(&alias);
	snprintf(error, size, "%s is a domain alias or has a catch-all here; a relay domain is one served elsewhere (delete it with 'mailbag alias del @%s' first)",
		 domain, domain);
	return 1;
}

/* relay_add_recipient - one more address on the list (none twice) */
static int relay_add_recipient(struct mb_relay_domain *relay, const char *address,
			       char *error, size_t size)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || strcmp(at + 1, relay->name) != 0 || strlen(address) > MB_ADDRESS_MAX) {
		snprintf(error, size, "recipient %.320s is not an address at relay domain %s", address, relay->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < relay->recipient_count; i++) {
		if (strcmp(relay->recipients[i], address) == 0)
			return 0;
	}
	if (relay->recipient_count >= MB_ALIAS_MAX_TARGETS) {
		snprintf(error, size, "relay domain %s would have more than %d recipients", relay->name,
			 MB_ALIAS_MAX_TARGETS);
		return -E2BIG;
	}
	char **grown = realloc(relay->recipients, (relay->recipient_count + 2) * sizeof(char *));
	if (grown == NULL || (grown[relay->recipient_count] = strdup(address)) == NULL) {
		if (grown != NULL)
			relay->recipients = grown;
		snprintf(error, size, "out of memory");
		return -ENOMEM;
	}
	relay->recipients = grown;
	relay->recipients[++relay->recipient_count] = NULL;
	return 0;
}

/* relay_change - add (or, removing, take away) in the open transaction */
static int relay_change(struct mb_store *store, const char *domain, const char *const *recipients,
			size_t count, const char *next_hop, bool removing, char *error, size_t size)
{
	struct mb_relay_domain relay;
	const char *why;
	int ret = relay_get(store, domain, &relay, error, size);

	if (ret < 0)
		return -EIO;
	if (removing && ret == 0) {
		snprintf(error, size, "%s is not a relay domain (list them with 'mailbag relay domain list')", domain);
		return -ENOENT;
	}
	if (!removing && ret == 0) {
		int served = served_here(store, domain, error, size);
		if (served != 0)
			return served < 0 ? served : -EEXIST;
		snprintf(relay.name, sizeof(relay.name), "%s", domain);
		relay.created = (int64_t)time(NULL);
	}
	ret = 0;
	if (!removing && next_hop != NULL && next_hop[0] != '\0' &&
	    mb_next_hop_parse(next_hop, relay.next_hop, &why) < 0) {
		snprintf(error, size, "next hop '%.300s' of %s: %s", next_hop, domain, why);
		ret = -EINVAL;
	} else if (!removing && next_hop != NULL && next_hop[0] == '\0') {
		relay.next_hop[0] = '\0';
	}
	for (size_t i = 0; ret == 0 && i < count; i++) {
		if (!removing) {
			ret = relay_add_recipient(&relay, recipients[i], error, size);
			continue;
		}
		size_t j = 0;
		while (j < relay.recipient_count && strcmp(relay.recipients[j], recipients[i]) != 0)
			j++;
		if (j == relay.recipient_count) {
			snprintf(error, size, "relay domain %s has no recipient %.320s", domain, recipients[i]);
			ret = -ENOENT;
			break;
		}
		free(relay.recipients[j]);
		memmove(&relay.recipients[j], &relay.recipients[j + 1],
			(relay.recipient_count - j) * sizeof(char *));
		relay.recipient_count--;
	}
	if (ret == 0)
		ret = relay_put(store, &relay, removing && count == 0, error, size);
	mb_relay_domain_clear(&relay);
	return ret;
}

int mb_store_relay_domain_add(struct mb_store *store, const char *domain,
			      const char *const *recipients, size_t count, const char *next_hop,
			      char *error, size_t size)
{
	char name[MB_DOMAIN_MAX + 1];
	const char *why;

	if (mb_domain_parse(domain, name, &why) < 0 || strcmp(name, domain) != 0) {
		snprintf(error, size, "relay domain '%.260s': %s", domain, strcmp(name, domain) != 0 ? "not in lower case" : why);
		return -EINVAL;
	}
	int ret = routing_begin(store, error, size);
	if (ret < 0)
		return ret;
	return routing_finish(store, relay_change(store, domain, recipients, count, next_hop, false, error, size),
			      error, size);
}

int mb_store_relay_domain_del(struct mb_store *store, const char *domain,
			      const char *const *recipients, size_t count, char *error, size_t size)
{
	int ret = routing_begin(store, error, size);

	if (ret < 0)
		return ret;
	return routing_finish(store, relay_change(store, domain, recipients, count, NULL, true, error, size),
			      error, size);
}

struct relay_walk {
	mb_relay_domain_cb *cb;
	void *context;
	char *error;
	size_t size;
	int failed;
};

static int each_relay(const char *key, size_t key_len, const char *value, size_t len, void *context)
{
	struct relay_walk *w = context;
	struct mb_relay_domain relay;
	char domain[MB_DOMAIN_MAX + 1];
	size_t prefix = strlen(MB_RELAY_TO_DOMAIN) + 1;

	if (key_len <= prefix || key_len - prefix > MB_DOMAIN_MAX)
		return 0;
	memcpy(domain, key + prefix, key_len - prefix);
	domain[key_len - prefix] = '\0';
	if (decode_relay(domain, value, len, &relay, w->error, w->size) < 0) {
		w->failed = 1;
		return 1;
	}
	int ret = w->cb(&relay, w->context);
	mb_relay_domain_clear(&relay);
	return ret;
}

int mb_store_relay_domains_foreach(struct mb_store *store, mb_relay_domain_cb *cb, void *context,
				   char *error, size_t size)
{
	struct relay_walk w = { cb, context, error, size, 0 };

	if (store->backend->foreach(store->state, MB_TABLE_ALIASES, MB_RELAY_TO_DOMAIN "/", each_relay, &w,
				    error, size) < 0)
		return -1;
	return w.failed ? -1 : 0;
}

/* Relay networks: one alias-shaped record, so one read answers a
   client (and the Redis cache keeps it). */

int mb_store_relay_networks_get(struct mb_store *store, struct mb_alias *list_r,
				char *error, size_t size)
{
	return mb_store_alias_get(store, MB_RELAY_FROM_SOURCE, list_r, error, size);
}

int mb_store_relay_network_add(struct mb_store *store, const char *cidr, char *error, size_t size)
{
	struct mb_network net;
	struct mb_alias list;
	const char *why;

	if (mb_network_parse(cidr, &net, &why) < 0) {
		snprintf(error, size, "network '%.100s': %s", cidr, why);
		return -EINVAL;
	}
	int ret = mb_store_relay_networks_get(store, &list, error, size);
	if (ret < 0)
		return -EIO;
	bool present = false;
	for (size_t i = 0; i < list.target_count; i++)
		present = present || strcmp(list.targets[i], cidr) == 0;
	size_t count = list.target_count;
	mb_alias_clear(&list);
	if (present)
		return 0;
	if (count >= MB_RELAY_MAX_NETWORKS) {
		snprintf(error, size, "more than %d relay networks", MB_RELAY_MAX_NETWORKS);
		return -E2BIG;
	}
	return mb_store_alias_add(store, MB_RELAY_FROM_SOURCE, &cidr, 1, error, size);
}

int mb_store_relay_network_del(struct mb_store *store, const char *cidr, char *error, size_t size)
{
	int ret = mb_store_alias_del(store, MB_RELAY_FROM_SOURCE, &cidr, 1, error, size);

	if (ret == -ENOENT)
		snprintf(error, size, "%.100s is not a relay network (list them with 'mailbag relay network list')", cidr);
	return ret;
}

int mb_store_relay_from(struct mb_store *store, const char *client_address, char *error, size_t size)
{
	struct mb_alias list;
	struct mb_network net;
	const char *why;
	int ret = mb_store_relay_networks_get(store, &list, error, size);

	if (ret <= 0)
		return ret;
	ret = 0;
	for (size_t i = 0; ret == 0 && i < list.target_count; i++) {
		if (mb_network_parse(list.targets[i], &net, &why) == 0 && mb_network_contains(&net, client_address))
			ret = 1;
	}
	mb_alias_clear(&list);
	return ret;
}
