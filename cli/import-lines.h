/* import-lines.h - the lines of an import's text file, bounded and checked
 * (see import-lines.c). */
#ifndef MAILBAG_IMPORT_LINES_H
#define MAILBAG_IMPORT_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "import-plan.h"

#define IMPORT_LINE_MAX 4096

/* one line: NUL-terminated, without its newline and leading or trailing
   blanks; 0 to go on, -1 out of memory (stops) */
typedef int import_line_fn(const char *file, size_t number, char *line, void *context);

/* Each line of file that is not blank nor a # comment handed to fn. A
   line too long, holding a NUL or a control character is a problem of
   the plan (FILE:LINE) and not handed on. A file that cannot be read is
   a problem FILE:0 when required, else nothing (*found_r false; may be
   NULL). 0, or -1 out of memory. */
int import_lines_read(const char *file, bool required, import_line_fn *fn, void *context,
		      struct import_plan *plan, bool *found_r);

/* Join dir and name into buf ("dir/name"); false when it does not fit. */
bool import_path_join(char *buf, size_t size, const char *dir, const char *name);

#endif
