/* signer.h - DKIM signatures (RFC 6376, RFC 8463) made with keys kept
   parsed in memory (see signer.c). */
#ifndef MAILBAG_MILTER_SIGNER_H
#define MAILBAG_MILTER_SIGNER_H

#include "dkim-rotation.h" /* MB_DKIM_SELECTOR_MAX */
#include "headers.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <time.h>

/* room for a DKIM-Signature value, folded (an RSA-4096 signature alone
   is 683 characters of base64) */
#define SIGNER_VALUE_SIZE 4096
/* octets of one signature: RSA keys up to 8192 bits */
#define SIGNER_SIGNATURE_MAX 1024
/* room for the h= list of the fields signed */
#define SIGNER_NAMES_SIZE 2048

enum dkim_algorithm { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

struct dkim_signing_key {
	char domain[MB_DOMAIN_MAX + 1];
	char selector[MB_DKIM_SELECTOR_MAX + 1];
	enum dkim_algorithm algorithm;
	EVP_PKEY *pkey;
};

/* The value of a DKIM-Signature field (without the name and colon,
   folded with "\n\t" as Postfix wants from a milter) signing headers,
   relaxed/relaxed, with the body's hash. The fields signed are those
   of signer_header_names present in the message; the ones of
   signer_oversigned are named once more, so that none can be added
   later. Returns the value's length, or -1 with error written. */
int signer_sign(const struct dkim_signing_key *key, const struct header_list *headers,
		const unsigned char body_hash[SHA256_DIGEST_LENGTH], time_t now,
		char *out, size_t out_size, char *error, size_t error_size);

/* The same, with the h= list given ("from:to:subject"), for tests. */
int signer_sign_listed(const struct dkim_signing_key *key, const struct header_list *headers,
		       const char *header_list, const unsigned char body_hash[SHA256_DIGEST_LENGTH], time_t now,
		       char *out, size_t out_size, char *error, size_t error_size);

const char *signer_algorithm_name(enum dkim_algorithm algorithm);

#endif
