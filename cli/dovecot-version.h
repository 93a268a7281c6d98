/* dovecot-version.h - which Dovecot's syntax to write (see dovecot-version.c). */
#ifndef MAILBAG_CLI_DOVECOT_VERSION_H
#define MAILBAG_CLI_DOVECOT_VERSION_H

#include <stddef.h>

/* the Dovecot whose configuration syntax to write: `dovecot --version`,
   or MAILBAG_DOVECOT_VERSION */
enum cli_dovecot { CLI_DOVECOT_23, CLI_DOVECOT_24 };
int cli_dovecot_version(enum cli_dovecot *version_r, char *error, size_t error_size);

#endif
