/* doveadm.h - this node's doveadm, run for `mailbag user move` (see doveadm.c). */
#ifndef MAILBAG_CLI_DOVEADM_H
#define MAILBAG_CLI_DOVEADM_H

#include "error-text.h"

#include <stddef.h>

/* The most of a doveadm command's standard output kept (the rest is
   read and dropped). */
#define CLI_DOVEADM_OUTPUT_MAX 65536

/* Run `doveadm -c CONFIG ARGS...` (args NULL-terminated) and wait for it;
   its stderr goes to ours. With output_r, its stdout is kept there
   (malloc'ed, NUL-terminated; free it), else it goes to ours. Returns
   doveadm's exit code (0 success), or -1 with error_r when it could not
   be run or was killed. */
int cli_doveadm_run(const char *config, const char *const *args, char **output_r,
		    struct mb_error_text *error_r);

/* Whether the doveadm password file the nodes share is fit for use:
   a non-empty regular file no one but its owner and group can read
   (0600, 0640, 0400, 0440) and no one but its owner can write. 0, or -1
   with error_r saying what to fix. The password itself is never read
   here: Dovecot's doveadm_password reads the file. */
int cli_doveadm_password_check(const char *path, struct mb_error_text *error_r);

#endif
