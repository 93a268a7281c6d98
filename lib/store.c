/* store.c - domains, users and aliases behind one API
 *
 * SUMMARY
 *	The rules of the store, whatever the backend: what a record holds
 *	(JSON, versioned, so a field can be added without a migration),
 *	which key it lives under, and which changes are refused (a user on
 *	a domain not served, a duplicate, an alias loop onto itself). The
 *	backend (store-backend.h) only keeps bytes under keys; each public
 *	change here is one backend transaction, so readers see it whole or
 *	not at all.
 *
 *	This file opens a store and reads it: single records and walks
 *	over a table. The records' JSON is store-record.c's, the changes
 *	store-write.c's, routing store-route.c's (global aliases, relay
 *	domains and networks store-routing.c's), the expiring state
 *	store-state.c's.
 *
 *	Callers pass addresses already normalised by address.c; the store
 *	checks the shape again and refuses anything else, because a key in a
 *	second spelling would be a user nobody can reach.
 */
#include "store-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mb_store_backend *const backends[] = {
	&mb_store_backend_lmdb,
	&mb_store_backend_redis,
};

/* serves - whether backend b serves the scheme of location (before colon) */
static bool serves(const struct mb_store_backend *b, const char *location, const char *colon)
{
	size_t len = (size_t)(colon - location);

	for (size_t i = 0; i < sizeof(b->schemes) / sizeof(b->schemes[0]); i++) {
		if (b->schemes[i] != NULL && strlen(b->schemes[i]) == len &&
		    strncmp(location, b->schemes[i], len) == 0)
			return true;
	}
	return false;
}

int mb_store_open(const char *location, enum mb_store_mode mode,
		  struct mb_store **store_r, char *error, size_t error_size)
{
	const char *colon = strchr(location, ':');
	struct mb_store *store;

	*store_r = NULL;
	for (size_t i = 0; colon != NULL && i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct mb_store_backend *b = backends[i];

		if (!serves(b, location, colon))
			continue;
		store = calloc(1, sizeof(*store));
		if (store == NULL) {
			snprintf(error, error_size, "out of memory");
			return -1;
		}
		store->backend = b;
		store->writable = mode != MB_STORE_READ;
		if (b->open(location, store->writable, mode == MB_STORE_CREATE,
			    &store->state, error, error_size) < 0) {
			free(store);
			return -1;
		}
		*store_r = store;
		return 0;
	}
	/* only the scheme: the rest may hold a password */
	snprintf(error, error_size, "unknown store location scheme '%.*s': expected lmdb:/DIR, redis://HOST[:PORT][/DB], unix:/PATH or sentinel://HOST[:PORT],.../MASTER",
		 colon != NULL && colon - location < 20 ? (int)(colon - location) : 20, location);
	return -1;
}

int mb_store_enable_cache(struct mb_store *store, size_t max_entries, char *error, size_t error_size)
{
	if (store->backend->cache_enable == NULL)
		return 0;
	return store->backend->cache_enable(store->state, max_entries, error, error_size);
}

int mb_store_generation(struct mb_store *store, uint64_t *generation_r, char *error, size_t error_size)
{
	if (store->backend->generation == NULL)
		return 0;
	return store->backend->generation(store->state, generation_r, error, error_size) < 0 ? -1 : 1;
}

void mb_store_close(struct mb_store **storep)
{
	struct mb_store *store = *storep;

	if (store == NULL)
		return;
	store->backend->close(store->state);
	free(store);
	*storep = NULL;
}

int mb_store_domain_exists(struct mb_store *store, const char *domain,
			   char *error, size_t error_size)
{
	char *value;
	size_t len;
	int ret = store->backend->get(store->state, MB_TABLE_DOMAINS, domain,
				      &value, &len, error, error_size);
	free(value);
	return ret;
}

int mb_store_domain_get(struct mb_store *store, const char *domain,
			struct mb_domain *domain_r, char *error, size_t error_size)
{
	char *value;
	size_t len;
	int ret;

	memset(domain_r, 0, sizeof(*domain_r));
	if (strlen(domain) > MB_DOMAIN_MAX)
		return 0;
	ret = store->backend->get(store->state, MB_TABLE_DOMAINS, domain, &value, &len,
				  error, error_size);
	if (ret <= 0)
		return ret;
	ret = store_decode_domain(domain, value, len, domain_r, error, error_size);
	free(value);
	return ret < 0 ? -1 : 1;
}

int mb_store_user_get(struct mb_store *store, const char *address,
		      struct mb_user *user_r, char *error, size_t error_size)
{
	char key[MB_ADDRESS_MAX + 2], *value;
	size_t len;
	int ret;

	memset(user_r, 0, sizeof(*user_r));
	if (store_address_key(address, key, sizeof(key), error, error_size) < 0)
		return 0; /* no such spelling can be stored */
	ret = store->backend->get(store->state, MB_TABLE_USERS, key, &value,
				  &len, error, error_size);
	if (ret <= 0)
		return ret;
	ret = store_decode_user(key, strlen(key), value, len, user_r, error, error_size);
	free(value);
	return ret < 0 ? -1 : 1;
}

int mb_store_user_find(struct mb_store *store, const char *address, const char *delimiters,
		       struct mb_user *user_r, char *error, size_t error_size)
{
	struct mb_address parsed;
	const char *why;
	char normal[MB_ADDRESS_MAX + 1];

	memset(user_r, 0, sizeof(*user_r));
	if (mb_address_parse(address, NULL, &parsed, &why) < 0)
		return 0;
	mb_address_format(&parsed, normal, sizeof(normal));
	int ret = mb_store_user_get(store, normal, user_r, error, error_size);
	if (ret != 0 || delimiters == NULL || delimiters[0] == '\0' ||
	    mb_address_parse(address, delimiters, &parsed, &why) < 0 || !parsed.has_detail)
		return ret;
	mb_address_format(&parsed, normal, sizeof(normal));
	return mb_store_user_get(store, normal, user_r, error, error_size);
}

int mb_store_alias_get(struct mb_store *store, const char *source,
		       struct mb_alias *alias_r, char *error, size_t error_size)
{
	char key[MB_ADDRESS_MAX + 2], *value;
	size_t len;
	int ret;

	memset(alias_r, 0, sizeof(*alias_r));
	if (store_address_key(source, key, sizeof(key), error, error_size) < 0)
		return 0;
	ret = store->backend->get(store->state, MB_TABLE_ALIASES, key, &value,
				  &len, error, error_size);
	if (ret <= 0)
		return ret;
	ret = store_decode_alias(key, strlen(key), value, len, alias_r, error, error_size);
	free(value);
	return ret < 0 ? -1 : 1;
}

/* Iteration: decode each record and hand it to the caller's callback. */

struct iter_context {
	mb_domain_cb *domain_cb;
	mb_user_cb *user_cb;
	mb_alias_cb *alias_cb;
	void *context;
	char *error;
	size_t error_size;
	int failed;
};

static int iter_domain(const char *key, size_t key_len, const char *value,
		       size_t len, void *context)
{
	struct iter_context *it = context;
	char domain[MB_DOMAIN_MAX + 1];

	snprintf(domain, sizeof(domain), "%.*s", (int)key_len, key);
	return it->domain_cb(domain, it->context);
}

static int iter_user(const char *key, size_t key_len, const char *value,
		     size_t len, void *context)
{
	struct iter_context *it = context;
	struct mb_user user;
	int ret;

	if (store_decode_user(key, key_len, value, len, &user, it->error, it->error_size) < 0) {
		it->failed = 1;
		return 1;
	}
	ret = it->user_cb(&user, it->context);
	mb_user_clear(&user);
	return ret;
}

static int iter_alias(const char *key, size_t key_len, const char *value,
		      size_t len, void *context)
{
	struct iter_context *it = context;
	struct mb_alias alias;
	int ret;

	if (store_decode_alias(key, key_len, value, len, &alias, it->error, it->error_size) < 0) {
		it->failed = 1;
		return 1;
	}
	ret = it->alias_cb(&alias, it->context);
	mb_alias_clear(&alias);
	return ret;
}

static int run_foreach(struct mb_store *store, enum mb_table table,
		       const char *domain, mb_kv_cb *kv_cb,
		       struct iter_context *it)
{
	char prefix[MB_DOMAIN_MAX + 2] = "";

	if (domain != NULL)
		snprintf(prefix, sizeof(prefix), "%s/", domain);
	if (store->backend->foreach(store->state, table, prefix, kv_cb, it,
				    it->error, it->error_size) < 0)
		return -1;
	return it->failed ? -1 : 0;
}

int mb_store_domains_foreach(struct mb_store *store, mb_domain_cb *cb,
			     void *context, char *error, size_t error_size)
{
	struct iter_context it = { .domain_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_DOMAINS, NULL, iter_domain, &it);
}

int mb_store_users_foreach(struct mb_store *store, const char *domain,
			   mb_user_cb *cb, void *context,
			   char *error, size_t error_size)
{
	struct iter_context it = { .user_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_USERS, domain, iter_user, &it);
}

int mb_store_aliases_foreach(struct mb_store *store, const char *domain,
			     mb_alias_cb *cb, void *context,
			     char *error, size_t error_size)
{
	struct iter_context it = { .alias_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_ALIASES, domain, iter_alias, &it);
}
