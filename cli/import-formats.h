/* import-formats.h - the formats `mailbag import FORMAT PATH` reads, and
 * the one signature every format's reader has (see import-formats.c).
 *
 * A reader reads the other set-up's tree at path and fills plan (see
 * import-plan.h): every refused line as a problem (FILE:LINE: reason),
 * what mailbag cannot carry over as a notice. It never touches the store
 * or the tree. It returns 0 when it read what it could (problems, if any,
 * are in the plan), -1 only when memory ran out.
 */
#ifndef MAILBAG_IMPORT_FORMATS_H
#define MAILBAG_IMPORT_FORMATS_H

#include "import-plan.h"

/* options of `mailbag import` a reader may use */
struct import_options {
	/* --maildirs DIR: where the format's Maildirs lie when not where
	   the format's default puts them (NULL: the default) */
	const char *maildirs;
};

typedef int import_reader_fn(const char *path, const struct import_options *options,
			     struct import_plan *plan);

struct import_format {
	const char *name;         /* FORMAT */
	import_reader_fn *read;
	const char *summary;      /* one line for --help: what PATH is */
};

/* the formats, ended by a row whose name is NULL */
extern const struct import_format import_formats[];

const struct import_format *import_format_find(const char *name);

/* the readers (one file each) */
import_reader_fn import_read_courier, import_read_mailorama;
import_reader_fn import_read_exim_mibe, import_read_postfix_dovecot;

#endif
