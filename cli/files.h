/* files.h - files that `mailbag` writes for other programs (see files.c). */
#ifndef MAILBAG_CLI_FILES_H
#define MAILBAG_CLI_FILES_H

#include <stdbool.h>
#include <sys/types.h>

#include "cli.h"

/* mkdir -p: parents 0755, the last one mode; 0 or -1 (errno). */
int cli_mkdir_p(const char *path, mode_t mode);
/* Write text to path (a temporary file renamed into place) with mode,
   unless the file already holds exactly that: then *changed_r is false
   and nothing is touched. 0, or -1 printed. */
int cli_write_file(struct cli *cli, const char *path, const char *text, mode_t mode, bool *changed_r);
/* Whether made exists and is not older than source (which exists). */
bool cli_is_current(const char *made, const char *source);

#endif
