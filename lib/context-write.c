/* context-write.c - new context files (`mailbag init`, `mailbag setup`)
 *
 * SUMMARY
 *	Writes a context file with the given values and the schema's
 *	defaults, checked with the reader first so that no file is written
 *	that the daemons would refuse; atomically, never over an existing
 *	file, and readable by its group only when the store location holds
 *	a password. For `mailbag setup --root DIR`, gives every path key of
 *	the schema its default below DIR, so that the paths are written
 *	once, in the schema.
 */
#include "context-internal.h"
#include "atomic-file.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* put_rooted - obj[key] = root + path; 0 or -1 */
static int put_rooted(json_t *obj, const char *key, const char *prefix, const char *root,
		      const char *path)
{
	size_t size = strlen(prefix) + strlen(root) + strlen(path) + 1;
	char *full = malloc(size);

	if (full == NULL)
		return -1;
	snprintf(full, size, "%s%s%s", prefix, root, path);
	int ret = json_object_set_new(obj, key, json_string(full));
	free(full);
	return ret;
}

/* put_section_paths - the path keys of fields into obj; 0 or -1 */
static int put_section_paths(json_t *obj, const struct field *fields, const char *root)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		int ret = 0;

		if (f->type == FIELD_OBJECT) {
			json_t *section = json_object_get(obj, f->key);
			if (section == NULL) {
				section = json_object();
				if (json_object_set_new(obj, f->key, section) < 0)
					return -1;
			}
			ret = put_section_paths(section, f->children, root);
			/* a section without a path key is not written */
			if (ret == 0 && json_object_size(section) == 0)
				json_object_del(obj, f->key);
		} else if (f->type == FIELD_PATH && f->default_value != NULL) {
			ret = put_rooted(obj, f->key, "", root, f->default_value);
		} else if (f->type == FIELD_STORE && strncmp(f->default_value, "lmdb:", 5) == 0) {
			ret = put_rooted(obj, f->key, "lmdb:", root, f->default_value + 5);
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

int mb_context_put_path_defaults(struct json_t *obj, const char *root)
{
	return put_section_paths(obj, context_schema, root);
}

int mb_context_write_new(const char *path, const char *hostname,
			 const char *store, long vmail_uid, long vmail_gid,
			 char *error, size_t error_size)
{
	struct parse_state st = { path, error, error_size, false };
	json_t *root;
	int ret;

	/* RFC 5321's postmaster@ of every domain: the host's root, whose
	   mail the system aliases (or /etc/aliases) hand to a person */
	char postmaster[MB_ADDRESS_MAX + 1];
	snprintf(postmaster, sizeof(postmaster), "root@%s", hostname);
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:[s]}",
			 "hostname", hostname, "store", store,
			 "daemon_user", mb_context_default("daemon_user"),
			 "recipient_delimiter", mb_context_default("recipient_delimiter"),
			 "mail_root", mb_context_default("mail_root"),
			 "vmail_uid", (json_int_t)vmail_uid,
			 "vmail_gid", (json_int_t)vmail_gid,
			 "postmaster", postmaster);
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

