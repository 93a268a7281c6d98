/* redis-cache.h - a bounded read cache of the store's tables (see redis-cache.c). */
#ifndef MAILBAG_REDIS_CACHE_H
#define MAILBAG_REDIS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tables are numbered 0 .. MB_REDIS_CACHE_TABLES - 1 (enum mb_table) */
#define MB_REDIS_CACHE_TABLES 3

struct mb_redis_cache;

/* A cache holding at most max_entries entries (> 0), or NULL when out
   of memory. */
struct mb_redis_cache *mb_redis_cache_new(size_t max_entries);
void mb_redis_cache_free(struct mb_redis_cache **cache);

/* 1 a value (*value_r points into the cache until the next change of
   it, NUL-terminated), 0 known to be absent, -1 not cached. */
int mb_redis_cache_get(const struct mb_redis_cache *cache, unsigned table, const char *key,
		       const char **value_r, size_t *len_r);
/* Remember key's value (NULL: absent) as read at generation (see
   mb_redis_cache_generation): a value read before the table was last
   dropped is not kept. 0 kept, -1 not kept (stale, or out of memory). */
int mb_redis_cache_put(struct mb_redis_cache *cache, unsigned table, uint64_t generation,
		       const char *key, const char *value, size_t len);
/* How many times the table was dropped: taken before a read is sent. */
uint64_t mb_redis_cache_generation(const struct mb_redis_cache *cache, unsigned table);
/* Forget one table (an invalidation named it), or every table. */
void mb_redis_cache_drop(struct mb_redis_cache *cache, unsigned table);
void mb_redis_cache_drop_all(struct mb_redis_cache *cache);
size_t mb_redis_cache_count(const struct mb_redis_cache *cache);
/* How many more entries fit. */
size_t mb_redis_cache_room(const struct mb_redis_cache *cache);

/* Whether the table is held whole (1: a key not cached is absent), was
   found too big to be since it was last dropped (-1), or neither (0:
   worth loading whole). */
int mb_redis_cache_whole(const struct mb_redis_cache *cache, unsigned table);
/* After putting every key of the table read at generation: whole true
   marks it complete; false remembers it was too big. Ignored when the
   table was dropped since generation. */
void mb_redis_cache_mark_whole(struct mb_redis_cache *cache, unsigned table, uint64_t generation,
			       bool whole);

#endif
