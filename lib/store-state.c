/* store-state.c - the store's fast-changing state: counters, usage, last logins
 *
 * SUMMARY
 *	Entries with an expiry, apart from the tables and writable even in
 *	a store opened for reading: greylisting, rate and lock-out counters
 *	(through mb_state_*), each mailbox's reported usage ("usage/ADDRESS")
 *	and the day of its last login ("login/ADDRESS", written once a day).
 */
#include "store-internal.h"
#include "state-journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mb_state_get(struct mb_store *store, const char *key, int64_t now,
		 char *value, size_t value_size, char *error, size_t error_size)
{
	if (store->journal != NULL)
		return mb_state_journal_get(store->journal, key, now, value, value_size, error, error_size);
	return store->backend->state_get(store->state, key, now, value, value_size,
					 error, error_size);
}

int mb_state_put(struct mb_store *store, const char *key, const char *value,
		 int64_t expires, char *error, size_t error_size)
{
	if (strlen(value) > MB_STATE_VALUE_MAX) {
		snprintf(error, error_size, "state value of %zu bytes (at most %d allowed)",
			 strlen(value), MB_STATE_VALUE_MAX);
		return -1;
	}
	if (store->journal != NULL)
		return mb_state_journal_put(store->journal, key, value, expires, error, error_size);
	return store->backend->state_put(store->state, key, value, expires, error, error_size);
}

int mb_state_add(struct mb_store *store, const char *key, int64_t delta,
		 int64_t expires, int64_t now, int64_t *value_r,
		 char *error, size_t error_size)
{
	if (store->journal != NULL)
		return mb_state_journal_add(store->journal, key, delta, expires, now, value_r,
					    error, error_size);
	return store->backend->state_add(store->state, key, delta, expires, now, value_r,
					 error, error_size);
}

void mb_store_set_journal(struct mb_store *store, struct mb_state_journal *journal)
{
	store->journal = journal;
}

bool mb_store_waiting(const struct mb_store *store)
{
	return store->journal != NULL && store->journal->blocked;
}

int mb_state_maintain(struct mb_store *store, int64_t now,
		      char *error, size_t error_size)
{
	if (store->backend->state_maintain == NULL)
		return 0;
	return store->backend->state_maintain(store->state, now, error, error_size);
}

int mb_usage_get(struct mb_store *store, const char *address, int64_t now,
		 uint64_t *bytes_r, uint64_t *messages_r, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[64];
	unsigned long long bytes, messages;
	int found;

	snprintf(key, sizeof(key), "usage/%s", address);
	found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);
	if (found <= 0)
		return found;
	if (sscanf(value, "%llu %llu", &bytes, &messages) != 2)
		return 0; /* unreadable: as if never reported; the next report mends it */
	*bytes_r = bytes;
	*messages_r = messages;
	return 1;
}

int mb_usage_put(struct mb_store *store, const char *address, uint64_t bytes,
		 uint64_t messages, int64_t expires, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[64];

	snprintf(key, sizeof(key), "usage/%s", address);
	snprintf(value, sizeof(value), "%llu %llu", (unsigned long long)bytes,
		 (unsigned long long)messages);
	return mb_state_put(store, key, value, expires, error, error_size);
}

#define LAST_LOGIN_LIFETIME (3650LL * 86400) /* kept until the next login */

int mb_last_login_get(struct mb_store *store, const char *address, int64_t now,
		      int64_t *when_r, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int found;

	snprintf(key, sizeof(key), "login/%s", address);
	found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);
	if (found <= 0)
		return found;
	*when_r = strtoll(value, NULL, 10);
	return 1;
}

int mb_last_login_put(struct mb_store *store, const char *address, int64_t when,
		      int64_t now, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int64_t day = when - when % 86400, recorded;
	int found = mb_last_login_get(store, address, now, &recorded, error, error_size);

	if (found < 0)
		return -1;
	if (found > 0 && recorded >= day)
		return 0; /* this day is known: no write */
	snprintf(key, sizeof(key), "login/%s", address);
	snprintf(value, sizeof(value), "%lld", (long long)day);
	return mb_state_put(store, key, value, now + LAST_LOGIN_LIFETIME, error, error_size);
}

