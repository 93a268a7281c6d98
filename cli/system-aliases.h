/* system-aliases.h - the host's own aliases added and taken (see system-aliases.c). */
#ifndef MAILBAG_CLI_SYSTEM_ALIASES_H
#define MAILBAG_CLI_SYSTEM_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* Each takes a host account name ("root", any case), count full target
   addresses and the open store (cli_store()); EX_OK, or the exit code
   with the reason printed. Nothing is said on stdout. */

/* Whether name -> targets may be added: a valid account name, plain
   addresses, targets on domains served here that exist (a disabled user
   with a note; a missing one only with allow_missing). */
int cli_system_alias_check(struct cli *cli, const char *name, const char *const *targets,
			   size_t count, bool allow_missing);
/* Check, then add the targets to name's system alias (making it): what
   the import applier calls for each import_system_alias. */
int cli_system_alias_add(struct cli *cli, const char *name, const char *const *targets,
			 size_t count, bool allow_missing);
/* Take the targets from name's system alias; none: delete it. */
int cli_system_alias_del(struct cli *cli, const char *name, const char *const *targets, size_t count);

/* `mailbag alias add|del NAME ...` (a SOURCE without '@'): parses the
   targets, runs add or del and prints what was done. */
int cli_system_alias_command(struct cli *cli, bool adding, bool allow_missing, const char *name,
			     char *const *targets, size_t count);

/* A domain that is one of this host's own names (the context's hostname,
   localhost.DOMAIN, localhost: Postfix's mydestination) cannot be a
   virtual domain: EX_DATAERR with why, else EX_OK. */
int cli_refuse_host_name_domain(struct cli *cli, const char *domain);

#endif
