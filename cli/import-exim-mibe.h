/* import-exim-mibe.h - `mailbag import exim-mibe PATH`: the reader of the
 * mi-poop-mail (Joyent mibe, Exim + Dovecot) /srv/mail tree (see
 * import-exim-mibe.c). */
#ifndef MAILBAG_IMPORT_EXIM_MIBE_H
#define MAILBAG_IMPORT_EXIM_MIBE_H

#include "import-formats.h"

/* Fill plan from the tree at path (its /srv/mail). 0, with every refused
   line in the plan's problems; -1 only when out of memory. */
int import_read_exim_mibe(const char *path, const struct import_options *options,
		             struct import_plan *plan);

#endif
