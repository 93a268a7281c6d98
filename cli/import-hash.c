/* import-hash.c - another set-up's password hash as a Dovecot scheme string
 *
 * SUMMARY
 *	Courier's systempw, Mail-o-Rama's accounts and most passwd files
 *	hold crypt(3) strings; Dovecot verifies them when they carry the
 *	scheme their magic names ($6$ SHA512-CRYPT, $5$ SHA256-CRYPT, $1$
 *	MD5-CRYPT, $2y$ BLF-CRYPT). The result is checked with
 *	mb_password_hash_check (lib/password.c), so only what the mailbag
 *	store accepts comes out. Messages never quote the hash.
 */
#include "import-hash.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *magic, *scheme;
} crypt_magics[] = {
	{ "$6$", "{SHA512-CRYPT}" },
	{ "$5$", "{SHA256-CRYPT}" },
	{ "$1$", "{MD5-CRYPT}" },
	{ "$2y$", "{BLF-CRYPT}" },
	{ "$2b$", "{BLF-CRYPT}" },
	{ "$2a$", "{BLF-CRYPT}" },
	{ "$argon2id$", "{ARGON2ID}" },
	{ "$argon2i$", "{ARGON2I}" },
};

static const char *plain_prefixes[] = { "{PLAIN}", "{CLEAR}", "{CLEARTEXT}", "{PLAIN-TRUNC}" };

int import_hash_from_crypt(const char *text, char hash_r[MB_HASH_MAX], const char **error_r)
{
	const char *scheme = NULL;

	if (text[0] == '\0') {
		*error_r = "the password hash is empty";
		return -1;
	}
	for (size_t i = 0; i < sizeof(plain_prefixes) / sizeof(plain_prefixes[0]); i++) {
		if (strncmp(text, plain_prefixes[i], strlen(plain_prefixes[i])) == 0) {
			*error_r = "a plain-text password is not imported; hash it first (doveadm pw -s SHA512-CRYPT)";
			return -1;
		}
	}
	if (text[0] != '{') {
		for (size_t i = 0; i < sizeof(crypt_magics) / sizeof(crypt_magics[0]); i++) {
			if (strncmp(text, crypt_magics[i].magic, strlen(crypt_magics[i].magic)) == 0)
				scheme = crypt_magics[i].scheme;
		}
		if (scheme == NULL) {
			*error_r = text[0] == '$' ? "unknown hash: the crypt string's $ID$ is not one of $6$, $5$, $1$, $2y$, $argon2id$"
				: "unknown hash (a plain-text password, or DES crypt): not a crypt string $6$, $5$, $1$, $2y$, $argon2id$";
			return -1;
		}
	}
	if ((size_t)snprintf(hash_r, MB_HASH_MAX, "%s%s", scheme != NULL ? scheme : "", text) >= MB_HASH_MAX) {
		*error_r = "the password hash is too long";
		return -1;
	}
	if (mb_password_hash_check(hash_r, error_r) < 0) {
		hash_r[0] = '\0';
		return -1;
	}
	return 0;
}
