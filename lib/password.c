/* password.c - password hashes in Dovecot's {SCHEME} form
 *
 * SUMMARY
 *	mailbag never verifies a mail login itself: the store holds the hash
 *	and Dovecot's auth process checks the password against it, so the
 *	hash must be in a scheme Dovecot 2.3 knows. New passwords become
 *	{ARGON2ID} (libsodium's crypto_pwhash_str, the same encoding
 *	Dovecot's ARGON2ID scheme reads); hashes imported from the setups we
 *	replace ({SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}) are kept as
 *	they are after a check of their shape.
 *
 * SECURITY
 *	Plain passwords are never logged or kept; callers wipe their copies
 *	with sodium_memzero().
 */
#include "password.h"
#include "stringify.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

struct scheme_shape {
	const char *prefix;    /* "{SCHEME}" */
	const char *magic;     /* what the encoded hash starts with */
	size_t min_tail;       /* shortest plausible rest */
};

static const struct scheme_shape accepted_schemes[] = {
	{ "{ARGON2ID}", "$argon2id$", 40 },
	{ "{ARGON2I}", "$argon2i$", 40 },
	{ "{SHA512-CRYPT}", "$6$", 86 },
	{ "{SHA256-CRYPT}", "$5$", 43 },
	{ "{BLF-CRYPT}", "$2", 57 },
	/* Courier's and Mail-o-Rama's older systempw, kept so the old
	   password logs in (mailbag itself never makes one) */
	{ "{MD5-CRYPT}", "$1$", 23 },
	/* the dockerised Postfix+Dovecot seed's user.sh default (doveadm pw
	   -s SSHA256: base64 of the digest and a salt), kept for the same reason */
	{ "{SSHA256}", "", 44 },
};

int mb_password_init(const char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = "libsodium failed to initialise";
		return -1;
	}
	return 0;
}

int mb_password_check_plain(const char *password, const char **error_r)
{
	size_t len = strlen(password);

	if (len < MB_PASSWORD_MIN) {
		*error_r = "the password is shorter than " MB_STRINGIFY(MB_PASSWORD_MIN) " characters";
		return -1;
	}
	if (len > MB_PASSWORD_MAX) {
		*error_r = "the password is longer than " MB_STRINGIFY(MB_PASSWORD_MAX) " characters";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)password[i];
		/* control characters break IMAP LOGIN and SASL PLAIN in
		   some clients; UTF-8 bytes are fine */
		if (c < 0x20 || c == 0x7f) {
			*error_r = "the password contains a control character";
			return -1;
		}
	}
	return 0;
}

int mb_password_hash(const char *password, char hash_r[MB_HASH_MAX],
		     const char **error_r)
{
	static const char prefix[] = "{ARGON2ID}";
	char encoded[crypto_pwhash_STRBYTES];

	if (mb_password_check_plain(password, error_r) < 0)
		return -1;
	/* INTERACTIVE limits (64 MiB, 2 passes): what Dovecot's own
	   doveadm pw uses as a floor, fast enough for an auth process */
	if (crypto_pwhash_str_alg(encoded, password, strlen(password),
				  crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		*error_r = "argon2id hashing failed (out of memory?)";
		return -1;
	}
	if (sizeof(prefix) - 1 + strlen(encoded) + 1 > MB_HASH_MAX) {
		*error_r = "argon2id hash longer than expected";
		return -1;
	}
	memcpy(hash_r, prefix, sizeof(prefix) - 1);
	strcpy(hash_r + sizeof(prefix) - 1, encoded);
	return 0;
}

int mb_password_hash_check(const char *hash, const char **error_r)
{
	size_t len = strlen(hash);

	if (len >= MB_HASH_MAX) {
		*error_r = "the hash is longer than 255 characters";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!isgraph((unsigned char)hash[i])) {
			*error_r = "the hash contains a space or a control character";
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(accepted_schemes) / sizeof(accepted_schemes[0]); i++) {
		const struct scheme_shape *s = &accepted_schemes[i];
		size_t plen = strlen(s->prefix);

		if (strncmp(hash, s->prefix, plen) != 0)
			continue;
		if (strncmp(hash + plen, s->magic, strlen(s->magic)) != 0 ||
		    len - plen < s->min_tail) {
			*error_r = "the hash does not have the form its {SCHEME} prefix promises";
			return -1;
		}
		return 0;
	}
	*error_r = "unsupported hash scheme: use {ARGON2ID}, {ARGON2I}, {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {MD5-CRYPT} or {SSHA256}";
	return -1;
}

int mb_password_verify_argon2(const char *password, const char *hash)
{
	const char *encoded;

	if (strncmp(hash, "{ARGON2ID}", 10) == 0)
		encoded = hash + 10;
	else if (strncmp(hash, "{ARGON2I}", 9) == 0)
		encoded = hash + 9;
	else
		return -1;
	return crypto_pwhash_str_verify(encoded, password, strlen(password)) == 0 ? 1 : 0;
}

void mb_password_generate(char *buf, size_t len)
{
	/* no 0/O, 1/l/I: the password is read off a terminal */
	static const char alphabet[] =
		"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

	for (size_t i = 0; i < len; i++)
		buf[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	buf[len] = '\0';
}
