/* srs.h - the Sender Rewriting Scheme of forwarded mail (see srs.c). */
#ifndef MAILBAG_SRS_H
#define MAILBAG_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"

#define MB_SRS_HASH_LEN 4        /* base64 characters of the HMAC kept, as libsrs2 */
#define MB_SRS_MAX_SECRETS 32    /* lines of a secret file */
#define MB_SRS_SECRET_MIN 16     /* bytes: shorter secrets are refused */
#define MB_SRS_SECRET_MAX 1024   /* bytes of one line */
#define MB_SRS_FILE_MAX (MB_SRS_MAX_SECRETS * (MB_SRS_SECRET_MAX + 2))
#define MB_SRS_DEFAULT_MAX_AGE 21 /* days, as PostSRSd */

/* The secrets of a secret file: the first signs, every one verifies. */
struct mb_srs_secrets {
	size_t count;
	char *secret[MB_SRS_MAX_SECRETS];
	size_t len[MB_SRS_MAX_SECRETS];
};

/* What a rewrite needs: the secrets, the domain SRS addresses live at
   (lower case) and how many days an address stays good. */
struct mb_srs {
	const struct mb_srs_secrets *secrets;
	const char *domain;
	int64_t max_age_days;
};

/* Parse a secret file's text (one secret a line, blank lines skipped, a
   trailing CR dropped): 0, or -1 with error (which never shows a secret,
   only its line number). Pure. */
int mb_srs_secrets_parse(const char *text, size_t len, const char *path,
			 struct mb_srs_secrets *secrets_r, char *error, size_t error_size);
/* Whether a secret file's owner and mode may be trusted: mode 0600 or
   0400 (0640 or 0440 when its group is daemon_gid), a regular file owned
   by root or daemon_uid. 0, or -1 with error saying what to change. Pure. */
int mb_srs_secret_file_mode_ok(const struct stat *st, const char *path, uid_t daemon_uid,
			       gid_t daemon_gid, char *error, size_t error_size);
/* Read, check (mode, owner) and parse path. st_r (may be NULL) gets the
   file's stat, so a caller can see later whether it changed. */
int mb_srs_secrets_load(const char *path, uid_t daemon_uid, gid_t daemon_gid,
			struct mb_srs_secrets *secrets_r, struct stat *st_r,
			char *error, size_t error_size);
/* Wipe and free the secrets. */
void mb_srs_secrets_clear(struct mb_srs_secrets *secrets);

/* Whether address's local part starts SRS0 or SRS1 and a separator. */
bool mb_srs_is_srs(const char *address);

/* The SRS address of sender for forwarding: SRS0=HASH=TT=domain=local@
   srs->domain, or SRS1=HASH=host=rest@srs->domain for a sender that is
   an SRS0 or SRS1 address of another domain. 1 (written to out), 0 when
   the sender stays as it is (the null sender, no "@", a domain that is
   no domain name, a sender already at srs->domain), -1 with *error_r when it cannot be done (the result
   would be longer than out_size - 1 or than an address can be). */
int mb_srs_forward(const struct mb_srs *srs, const char *sender, time_t now,
		   char *out, size_t out_size, const char **error_r);

/* The original address of an SRS address at srs->domain: an SRS0 one's
   local@domain (its hash good under one of the secrets, its day stamp no
   older than max_age_days and not from the future), an SRS1 one's SRS0
   address at the first forwarder's domain. 1 (written to out), 0 when
   address is not an SRS address at srs->domain, -1 with *error_r when it
   is one but malformed, forged, altered or expired. Case-insensitive. */
int mb_srs_reverse(const struct mb_srs *srs, const char *address, time_t now,
		   char *out, size_t out_size, const char **error_r);

/* The day stamp of now (two base32 characters and a NUL). */
void mb_srs_timestamp(time_t now, char out[3]);

/* A new secret file text: a fresh random secret first, then the first
   keep_old lines of old_text (may be NULL). Returns a malloc'ed string or
   NULL with error. */
char *mb_srs_secrets_rotated(const char *old_text, size_t old_len, size_t keep_old,
			     char *error, size_t error_size);

#endif
