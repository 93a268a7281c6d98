/* aliases.h - aliases added to and taken from (see aliases.c). */
#ifndef MAILBAG_CLI_ALIASES_H
#define MAILBAG_CLI_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* Each takes a parsed source (user@domain or @domain), count parsed
   targets and the open store (cli_store()); EX_OK, or the exit code with
   the reason printed. Notes (a disabled or, with allow_missing, missing
   target) go to stderr. Nothing is said on stdout. */

/* Add the targets to source's alias (making it), once checked. */
int cli_alias_add(struct cli *cli, const char *source, const char *const *targets, size_t count,
		  bool allow_missing);
/* Take the targets from source's alias; none: delete the alias. */
int cli_alias_del(struct cli *cli, const char *source, const char *const *targets, size_t count);
/* One target's check as add makes it (source names the alias in notes):
   for system aliases (system-aliases.c). */
int cli_alias_check_target(struct cli *cli, const char *source, const char *target, bool allow_missing);

#endif
