/* import-postfix-dovecot.h - `mailbag import postfix-dovecot PATH`: the
 * reader of the dockerised Postfix + Dovecot + OpenDKIM seed (see
 * import-postfix-dovecot.c). */
#ifndef MAILBAG_IMPORT_POSTFIX_DOVECOT_H
#define MAILBAG_IMPORT_POSTFIX_DOVECOT_H

#include "import-formats.h"

/* Fill plan from the checkout at path (holding settings.env and
   _server_workspace_/) or its _server_workspace_ directory. 0, with every
   refused line in the plan's problems; -1 only when out of memory. */
int import_read_postfix_dovecot(const char *path, const struct import_options *options,
		                   struct import_plan *plan);

#endif
