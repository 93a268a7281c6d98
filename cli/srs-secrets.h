/* srs-secrets.h - the SRS secret file: made and rotated (see srs-secrets.c). */
#ifndef MAILBAG_CLI_SRS_SECRETS_H
#define MAILBAG_CLI_SRS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_SRS_KEEP_DEFAULT 3 /* older secrets `srs rotate` keeps */

/* Write path with a new secret first and the first keep_old secrets it
   had after it (none when it is missing, or with create_only and a file
   there: then nothing is written and *made_r is false). Mode 0640, owner
   root, group daemon_user's (0600 when there is no such user). 0, or -1
   with error (never showing a secret). */
int cli_srs_secrets_write(const char *path, const char *daemon_user, size_t keep_old,
			  bool create_only, bool *made_r, char *error, size_t error_size);

#endif
