/* atomic-file.h - write a file whole or not at all (see atomic-file.c). */
#ifndef MAILBAG_ATOMIC_FILE_H
#define MAILBAG_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* flags of mb_atomic_file_write */
#define MB_ATOMIC_FILE_EXCLUSIVE 0x1  /* never replace path: fail with EEXIST
					 when it (or its temporary name) exists */
#define MB_ATOMIC_FILE_EXACT_MODE 0x2 /* mode as given, whatever the umask */

/* Write len bytes of data to path through the temporary name
   path + tmp_suffix: created with mode (less the umask, unless
   MB_ATOMIC_FILE_EXACT_MODE), given group gid unless it is (gid_t)-1,
   written, fsync'ed and then renamed over path (linked to it with
   MB_ATOMIC_FILE_EXCLUSIVE). A reader sees the old file or the new one,
   never part of one. 0, or -errno with a message naming the file in
   error; the temporary name is gone either way (unless it was another
   writer's). */
int mb_atomic_file_write(const char *path, const char *tmp_suffix, const char *data, size_t len,
			 mode_t mode, gid_t gid, unsigned int flags, char *error, size_t error_size);

#endif
