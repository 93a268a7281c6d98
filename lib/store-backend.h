/* store-backend.h - what a store backend implements
 *
 * A backend is a small ordered key-value store with three tables and
 * transactions; store.c keeps every rule about records on top of it, so a
 * second backend (Redis) implements only these calls. Keys are
 * "domain/local" for users and aliases ("domain/" for a catch-all) so that
 * one domain's entries are one prefix. Values are opaque bytes.
 */
#ifndef MAILBAG_STORE_BACKEND_H
#define MAILBAG_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h" /* MB_STATE_KEY_MAX, MB_STATE_VALUE_MAX */

enum mb_table {
	MB_TABLE_DOMAINS,
	MB_TABLE_USERS,
	MB_TABLE_ALIASES,
	MB_TABLE_COUNT
};

/* returns 0 to go on, non-zero to stop */
typedef int mb_kv_cb(const char *key, size_t key_len, const char *value,
		     size_t value_len, void *context);

struct mb_store_backend {
	/* the schemes of the locations it serves: "lmdb"; "redis", "unix"
	   and "sentinel" */
	const char *schemes[3];
	/* location: the whole "scheme:...". create: make an empty store. */
	int (*open)(const char *location, bool writable, bool create,
		    void **state_r, char *error, size_t error_size);
	void (*close)(void *state);
	/* 1 found (*value_r malloc'ed, NUL-terminated), 0 not found, -1 */
	int (*get)(void *state, enum mb_table table, const char *key,
		   char **value_r, size_t *len_r, char *error, size_t error_size);
	/* inside begin..commit, get and foreach see the transaction */
	int (*begin)(void *state, char *error, size_t error_size);
	int (*put)(void *state, enum mb_table table, const char *key,
		   const char *value, size_t len, char *error, size_t error_size);
	/* 1 deleted, 0 was not there, -1 */
	int (*del)(void *state, enum mb_table table, const char *key,
		   char *error, size_t error_size);
	int (*commit)(void *state, char *error, size_t error_size);
	void (*abort)(void *state);
	/* every key starting with prefix ("" for all), in key order */
	int (*foreach)(void *state, enum mb_table table, const char *prefix,
		       mb_kv_cb *cb, void *context, char *error, size_t error_size);

	/* Fast-changing state with expiry (rate counters, greylist
	   entries), apart from the tables and writable even when the store
	   was opened for reading. Keys are at most MB_STATE_KEY_MAX bytes,
	   values at most MB_STATE_VALUE_MAX; times are unix seconds. Each
	   call is atomic on its own. */
	/* 1 found (value NUL-terminated), 0 absent or expired, -1 */
	int (*state_get)(void *state, const char *key, int64_t now,
			 char *value, size_t value_size, char *error, size_t error_size);
	int (*state_put)(void *state, const char *key, const char *value,
			 int64_t expires, char *error, size_t error_size);
	/* Add delta to a counter. An absent or expired counter starts from
	   0 and expires at `expires`; a live one keeps its expiry. */
	int (*state_add)(void *state, const char *key, int64_t delta, int64_t expires,
			 int64_t now, int64_t *value_r, char *error, size_t error_size);
	/* Housekeeping, called about once a second by daemons that write
	   state: drop some expired entries, flush to disk. NULL if the
	   backend expires entries itself. */
	int (*state_maintain)(void *state, int64_t now, char *error, size_t error_size);

	/* Keep a read cache of the tables of at most max_entries entries,
	   coherent with every other client's changes (store-redis-cache.c).
	   NULL for a backend whose reads are local already. 0 or -1. */
	int (*cache_enable)(void *state, size_t max_entries, char *error, size_t error_size);

	/* A number that changes whenever a record of the tables (not the
	   state) changed, by any writer: a reader may keep what it decoded
	   for as long as the number stays. NULL for a backend that has no
	   such number (Redis). 0 or -1. */
	int (*generation)(void *state, uint64_t *generation_r, char *error, size_t error_size);
};


extern const struct mb_store_backend mb_store_backend_lmdb;
extern const struct mb_store_backend mb_store_backend_redis;

#endif
