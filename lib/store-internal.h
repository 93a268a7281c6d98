/* store-internal.h - what the parts of the store share (store*.c, not the backends)
 *
 * The store handle, and the records' codec (store-record.c): which key a
 * record lives under and what its JSON holds.
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
int store_decode_alias(const char *key, size_t key_len, const char *value,
		       size_t len, struct mb_alias *alias, char *error, size_t size);
char *store_encode_alias(const struct mb_alias *alias);

#endif
