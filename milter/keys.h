/* keys.h - the DKIM private keys of every domain, parsed once and
   reloaded when their directory changes (see keys.c). */
#ifndef MAILBAG_MILTER_KEYS_H
#define MAILBAG_MILTER_KEYS_H

#include "signer.h"

#include <stddef.h>
#include <time.h>

#define KEYS_PER_DOMAIN 2 /* one RSA, one Ed25519 */

struct keys;

struct keys *keys_new(const char *key_dir);
void keys_free(struct keys **keys);

/* Every key under the directory: -1 (error written, naming the file) when
   one can be read by others than its owner and group, or is no key. The
   milter refuses to start then. */
int keys_check_all(const char *key_dir, char *error, size_t error_size);

/* The keys that sign for domain now: those the domain's rotation.json
   names, else the newest RSA and the newest Ed25519 key by selector
   (dated selectors sort by date). Their EVP_PKEY
   are the caller's to release with keys_release. Returns how many (0:
   the domain has none), or -1 with error written. Thread-safe; looks at
   the directory again at most once a second. */
int keys_for_domain(struct keys *keys, const char *domain, time_t now,
		    struct dkim_signing_key out[KEYS_PER_DOMAIN], char *error, size_t error_size);
void keys_release(struct dkim_signing_key *keys, int count);

#endif
