/* credential-cache.c - logins verified lately, so a repeat skips the slow hash
 *
 * SUMMARY
 *	Mail clients log in again and again with the same password, and each
 *	login would pay a full SHA512-CRYPT or Argon2id verification in
 *	Dovecot's auth process. After a verification succeeds, the Dovecot
 *	driver remembers the triple (user, password, stored hash) here; the
 *	next login with the same triple within the lifetime is known to
 *	verify, without the hash.
 *
 *	What is kept is not the password: each entry is a 32-byte keyed
 *	BLAKE2b (libsodium's crypto_generichash) of the user, the password
 *	and the stored hash, under a 32-byte secret made at creation from
 *	the system's random source and never written anywhere, and the time
 *	it was verified. The stored hash is part of the key, so a changed
 *	password or a removed app password cannot match an old entry: the
 *	caller reads the record from the store on every login and asks with
 *	what the store holds now. A wrong password is never remembered, so
 *	it always goes through the full verification (same answer, same
 *	delay).
 *
 *	The table is set-associative: entries / 8 sets of 8 ways, a key's
 *	set chosen by its first bytes; a new entry takes an empty or expired
 *	way, else the oldest. Bounded, no allocation after creation.
 *
 * SECURITY
 *	The table and the secret live in memory locked with sodium_mlock
 *	(never swapped out, excluded from core dumps); creation fails when
 *	the memory cannot be locked, and the caller then works without a
 *	cache. Keys are compared in constant time. Freeing wipes the memory.
 */
#include "credential-cache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CACHE_WAYS 8
#define CACHE_KEY_BYTES 32

struct cache_entry {
	unsigned char key[CACHE_KEY_BYTES];
	int64_t verified_at; /* unix seconds; 0: empty */
};

/* everything secret is in one locked mapping */
struct cache_memory {
	unsigned char secret[crypto_generichash_KEYBYTES];
	struct cache_entry entries[];
};

struct mb_credential_cache {
	struct cache_memory *memory;
	size_t memory_size;
	size_t sets;
	size_t requested; /* the entries asked for (sets * 8 may be more) */
	int64_t lifetime;
};

static void new_secret(struct mb_credential_cache *cache)
{
	randombytes_buf(cache->memory->secret, sizeof(cache->memory->secret));
}

int mb_credential_cache_create(size_t entries, int64_t lifetime,
			       struct mb_credential_cache **cache_r, struct mb_error_text *error_r)
{
	struct mb_credential_cache *cache;
	size_t sets = (entries + CACHE_WAYS - 1) / CACHE_WAYS;

	*cache_r = NULL;
	if (sodium_init() < 0)
		return mb_set_error(error_r, "credential cache: libsodium failed to initialise");
	if (sets == 0 || lifetime <= 0)
		return mb_set_error(error_r, "credential cache: needs at least one entry and a lifetime");
	if (sets > SIZE_MAX / CACHE_WAYS / sizeof(struct cache_entry) / 2)
		return mb_set_error(error_r, "credential cache: %zu entries is too many", entries);
	cache = calloc(1, sizeof(*cache));
	if (cache == NULL)
		return mb_set_error(error_r, "credential cache: out of memory");
	cache->sets = sets;
	cache->requested = entries;
	cache->lifetime = lifetime;
	cache->memory_size = sizeof(struct cache_memory) + sets * CACHE_WAYS * sizeof(struct cache_entry);
	void *memory = mmap(NULL, cache->memory_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED) {
		size_t size = cache->memory_size;
		free(cache);
		return mb_set_error(error_r, "credential cache: cannot map %zu bytes: %m", size);
	}
	if (sodium_mlock(memory, cache->memory_size) != 0) {
		size_t size = cache->memory_size;
		munmap(memory, size);
		free(cache);
		return mb_set_error(error_r, "credential cache: cannot lock %zu bytes of memory (%m; "
				    "RLIMIT_MEMLOCK, `ulimit -l`): logins are verified every time; "
				    "lower auth.credential_cache_entries or raise the limit", size);
	}
	cache->memory = memory; /* mmap'ed memory is zero: every way empty */
	new_secret(cache);
	*cache_r = cache;
	return 0;
}

void mb_credential_cache_free(struct mb_credential_cache **cachep)
{
	struct mb_credential_cache *cache = *cachep;

	if (cache == NULL)
		return;
	sodium_munlock(cache->memory, cache->memory_size); /* wipes it */
	munmap(cache->memory, cache->memory_size);
	free(cache);
	*cachep = NULL;
}

size_t mb_credential_cache_entries(const struct mb_credential_cache *cache)
{
	return cache->requested;
}

int64_t mb_credential_cache_lifetime(const struct mb_credential_cache *cache)
{
	return cache->lifetime;
}

void mb_credential_cache_clear(struct mb_credential_cache *cache)
{
	sodium_memzero(cache->memory->entries, cache->sets * CACHE_WAYS * sizeof(struct cache_entry));
	new_secret(cache);
}

/* hash_part - one length-prefixed part of the key, so that parts cannot
   run into each other ("ab" + "c" differs from "a" + "bc") */
static void hash_part(crypto_generichash_state *state, const char *part)
{
	uint64_t len = strlen(part);
	unsigned char prefix[8];

	for (int i = 0; i < 8; i++)
		prefix[i] = (unsigned char)(len >> (8 * i));
	crypto_generichash_update(state, prefix, sizeof(prefix));
	crypto_generichash_update(state, (const unsigned char *)part, len);
}

static void entry_key(const struct mb_credential_cache *cache, const char *user,
		      const char *password, const char *stored_hash,
		      unsigned char key[CACHE_KEY_BYTES])
{
	crypto_generichash_state state;

	crypto_generichash_init(&state, cache->memory->secret, sizeof(cache->memory->secret),
				CACHE_KEY_BYTES);
	hash_part(&state, user);
	hash_part(&state, password);
	hash_part(&state, stored_hash);
	crypto_generichash_final(&state, key, CACHE_KEY_BYTES);
	sodium_memzero(&state, sizeof(state));
}

static struct cache_entry *key_set(const struct mb_credential_cache *cache,
				   const unsigned char key[CACHE_KEY_BYTES])
{
	uint64_t index = 0;

	for (int i = 0; i < 8; i++)
		index = (index << 8) | key[i];
	return &cache->memory->entries[(index % cache->sets) * CACHE_WAYS];
}

/* live - verified no longer ago than the lifetime (a clock stepped back
   past the verification counts as expired) */
static bool live(const struct mb_credential_cache *cache, const struct cache_entry *entry,
		 int64_t now)
{
	return entry->verified_at != 0 && entry->verified_at <= now &&
		now - entry->verified_at < cache->lifetime;
}

bool mb_credential_cache_hit(struct mb_credential_cache *cache, const char *user,
			     const char *password, const char *stored_hash, int64_t now)
{
	unsigned char key[CACHE_KEY_BYTES];
	bool hit = false;

	entry_key(cache, user, password, stored_hash, key);
	struct cache_entry *set = key_set(cache, key);
	for (int way = 0; way < CACHE_WAYS; way++) {
		/* every way compared, in constant time */
		if (sodium_memcmp(set[way].key, key, CACHE_KEY_BYTES) == 0 && live(cache, &set[way], now))
			hit = true;
	}
	sodium_memzero(key, sizeof(key));
	return hit;
}

void mb_credential_cache_remember(struct mb_credential_cache *cache, const char *user,
				  const char *password, const char *stored_hash, int64_t now)
{
	unsigned char key[CACHE_KEY_BYTES];
	struct cache_entry *victim = NULL;

	entry_key(cache, user, password, stored_hash, key);
	struct cache_entry *set = key_set(cache, key);
	for (int way = 0; way < CACHE_WAYS && victim == NULL; way++) {
		if (sodium_memcmp(set[way].key, key, CACHE_KEY_BYTES) == 0)
			victim = &set[way];
	}
	for (int way = 0; way < CACHE_WAYS && victim == NULL; way++) {
		if (!live(cache, &set[way], now))
			victim = &set[way];
	}
	if (victim == NULL) {
		/* all live: the oldest makes room */
		victim = &set[0];
		for (int way = 1; way < CACHE_WAYS; way++) {
			if (set[way].verified_at < victim->verified_at)
				victim = &set[way];
		}
	}
	memcpy(victim->key, key, CACHE_KEY_BYTES);
	victim->verified_at = now;
	sodium_memzero(key, sizeof(key));
}
