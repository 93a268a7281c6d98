/* redis-cache.c - a bounded read cache of the store's tables
 *
 * SUMMARY
 *	What the Redis backend keeps of the domains, users and aliases it
 *	read, and of the keys it found absent, so that a lookup it already
 *	made is answered without a round trip. It is kept coherent from
 *	outside (store-redis-cache.c drops a table when Redis says the
 *	table changed); this file is only the memory: one chained hash
 *	table per store table, a generation per table, and a bound.
 *
 *	The generation closes the one race of a cache filled by replies: a
 *	read sent before a table was dropped may bring back the value the
 *	drop was about. The reader takes the generation before sending and
 *	hands it to put, which keeps the value only if the table was not
 *	dropped in between.
 *
 *	A table small enough to be held whole is loaded whole and marked
 *	complete: then a key not in it is absent without asking, so a
 *	lookup of an address never seen is local too.
 *
 *	The bound: at max_entries entries, the next insert drops every
 *	table first (the working set comes back in one pass of lookups;
 *	no eviction order to keep per lookup).
 */
#include "redis-cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cache_entry {
	struct cache_entry *next;
	size_t key_len, value_len;
	bool absent;
	char data[]; /* key, NUL, value, NUL */
};

struct cache_table {
	struct cache_entry **buckets;
	uint64_t generation;
	bool complete; /* holds every key of the table: a miss is an absence */
	bool too_big;  /* found too big to hold whole, since the last drop */
};

struct mb_redis_cache {
	struct cache_table tables[MB_REDIS_CACHE_TABLES];
	size_t bucket_count; /* a power of two */
	size_t count, max_entries;
};

/* hash - FNV-1a over the key */
static size_t hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct mb_redis_cache *mb_redis_cache_new(size_t max_entries)
{
	struct mb_redis_cache *cache = calloc(1, sizeof(*cache));
	size_t buckets = 16;

	if (cache == NULL || max_entries == 0) {
		free(cache);
		return NULL;
	}
	while (buckets < max_entries && buckets < ((size_t)1 << 24))
		buckets *= 2;
	cache->bucket_count = buckets;
	cache->max_entries = max_entries;
	for (unsigned t = 0; t < MB_REDIS_CACHE_TABLES; t++) {
		cache->tables[t].buckets = calloc(buckets, sizeof(struct cache_entry *));
		if (cache->tables[t].buckets == NULL) {
			mb_redis_cache_free(&cache);
			return NULL;
		}
	}
	return cache;
}

static void drop_entries(struct mb_redis_cache *cache, struct cache_table *table)
{
	if (table->buckets == NULL)
		return;
	for (size_t b = 0; b < cache->bucket_count; b++) {
		struct cache_entry *e = table->buckets[b], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
			cache->count--;
		}
		table->buckets[b] = NULL;
	}
	table->complete = false;
}

void mb_redis_cache_free(struct mb_redis_cache **cache)
{
	if (*cache == NULL)
		return;
	for (unsigned t = 0; t < MB_REDIS_CACHE_TABLES; t++) {
		drop_entries(*cache, &(*cache)->tables[t]);
		free((*cache)->tables[t].buckets);
	}
	free(*cache);
	*cache = NULL;
}

static struct cache_entry **find(const struct mb_redis_cache *cache, unsigned table, const char *key,
				 size_t key_len)
{
	struct cache_entry **link = &cache->tables[table].buckets[hash(key, key_len) & (cache->bucket_count - 1)];

	for (; *link != NULL; link = &(*link)->next) {
		if ((*link)->key_len == key_len && memcmp((*link)->data, key, key_len) == 0)
			break;
	}
	return link;
}

int mb_redis_cache_get(const struct mb_redis_cache *cache, unsigned table, const char *key,
		       const char **value_r, size_t *len_r)
{
	if (table >= MB_REDIS_CACHE_TABLES)
		return -1;
	struct cache_entry *e = *find(cache, table, key, strlen(key));
	if (e == NULL)
		return cache->tables[table].complete ? 0 : -1;
	if (e->absent)
		return 0;
	*value_r = e->data + e->key_len + 1;
	*len_r = e->value_len;
	return 1;
}

int mb_redis_cache_put(struct mb_redis_cache *cache, unsigned table, uint64_t generation,
		       const char *key, const char *value, size_t len)
{
	size_t key_len = strlen(key);

	if (table >= MB_REDIS_CACHE_TABLES || cache->tables[table].generation != generation)
		return -1;
	if (value == NULL)
		len = 0;
	struct cache_entry **link = find(cache, table, key, key_len);
	if (*link != NULL) {
		struct cache_entry *old = *link;
		*link = old->next;
		free(old);
		cache->count--;
	}
	if (cache->count >= cache->max_entries) {
		for (unsigned t = 0; t < MB_REDIS_CACHE_TABLES; t++)
			drop_entries(cache, &cache->tables[t]); /* generations stay: nothing changed */
		link = find(cache, table, key, key_len);
	}
	struct cache_entry *e = malloc(sizeof(*e) + key_len + len + 2);
	if (e == NULL)
		return -1;
	e->key_len = key_len;
	e->value_len = len;
	e->absent = value == NULL;
	memcpy(e->data, key, key_len + 1);
	if (len > 0)
		memcpy(e->data + key_len + 1, value, len);
	e->data[key_len + 1 + len] = '\0';
	e->next = NULL;
	*link = e;
	cache->count++;
	return 0;
}

uint64_t mb_redis_cache_generation(const struct mb_redis_cache *cache, unsigned table)
{
	return table < MB_REDIS_CACHE_TABLES ? cache->tables[table].generation : 0;
}

void mb_redis_cache_drop(struct mb_redis_cache *cache, unsigned table)
{
	if (table >= MB_REDIS_CACHE_TABLES)
		return;
	drop_entries(cache, &cache->tables[table]);
	cache->tables[table].generation++;
	cache->tables[table].too_big = false;
}

void mb_redis_cache_drop_all(struct mb_redis_cache *cache)
{
	for (unsigned t = 0; t < MB_REDIS_CACHE_TABLES; t++)
		mb_redis_cache_drop(cache, t);
}

size_t mb_redis_cache_count(const struct mb_redis_cache *cache)
{
	return cache->count;
}

size_t mb_redis_cache_room(const struct mb_redis_cache *cache)
{
	return cache->max_entries - cache->count;
}

int mb_redis_cache_whole(const struct mb_redis_cache *cache, unsigned table)
{
	if (table >= MB_REDIS_CACHE_TABLES)
		return -1;
	return cache->tables[table].complete ? 1 : cache->tables[table].too_big ? -1 : 0;
}

void mb_redis_cache_mark_whole(struct mb_redis_cache *cache, unsigned table, uint64_t generation,
			       bool whole)
{
	if (table >= MB_REDIS_CACHE_TABLES || cache->tables[table].generation != generation)
		return;
	if (whole)
		cache->tables[table].complete = true;
	else
		cache->tables[table].too_big = true;
}
