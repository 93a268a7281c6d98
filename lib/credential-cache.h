/* credential-cache.h - logins verified lately, so a repeat skips the slow hash (see credential-cache.c). */
#ifndef MAILBAG_CREDENTIAL_CACHE_H
#define MAILBAG_CREDENTIAL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error-text.h"

struct mb_credential_cache;

/* A cache of at most entries verified logins, each kept lifetime seconds,
   in locked memory (never swapped, never in a core dump) under a secret
   made here and never written anywhere. -1 when the memory cannot be
   had or locked (the caller then verifies every login). */
int mb_credential_cache_create(size_t entries, int64_t lifetime,
			       struct mb_credential_cache **cache_r, struct mb_error_text *error_r);
void mb_credential_cache_free(struct mb_credential_cache **cache);

/* what it was made with, to tell whether new settings need a new one */
size_t mb_credential_cache_entries(const struct mb_credential_cache *cache);
int64_t mb_credential_cache_lifetime(const struct mb_credential_cache *cache);

/* Whether password was verified against stored_hash for user, no longer
   ago than the lifetime. Only a remembered triple matches: another
   password, or another stored hash (a changed password, another app
   password), never does. */
bool mb_credential_cache_hit(struct mb_credential_cache *cache, const char *user,
			     const char *password, const char *stored_hash, int64_t now);

/* Remember that password was just verified against stored_hash for user.
   Call only after a successful verification. */
void mb_credential_cache_remember(struct mb_credential_cache *cache, const char *user,
				  const char *password, const char *stored_hash, int64_t now);

/* Forget everything (the secret too: a new one is made). */
void mb_credential_cache_clear(struct mb_credential_cache *cache);

#endif
