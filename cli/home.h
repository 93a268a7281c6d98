/* home.h - a mailbox's home directory made or removed (see home.c). */
#ifndef MAILBAG_CLI_HOME_H
#define MAILBAG_CLI_HOME_H

#include "cli.h"

/* a user's home made for Dovecot (vmail-owned, 0700) when run as root,
   so the first delivery finds its duplicate database's place; EX_OK or
   the exit code, printed */
int cli_make_home(struct cli *cli, const char *home);
/* Delete a mailbox directory, refusing anything not below mail_root;
   EX_OK or the exit code, printed. */
int cli_purge_home(struct cli *cli, const char *home);

#endif
