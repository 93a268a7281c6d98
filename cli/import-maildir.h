/* import-maildir.h - an imported user's Maildir moved into mailbag's home,
 * or left where it lies (see import-maildir.c). */
#ifndef MAILBAG_IMPORT_MAILDIR_H
#define MAILBAG_IMPORT_MAILDIR_H

#include <stdbool.h>
#include <sys/types.h>

#include "cli.h"

/* every IMPORT_PROGRESS_EVERY messages a line on stderr */
#define IMPORT_PROGRESS_EVERY 1000

/* Whether path (or its nearest existing parent) is on the same
   filesystem as other (or its nearest existing parent). */
bool import_same_filesystem(const char *path, const char *other);

/* Move the Maildir from into to (which must not exist; its parents are
   made): rename(2) within one filesystem; across filesystems a copy into
   TO.mailbag-import (a stale one from an interrupted run removed first),
   renamed to TO once whole, then FROM removed, so an interruption loses
   nothing (FROM stays until TO is complete). Then, as root, the tree is
   given to uid:gid. *messages_r: the messages seen. EX_OK or the exit
   code, printed. */
int import_maildir_move(struct cli *cli, const char *who, const char *from, const char *to,
			uid_t uid, gid_t gid, unsigned long *messages_r);

/* Leave the Maildir where it is: as root, give it (and the directory
   holding it, the user's home then) to uid:gid. EX_OK or printed. */
int import_maildir_keep(struct cli *cli, const char *who, const char *maildir, uid_t uid, gid_t gid,
			unsigned long *messages_r);

#endif
