/* import-tree.h - reading another set-up's files for an import reader
 * (see import-tree.c). */
#ifndef MAILBAG_IMPORT_TREE_H
#define MAILBAG_IMPORT_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "import-passwd.h"
#include "import-plan.h"

#define IMPORT_TREE_LINE_MAX 4096    /* a plain number: messages spell it with MB_STRINGIFY */
#define IMPORT_FILE_LINES_MAX 1000000
#define IMPORT_DIR_ENTRIES_MAX 100000

/* called for each line that is not blank and not a '#' comment (the line
   as read, without its newline, NUL-terminated and writable). Returns 0,
   or -1 to stop (out of memory). */
typedef int import_tree_line_fn(const char *file, size_t number, char *line, void *context);

/* Read file line by line. A line that is too long, holds a NUL or a
   control character is a problem of the plan (FILE:LINE) and skipped.
   Returns 1 when read, 0 when the file does not exist, -1 when out of
   memory (an unreadable file is a problem, and returns 1). */
int import_tree_each_line(struct import_plan *plan, const char *file,
			  import_tree_line_fn *fn, void *context);

/* "dir/name" into out; false (and a problem at dir) when it is too long */
bool import_tree_join(char *out, size_t size, const char *dir, const char *name);

bool import_tree_is_dir(const char *path);
bool import_tree_is_file(const char *path);
/* a directory with cur/ and new/ in it */
bool import_tree_is_maildir(const char *path);

/* The names in dir (no "." entries, sorted), malloc'd: *names_r and
   *count_r; the caller frees with import_tree_names_free. 1, 0 when dir
   does not exist, -1 out of memory (unreadable: a problem, returns 1
   with no names). */
int import_tree_names(struct import_plan *plan, const char *dir, char ***names_r, size_t *count_r);
void import_tree_names_free(char **names, size_t count);

/* s with leading and trailing blanks removed (in place) */
char *import_tree_trim(char *s);

/* Whether the PEM private key in file can be read, and (cert_file not
   NULL) the certificate's key is it. 0, or -1 with error filled. */
int import_tree_check_key(const char *key_file, const char *cert_file, char *error, size_t size);


/* one user of a Dovecot passwd-file, for a reader */
struct import_passwd_user {
	struct mb_passwd_entry entry; /* entry.hash "" when reset[] says why */
	char reset[256];              /* non-empty: a scheme Dovecot knows, mailbag does not keep */
};

/* Parse one passwd-file line (import-passwd.c), knowing Dovecot's other
   schemes: a hash in one mailbag does not keep ({SSHA512}, {PLAIN-MD5}
   ...) gives the user with reset[] filled instead of a refusal. 1 user,
   0 nothing on the line, -1 refused (the problem added as FILE:LINE),
   -2 out of memory. */
int import_tree_passwd_line(struct import_plan *plan, const char *file, size_t number,
			    const char *line, const char *default_domain,
			    struct import_passwd_user *user_r);

/* the plan's quota for a passwd entry's (MB_LIMIT_DEFAULT: none given) */
uint64_t import_tree_quota(uint64_t passwd_quota);

#endif
