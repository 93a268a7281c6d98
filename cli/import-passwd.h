/* import-passwd.h - one line of a Dovecot passwd-file (see import-passwd.c). */
#ifndef MAILBAG_IMPORT_PASSWD_H
#define MAILBAG_IMPORT_PASSWD_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "password.h"

#define MB_PASSWD_LINE_MAX 4096  /* a plain number: messages spell it with MB_STRINGIFY */
#define MB_HOME_MAX 1024

struct mb_passwd_entry {
	char address[MB_ADDRESS_MAX + 1]; /* normalised */
	char hash[MB_HASH_MAX];           /* "{SCHEME}..." mailbag accepts */
	char home[MB_HOME_MAX];           /* absolute, or "" for the default */
	uint64_t quota_bytes;             /* from userdb_quota_rule, or MB_LIMIT_DEFAULT */
};

/* Parse line (len bytes, no newline) "LOGIN:HASH[:UID:GID:GECOS:HOME:SHELL:EXTRA]".
   LOGIN without '@' takes default_domain (NULL: refused). Returns 1 with
   entry filled, 0 for a blank or comment line, -1 with *error_r saying
   what is wrong with it (never quoting the hash). */
int mb_passwd_line_parse(const char *line, size_t len, const char *default_domain,
			 struct mb_passwd_entry *entry, const char **error_r);

#endif
