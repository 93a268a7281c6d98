/* import-hash.h - another set-up's password hash as a Dovecot scheme
 * string mailbag keeps (see import-hash.c). */
#ifndef MAILBAG_IMPORT_HASH_H
#define MAILBAG_IMPORT_HASH_H

#include <stddef.h>

#include "password.h"

/* What a user gets whose old password cannot be kept: a SHA512-CRYPT
   string no password matches (its digest is not crypt's alphabet), so
   the account receives mail and its login fails until `mailbag user
   passwd` sets a password. */
#define IMPORT_RESET_HASH "{SHA512-CRYPT}$6$mailbagreset$" \
	"**************************************************************************************"

/* A crypt(3) string ($6$, $5$, $1$, $2y$/$2b$/$2a$, $argon2id$) or a
   "{SCHEME}..." string into hash_r as "{SCHEME}..." that mailbag accepts.
   0, or -1 with *error_r saying why (plain text, an unknown scheme, a
   malformed hash), never quoting the hash. */
int import_hash_from_crypt(const char *text, char hash_r[MB_HASH_MAX], const char **error_r);

#endif
