/* user-cache.c - decoded user and domain records kept while the store is unchanged
 *
 * SUMMARY
 *	The Dovecot driver looks a user up for every login, every IMAP
 *	session and every delivery. Reading and decoding the record each
 *	time (an LMDB read and a JSON decode, then a second record for the
 *	domain's default limits) cost more than Dovecot's own passwd-file,
 *	which keeps every user in a hash table it re-reads whole when the
 *	file changes. This cache keeps the records it decoded, each with the
 *	store's change generation (mb_store_generation) at the time it was
 *	read: while the generation is the same, nothing in the store has
 *	changed and the decoded record is still what the store holds. Any
 *	change by any process (a new password, a disabled user, a new
 *	quota) moves the generation, and every entry is read again at its
 *	next use: a change is live at the next lookup, as before.
 *
 *	The user table is direct-mapped (one slot per hash of the address,
 *	a newer record replaces an older one), so its size is fixed by slots
 *	whatever the number of users; domains have a small table of their
 *	own. A store without a generation (Redis, whose reads go to the
 *	server every time) is read and decoded on every call.
 *
 *	The generation is read before the record: a change committed in
 *	between leaves the entry under the older number, which the next
 *	lookup sees as stale.
 */
#include "user-cache.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN_SLOTS 64

struct user_slot {
	bool valid;
	uint64_t generation;
	struct mb_user user;
};

struct domain_slot {
	bool valid;
	uint64_t generation;
	int found; /* 1 the record exists, 0 it does not */
	struct mb_domain domain;
};

struct mb_user_cache {
	size_t slot_count;
	struct user_slot *slots;
	struct domain_slot domains[DOMAIN_SLOTS];
	struct mb_user scratch; /* a store without a generation */
};

int mb_user_cache_create(size_t slots, struct mb_user_cache **cache_r, struct mb_error_text *error_r)
{
	struct mb_user_cache *cache = calloc(1, sizeof(*cache));

	*cache_r = NULL;
	if (slots == 0)
		slots = 1;
	if (cache == NULL || (cache->slots = calloc(slots, sizeof(*cache->slots))) == NULL) {
		free(cache);
		return mb_set_error(error_r, "user cache: out of memory for %zu entries", slots);
	}
	cache->slot_count = slots;
	*cache_r = cache;
	return 0;
}

void mb_user_cache_free(struct mb_user_cache **cachep)
{
	struct mb_user_cache *cache = *cachep;

	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->slot_count; i++)
		mb_user_clear(&cache->slots[i].user);
	mb_user_clear(&cache->scratch);
	free(cache->slots);
	free(cache);
	*cachep = NULL;
}

/* FNV-1a: spreads addresses over the slots; not a security boundary
   (a collision only costs a re-read) */
static uint64_t name_hash(const char *name)
{
	uint64_t hash = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		hash ^= *p;
		hash *= 1099511628211ULL;
	}
	return hash;
}

int mb_user_cache_get(struct mb_user_cache *cache, struct mb_store *store, const char *address,
		      const struct mb_user **user_r, char *error, size_t error_size)
{
	uint64_t generation;
	int known = mb_store_generation(store, &generation, error, error_size);

	*user_r = NULL;
	if (known < 0)
		return -1;
	if (known == 0) {
		mb_user_clear(&cache->scratch);
		int ret = mb_store_user_get(store, address, &cache->scratch, error, error_size);
		if (ret > 0)
			*user_r = &cache->scratch;
		return ret;
	}
	struct user_slot *slot = &cache->slots[name_hash(address) % cache->slot_count];
	if (slot->valid && slot->generation == generation && strcmp(slot->user.address, address) == 0) {
		*user_r = &slot->user;
		return 1;
	}
	mb_user_clear(&slot->user);
	slot->valid = false;
	int ret = mb_store_user_get(store, address, &slot->user, error, error_size);
	if (ret <= 0)
		return ret;
	slot->valid = true;
	slot->generation = generation;
	*user_r = &slot->user;
	return 1;
}

/* domain_get - the domain record as mb_store_domain_get, kept by generation */
static int domain_get(struct mb_user_cache *cache, struct mb_store *store, const char *name,
		      const struct mb_domain **domain_r, char *error, size_t error_size)
{
	uint64_t generation;
	int known = mb_store_generation(store, &generation, error, error_size);
	struct domain_slot *slot = &cache->domains[name_hash(name) % DOMAIN_SLOTS];

	*domain_r = NULL;
	if (known < 0)
		return -1;
	if (known > 0 && slot->valid && slot->generation == generation &&
	    strcmp(slot->domain.name, name) == 0) {
		*domain_r = slot->found ? &slot->domain : NULL;
		return slot->found;
	}
	slot->valid = false;
	int found = mb_store_domain_get(store, name, &slot->domain, error, error_size);
	if (found < 0)
		return -1;
	/* an absent domain is kept too (name set for the comparison) */
	if (found == 0)
		snprintf(slot->domain.name, sizeof(slot->domain.name), "%s", name);
	slot->found = found;
	slot->valid = known > 0 && strlen(name) < sizeof(slot->domain.name);
	slot->generation = generation;
	*domain_r = found ? &slot->domain : NULL;
	return found;
}

int mb_user_cache_limits(struct mb_user_cache *cache, const struct mb_context *ctx,
			 struct mb_store *store, const struct mb_user *user,
			 struct mb_limits *limits_r, char *error, size_t error_size)
{
	const struct mb_domain *domain = NULL;
	const char *name = mb_user_limits_domain(user);

	if (name != NULL && domain_get(cache, store, name, &domain, error, error_size) < 0)
		return -1;
	mb_limits_resolve(ctx, domain, user, limits_r);
	return 0;
}
