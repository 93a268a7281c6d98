/* file-watch.h - whether a file may have changed, without a stat per question (see file-watch.c). */
#ifndef MAILBAG_FILE_WATCH_H
#define MAILBAG_FILE_WATCH_H

#include <stdbool.h>

struct mb_file_watch;

/* Watch path (its directory, through inotify). Never fails for a missing
   file or directory: then, or without inotify, it answers "maybe" once a
   second. NULL only when out of memory. */
struct mb_file_watch *mb_file_watch_open(const char *path);
void mb_file_watch_close(struct mb_file_watch **watch);

/* true when the file may have changed since the last true answer: an
   inotify event for it (or one that may hide it), or a second passed;
   the caller then looks (stat) and reloads if it did. */
bool mb_file_watch_maybe_changed(struct mb_file_watch *watch);

#endif
