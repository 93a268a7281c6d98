/* store-internal.h - what the parts of the store share (store*.c, not the backends)
 *
 * The store handle, and the records' codec (store-record.c, with a fast
 * path for user records in record-scan.c): which key a record lives
 * under and what its JSON holds.
 */
#ifndef MAILBAG_STORE_INTERNAL_H
#define MAILBAG_STORE_INTERNAL_H

#include "store.h"
#include "store-backend.h"

#include <stdbool.h>
#include <stddef.h>

struct mb_store {
	const struct mb_store_backend *backend;
	void *state;
	bool writable;
	/* while set, state calls go to it (state-journal.c), not the backend */
	struct mb_state_journal *journal;
	/* the context's postmaster (mb_store_set_postmaster), or count 0 */
	const char (*postmaster)[MB_ADDRESS_MAX + 1];
	size_t postmaster_count;
};

/* "local@domain" -> "domain/local", "@domain" -> "domain/"; 0, or -1
   with error for what is not an address */
int store_address_key(const char *address, char *key, size_t size,
		      char *error, size_t error_size);
/* the inverse of store_address_key */
void store_key_address(const char *key, size_t key_len, char *buf, size_t size);
/* "store record WHAT 'KEY' is damaged" into error; returns -1 */
int store_corrupt(char *error, size_t size, const char *what, const char *key);

/* records to and from their JSON text: decoders 0 or -1 (said in
   error); encoders a malloc'ed string, NULL when out of memory */
int store_decode_domain(const char *domain, const char *value, size_t len,
			struct mb_domain *domain_r, char *error, size_t size);
char *store_encode_domain(const struct mb_domain *domain);
int store_decode_user(const char *key, size_t key_len, const char *value,
		      size_t len, struct mb_user *user, char *error, size_t size);
char *store_encode_user(const struct mb_user *user);
/* store_decode_user's two paths, apart for the tests and the
   differential fuzzer (tests/fuzz/fuzz-user-record-fast.c); everyone
   else calls store_decode_user. fast (record-scan.c): 1 decoded, 0 not
   a record it reads (user untouched: the JSON path decides), -1 damaged
   (said in error), always as the JSON path would answer; json (jansson,
   the decoder of record): 0 or -1 */
int store_decode_user_fast(const char *key, size_t key_len, const char *value,
			   size_t len, struct mb_user *user, char *error, size_t size);
int store_decode_user_json(const char *key, size_t key_len, const char *value,
			   size_t len, struct mb_user *user, char *error, size_t size);
int store_decode_alias(const char *key, size_t key_len, const char *value,
		       size_t len, struct mb_alias *alias, char *error, size_t size);
char *store_encode_alias(const struct mb_alias *alias);

#endif
