/* store-redis-cache.h - the Redis backend's coherent read cache (see store-redis-cache.c). */
#ifndef MAILBAG_STORE_REDIS_CACHE_H
#define MAILBAG_STORE_REDIS_CACHE_H

#include <stddef.h>

struct mb_redis_cache;
struct mb_redis_location;
struct redis_tracking;

/* A cache of at most max_entries entries for the store at loc (copied),
   kept by its own connection; NULL when out of memory. Connecting is
   left to the first redis_tracking_cache(). */
struct redis_tracking *redis_tracking_new(const struct mb_redis_location *loc,
					  const char *const table_keys[], size_t max_entries);
void redis_tracking_free(struct redis_tracking **tracking);

/* The cache if it may answer now: every invalidation Redis sent has been
   read and the invalidation connection is up. NULL when it is down (the
   cache is then empty, and is filled again only once it is back). */
struct mb_redis_cache *redis_tracking_cache(struct redis_tracking *tracking);

/* The invalidation connection's descriptor (-1 when down), for an event
   loop to watch; redis_tracking_read() when it is readable. */
int redis_tracking_fd(const struct redis_tracking *tracking);
void redis_tracking_read(struct redis_tracking *tracking);

#endif
