/* canon.h - DKIM "relaxed" canonicalization (RFC 6376 3.4.2, 3.4.4). */
#ifndef MAILBAG_MILTER_CANON_H
#define MAILBAG_MILTER_CANON_H

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The relaxed form of one header, "name:value" with CRLF when crlf is
   set, into out, which holds name_len + value_len + 3 bytes. Returns its
   length. Folding (CR, LF) is removed, runs of spaces and tabs become one
   space, and the value loses its leading and trailing whitespace. */
size_t canon_header_relaxed(const char *name, size_t name_len, const char *value, size_t value_len,
			    bool crlf, char *out);

/* The relaxed body, hashed with SHA-256 as it streams by: whitespace runs
   become one space, whitespace at line ends and empty lines at the end go,
   a last line without CRLF gets one. */
struct canon_body {
	EVP_MD_CTX *md;
	uint64_t empty_lines;   /* empty lines held back: the end drops them */
	bool pending_space;     /* whitespace seen, written before the next character */
	bool line_has_content;
	bool pending_cr;        /* a CR whose LF may follow */
	unsigned char out[4096];
	size_t used;
};

/* 0, or -1 when OpenSSL cannot give a digest context */
int canon_body_init(struct canon_body *body);
void canon_body_update(struct canon_body *body, const unsigned char *data, size_t len);
/* The SHA-256 of the canonical body; the context is freed. */
void canon_body_final(struct canon_body *body, unsigned char digest[SHA256_DIGEST_LENGTH]);
void canon_body_free(struct canon_body *body);

#endif
