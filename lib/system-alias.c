/* system-alias.c - the host's own aliases: root, www-data...
 *
 * SUMMARY
 *	cron and the host's daemons send mail to account names ("root")
 *	through sendmail; Postfix makes them root@HOSTNAME, an address at one
 *	of the host's own names (mydestination, host-names.c). A system alias
 *	sends that mail to a mailbox here or an outside address, as
 *	/etc/aliases would, but lives in the store: `mailbag alias add root
 *	al@example.org` is live at once on every node, no newaliases run.
 *	Postfix's cleanup asks policyd's virtual_alias_maps for every
 *	recipient; policyd answers an address at a host name from here, and
 *	a name without a system alias is left to local(8) as before
 *	(/etc/aliases, then /var/mail).
 *
 *	Why not alias_maps: local(8) refuses alias tables whose owner it
 *	cannot know (a socketmap), since an alias may run a command. A
 *	system alias's targets are plain addresses only, checked here on
 *	the way in and again on the way out.
 */
#include "system-alias.h"
#include "stringify.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mb_system_alias_name_parse(const char *text, char name_r[MB_LOCAL_MAX + 1],
			       const char **error_r)
{
	size_t len = text != NULL ? strlen(text) : 0;

	if (len == 0) {
		*error_r = "the name is empty";
		return -1;
	}
	if (len > MB_LOCAL_MAX) {
		*error_r = "the name is longer than " MB_STRINGIFY(MB_LOCAL_MAX) " characters";
		return -1;
	}
	if (!isalnum((unsigned char)text[0]) && text[0] != '_') {
		*error_r = "the name must start with a letter, a digit or '_'";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
			*error_r = "the name has a character other than a-z 0-9 . _ -";
			return -1;
		}
		name_r[i] = (char)tolower(c);
	}
	name_r[len] = '\0';
	return 0;
}

/* source_of - "name@*system" */
static int source_of(const char *name, char source[MB_ADDRESS_MAX + 1], char *error, size_t size)
{
	char parsed[MB_LOCAL_MAX + 1];
	const char *why;

	if (mb_system_alias_name_parse(name, parsed, &why) < 0) {
		snprintf(error, size, "system alias '%.*s': %s", MB_LOCAL_MAX, name, why);
		return -EINVAL;
	}
	snprintf(source, MB_ADDRESS_MAX + 1, "%s@%s", parsed, MB_SYSTEM_ALIAS_DOMAIN);
	return 0;
}

bool mb_alias_system_name(const char *source, char name_r[MB_LOCAL_MAX + 1])
{
	const char *at = strrchr(source, '@');

	if (at == NULL || strcmp(at + 1, MB_SYSTEM_ALIAS_DOMAIN) != 0 || at == source ||
	    (size_t)(at - source) > MB_LOCAL_MAX)
		return false;
	if (name_r != NULL)
		snprintf(name_r, MB_LOCAL_MAX + 1, "%.*s", (int)(at - source), source);
	return true;
}

bool mb_system_alias_target_ok(const char *target)
{
	struct mb_address parsed;
	const char *why;

	if (target == NULL || target[0] == '|' || target[0] == '/' || target[0] == ':' ||
	    strchr(target, ',') != NULL)
		return false;
	return mb_address_parse(target, NULL, &parsed, &why) == 0 &&
		strcmp(parsed.domain, MB_SYSTEM_ALIAS_DOMAIN) != 0;
}

int mb_system_alias_get(struct mb_store *store, const char *name, struct mb_alias *alias_r,
			char *error, size_t error_size)
{
	char source[MB_ADDRESS_MAX + 1];

	memset(alias_r, 0, sizeof(*alias_r));
	if (source_of(name, source, error, error_size) < 0)
		return 0;
	return mb_store_alias_get(store, source, alias_r, error, error_size);
}

int mb_system_alias_add(struct mb_store *store, const char *name, const char *const *targets,
			size_t count, char *error, size_t error_size)
{
	char source[MB_ADDRESS_MAX + 1];
	int ret = source_of(name, source, error, error_size);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < count; i++) {
		if (!mb_system_alias_target_ok(targets[i])) {
			snprintf(error, error_size, "system alias %s: target '%.*s' is not a plain address",
				 name, MB_ADDRESS_MAX, targets[i]);
			return -EINVAL;
		}
	}
	return mb_store_alias_add(store, source, targets, count, error, error_size);
}

int mb_system_alias_del(struct mb_store *store, const char *name, const char *const *targets,
			size_t count, char *error, size_t error_size)
{
	char source[MB_ADDRESS_MAX + 1];
	int ret = source_of(name, source, error, error_size);

	if (ret < 0)
		return ret;
	ret = mb_store_alias_del(store, source, targets, count, error, error_size);
	if (ret == -ENOENT && count == 0)
		snprintf(error, error_size, "system alias %s does not exist", name);
	return ret;
}

int mb_system_aliases_foreach(struct mb_store *store, mb_alias_cb *cb, void *context,
			      char *error, size_t error_size)
{
	return mb_store_aliases_foreach(store, MB_SYSTEM_ALIAS_DOMAIN, cb, context, error, error_size);
}

int mb_system_alias_key(const struct mb_host_names *names, const char *delimiters, const char *key,
			char name_r[MB_LOCAL_MAX + 1])
{
	const char *at = strrchr(key, '@');
	char local[MB_LOCAL_MAX + 1];
	const char *why;

	name_r[0] = '\0';
	if (at == NULL || at == key || !mb_host_names_contain(names, at + 1))
		return 0;
	size_t len = (size_t)(at - key);
	if (len > MB_LOCAL_MAX)
		return 1;
	memcpy(local, key, len);
	local[len] = '\0';
	/* root+cron@host is root's */
	for (size_t i = 1; delimiters != NULL && delimiters[0] != '\0' && i < len; i++) {
		if (strchr(delimiters, local[i]) != NULL) {
			local[i] = '\0';
			break;
		}
	}
	if (mb_system_alias_name_parse(local, name_r, &why) < 0)
		name_r[0] = '\0';
	return 1;
}

int mb_system_alias_live(struct mb_store *store, const char *delimiters, const char *name,
			 struct mb_alias *live_r, char *error, size_t error_size)
{
	struct mb_alias alias;
	int ret = mb_system_alias_get(store, name, &alias, error, error_size);

	memset(live_r, 0, sizeof(*live_r));
	if (ret <= 0)
		return ret;
	live_r->targets = calloc(alias.target_count + 1, sizeof(char *));
	if (live_r->targets == NULL) {
		mb_alias_clear(&alias);
		snprintf(error, error_size, "out of memory");
		return -1;
	}
	memcpy(live_r->source, alias.source, sizeof(live_r->source));
	for (size_t i = 0; i < alias.target_count; i++) {
		const char *t = alias.targets[i];
		if (!mb_system_alias_target_ok(t))
			continue;
		int state = mb_store_target_state(store, delimiters, t, error, error_size);
		if (state < 0) {
			mb_alias_clear(&alias);
			mb_alias_clear(live_r);
			return -1;
		}
		if (state == MB_TARGET_MISSING || state == MB_TARGET_DISABLED)
			continue;
		live_r->targets[live_r->target_count++] = alias.targets[i];
		alias.targets[i] = NULL;
	}
	/* the taken targets are NULL: mb_alias_clear frees the rest */
	mb_alias_clear(&alias);
	if (live_r->target_count == 0) {
		mb_alias_clear(live_r);
		return 0;
	}
	return 1;
}
