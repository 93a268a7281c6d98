/* password.h - password hashes in Dovecot's {SCHEME} form (see password.c). */
#ifndef MAILBAG_PASSWORD_H
#define MAILBAG_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* plain numbers: messages spell them with MB_STRINGIFY */
#define MB_PASSWORD_MIN 8
#define MB_PASSWORD_MAX 1024
#define MB_HASH_MAX 256

/* Call once before hashing (initialises libsodium). Returns 0 or -1. */
int mb_password_init(const char **error_r);

/* Hash a new password as {ARGON2ID}$argon2id$... Returns 0 or -1. */
int mb_password_hash(const char *password, char hash_r[MB_HASH_MAX],
		     const char **error_r);

/* Check that an existing hash is in a scheme Dovecot verifies and mailbag
   accepts: ARGON2ID, ARGON2I, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, MD5-CRYPT.
   Returns 0 or -1 with *error_r naming what is wrong. */
int mb_password_hash_check(const char *hash, const char **error_r);

/* Check a new plain password: length and characters. Returns 0 or -1. */
int mb_password_check_plain(const char *password, const char **error_r);

/* Verify a password against an {ARGON2ID}/{ARGON2I} hash: 1 match,
   0 mismatch, -1 other scheme or broken hash. (Dovecot verifies for the
   mail services; this is for tests and tools.) */
int mb_password_verify_argon2(const char *password, const char *hash);

/* A random password of len characters from an unambiguous alphabet. */
void mb_password_generate(char *buf, size_t len);

#endif
