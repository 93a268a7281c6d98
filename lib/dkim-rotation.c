/* dkim-rotation.c - the state of a domain's DKIM key rotation, kept in
 * dkim.key_dir/DOMAIN/rotation.json beside the keys:
 *
 *	{"signing": ["mb20261101r", "mb20261101e"],
 *	 "pending": ["mb20261122r", "mb20261122e"], "pending_after": 1795500000,
 *	 "retired": {"mb20260901r": 1796000000}}
 *
 * `mailbag dkim rotate` writes it; mailbag-milter reads it to know which
 * keys sign. A new pair is published first ("pending") and signs only
 * from pending_after on, or once `mailbag dkim activate` has seen its
 * records in DNS; the pair it replaces is "retired" and its records stay
 * published until the time given. Without the file the newest key of
 * each algorithm signs.
 */
#include "dkim-rotation.h"
#include "atomic-file.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool selector_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= MB_DKIM_SELECTOR_MAX &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static int read_set(json_t *array, struct mb_dkim_set *set)
{
	size_t i;
	json_t *item;

	set->count = 0;
	if (array == NULL)
		return 0;
	if (!json_is_array(array) || json_array_size(array) > MB_DKIM_SET_MAX)
		return -1;
	json_array_foreach(array, i, item) {
		if (!json_is_string(item) || !selector_ok(json_string_value(item)))
			return -1;
		snprintf(set->selectors[set->count++], MB_DKIM_SELECTOR_MAX + 1, "%s", json_string_value(item));
	}
	return 0;
}

int mb_dkim_rotation_read(const char *domain_dir, struct mb_dkim_rotation *rotation,
			  char *error, size_t error_size)
{
	char path[PATH_MAX];
	json_error_t jerr;

	memset(rotation, 0, sizeof(*rotation));
	snprintf(path, sizeof(path), "%s/%s", domain_dir, MB_DKIM_ROTATION_FILE);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(error, error_size, "%s: %s (line %d)", path, jerr.text, jerr.line);
		return -1;
	}
	json_t *after = json_object_get(root, "pending_after");
	json_t *retired = json_object_get(root, "retired");
	int ret = 0;
	if (!json_is_object(root) || read_set(json_object_get(root, "signing"), &rotation->signing) < 0 ||
	    read_set(json_object_get(root, "pending"), &rotation->pending) < 0 ||
	    (after != NULL && !json_is_integer(after)) ||
	    (retired != NULL && (!json_is_object(retired) || json_object_size(retired) > MB_DKIM_RETIRED_MAX))) {
		snprintf(error, error_size, "%s: not a rotation file of mailbag (signing, pending: lists of "
			 "at most %d selectors; pending_after: a time; retired: selector to time); "
			 "fix or remove it", path, MB_DKIM_SET_MAX);
		ret = -1;
	} else {
		rotation->pending_after = after != NULL ? (int64_t)json_integer_value(after) : 0;
		const char *selector;
		json_t *until;
		json_object_foreach(retired, selector, until) {
			if (!selector_ok(selector) || !json_is_integer(until)) {
				snprintf(error, error_size, "%s: retired: bad entry '%.60s'", path, selector);
				ret = -1;
				break;
			}
			snprintf(rotation->retired[rotation->retired_count].selector, MB_DKIM_SELECTOR_MAX + 1,
				 "%s", selector);
			rotation->retired[rotation->retired_count++].until = (int64_t)json_integer_value(until);
		}
	}
	json_decref(root);
	return ret < 0 ? -1 : 1;
}

static json_t *set_json(const struct mb_dkim_set *set)
{
	json_t *array = json_array();

	for (size_t i = 0; array != NULL && i < set->count; i++)
		json_array_append_new(array, json_string(set->selectors[i]));
	return array;
}

int mb_dkim_rotation_write(const char *domain_dir, const struct mb_dkim_rotation *rotation,
			   long gid, char *error, size_t error_size)
{
	char path[PATH_MAX];
	json_t *root = json_object(), *retired = json_object();

	json_object_set_new(root, "signing", set_json(&rotation->signing));
	if (rotation->pending.count > 0) {
		json_object_set_new(root, "pending", set_json(&rotation->pending));
		json_object_set_new(root, "pending_after", json_integer((json_int_t)rotation->pending_after));
	}
	for (size_t i = 0; i < rotation->retired_count; i++)
		json_object_set_new(retired, rotation->retired[i].selector,
				    json_integer((json_int_t)rotation->retired[i].until));
	json_object_set_new(root, "retired", retired);
	snprintf(path, sizeof(path), "%s/%s", domain_dir, MB_DKIM_ROTATION_FILE);
	char *text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	size_t len = text != NULL ? strlen(text) : 0;
	char *whole = text != NULL ? realloc(text, len + 2) : NULL;
	if (whole == NULL) {
		free(text);
		snprintf(error, error_size, "cannot write %s: out of memory", path);
		return -1;
	}
	memcpy(whole + len, "\n", 2);
	/* the milter reads it through the keys' group */
	int ret = mb_atomic_file_write(path, ".new", whole, len + 1, 0640, gid >= 0 ? (gid_t)gid : (gid_t)-1,
				       0, error, error_size);
	free(whole);
	return ret < 0 ? -1 : 0;
}

const struct mb_dkim_set *mb_dkim_rotation_active(const struct mb_dkim_rotation *rotation, int64_t now)
{
	if (rotation->pending.count > 0 && now >= rotation->pending_after)
		return &rotation->pending;
	return rotation->signing.count > 0 ? &rotation->signing : NULL;
}
