/* user-cache.h - decoded user and domain records kept while the store is unchanged (see user-cache.c). */
#ifndef MAILBAG_USER_CACHE_H
#define MAILBAG_USER_CACHE_H

#include <stddef.h>

#include "account.h"
#include "error-text.h"
#include "store.h"

struct mb_user_cache;

/* A cache of at most slots users (and a few domains). -1: no memory. */
int mb_user_cache_create(size_t slots, struct mb_user_cache **cache_r, struct mb_error_text *error_r);
void mb_user_cache_free(struct mb_user_cache **cache);

/* The user at address (normalised, as mb_store_user_get takes it), as
   the store holds it now: 1 found with *user_r pointing into the cache
   (valid until the next call; do not clear it), 0 unknown, -1 failure
   (error). A store without a change generation is read every time. */
int mb_user_cache_get(struct mb_user_cache *cache, struct mb_store *store, const char *address,
		      const struct mb_user **user_r, char *error, size_t error_size);

/* mb_user_limits with the domain record kept the same way. 0 or -1. */
int mb_user_cache_limits(struct mb_user_cache *cache, const struct mb_context *ctx,
			 struct mb_store *store, const struct mb_user *user,
			 struct mb_limits *limits_r, char *error, size_t error_size);

#endif
