/* context-write.c - a new context file (`mailbag init`)
 *
 * SUMMARY
 *	Writes a context file with the given values and the schema's
 *	defaults, checked with the reader first so that no file is written
 *	that the daemons would refuse; atomically, never over an existing
 *	file, and readable by its group only when the store location holds
 *	a password.
 */
#include "context-internal.h"
#include "atomic-file.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int mb_context_write_new(const char *path, const char *hostname,
			 const char *store, long vmail_uid, long vmail_gid,
			 char *error, size_t error_size)
{
	struct parse_state st = { path, error, error_size, false };
	json_t *root;
	int ret;

	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
			 "hostname", hostname, "store", store,
			 "daemon_user", "mailbag", "recipient_delimiter", "+",
			 "mail_root", "/var/vmail",
			 "vmail_uid", (json_int_t)vmail_uid,
			 "vmail_gid", (json_int_t)vmail_gid);
	char *text = root == NULL ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		return context_fail_io(&st, NULL, "out of memory");
	/* never write a file the parser would refuse: check it as a reader will */
	struct mb_context *check;
	if (context_parse_text(&st, text, strlen(text), &check) < 0) {
		free(text);
		return -EINVAL;
	}
	mb_context_free(&check);
	/* a store password makes the file readable by its group only */
	mode_t mode = st.has_secret ? 0640 : 0644;
	size_t len = strlen(text);
	char *whole = realloc(text, len + 2);
	if (whole == NULL) {
		free(text);
		return context_fail_io(&st, NULL, "out of memory");
	}
	memcpy(whole + len, "\n", 2);
	/* exclusive: init never replaces a context that exists */
	char why[384];
	ret = mb_atomic_file_write(path, ".new", whole, len + 1, mode, (gid_t)-1,
				   MB_ATOMIC_FILE_EXCLUSIVE, why, sizeof(why));
	free(whole);
	return ret < 0 ? context_fail_io(&st, NULL, "%s", why) : 0;
}

