/* store.c - domains, users and aliases behind one API
 *
 * SUMMARY
 *	The rules of the store, whatever the backend: what a record holds
 *	(JSON, versioned, so a field can be added without a migration),
 *	which key it lives under, and which changes are refused (a user on
 *	a domain not served, a duplicate, an alias loop onto itself). The
 *	backend (store-backend.h) only keeps bytes under keys; each public
 *	change here is one backend transaction, so readers see it whole or
 *	not at all.
 *
 *	Callers pass addresses already normalised by address.c; the store
 *	checks the shape again and refuses anything else, because a key in a
 *	second spelling would be a user nobody can reach.
 */
#include "store.h"
#include "store-backend.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD_VERSION 1

struct mb_store {
	const struct mb_store_backend *backend;
	void *state;
	bool writable;
};

static const struct mb_store_backend *const backends[] = {
	&mb_store_backend_lmdb,
	&mb_store_backend_redis,
};

/* serves - whether backend b serves the scheme of location (before colon) */
static bool serves(const struct mb_store_backend *b, const char *location, const char *colon)
{
	size_t len = (size_t)(colon - location);

	for (size_t i = 0; i < sizeof(b->schemes) / sizeof(b->schemes[0]); i++) {
		if (b->schemes[i] != NULL && strlen(b->schemes[i]) == len &&
		    strncmp(location, b->schemes[i], len) == 0)
			return true;
	}
	return false;
}

int mb_store_open(const char *location, enum mb_store_mode mode,
		  struct mb_store **store_r, char *error, size_t error_size)
{
	const char *colon = strchr(location, ':');
	struct mb_store *store;

	*store_r = NULL;
	for (size_t i = 0; colon != NULL && i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct mb_store_backend *b = backends[i];

		if (!serves(b, location, colon))
			continue;
		store = calloc(1, sizeof(*store));
		if (store == NULL) {
			snprintf(error, error_size, "out of memory");
			return -1;
		}
		store->backend = b;
		store->writable = mode != MB_STORE_READ;
		if (b->open(location, store->writable, mode == MB_STORE_CREATE,
			    &store->state, error, error_size) < 0) {
			free(store);
			return -1;
		}
		*store_r = store;
		return 0;
	}
	/* only the scheme: the rest may hold a password */
	snprintf(error, error_size, "unknown store location scheme '%.*s': expected lmdb:/DIR, redis://HOST[:PORT][/DB] or unix:/PATH",
		 colon != NULL && colon - location < 20 ? (int)(colon - location) : 20, location);
	return -1;
}

void mb_store_close(struct mb_store **storep)
{
	struct mb_store *store = *storep;

	if (store == NULL)
		return;
	store->backend->close(store->state);
	free(store);
	*storep = NULL;
}

/* address_key - "local@domain" -> "domain/local", "@domain" -> "domain/" */
static int address_key(const char *address, char *key, size_t size,
		       char *error, size_t error_size)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at[1] == '\0' || strlen(address) > MB_ADDRESS_MAX) {
		snprintf(error, error_size, "'%.100s' is not an address", address);
		return -1;
	}
	snprintf(key, size, "%s/%.*s", at + 1, (int)(at - address), address);
	return 0;
}

/* key_address - the inverse of address_key */
static void key_address(const char *key, size_t key_len, char *buf, size_t size)
{
	const char *slash = memchr(key, '/', key_len);

	if (slash == NULL) {
		snprintf(buf, size, "%.*s", (int)key_len, key);
		return;
	}
	snprintf(buf, size, "%.*s@%.*s", (int)(key + key_len - slash - 1), slash + 1,
		 (int)(slash - key), key);
}

void mb_user_clear(struct mb_user *user)
{
	free(user->password_hash);
	free(user->home);
	for (size_t i = 0; i < user->app_password_count; i++)
		free(user->app_passwords[i].hash);
	free(user->app_passwords);
	memset(user, 0, sizeof(*user));
}

/* decode_app_passwords - "apps": [{"name", "hash", "created"}]; 0 or -1 */
static int decode_app_passwords(json_t *apps, struct mb_user *user)
{
	size_t count = json_array_size(apps);

	if (apps == NULL)
		return 0;
	if (!json_is_array(apps) || count > MB_APP_PASSWORDS_MAX)
		return -1;
	user->app_passwords = calloc(count + 1, sizeof(*user->app_passwords));
	if (user->app_passwords == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		json_t *app = json_array_get(apps, i);
		json_t *name = json_object_get(app, "name"), *hash = json_object_get(app, "hash");
		if (!json_is_string(name) || !json_is_string(hash) ||
		    strlen(json_string_value(name)) > MB_APP_PASSWORD_NAME_MAX)
			return -1;
		snprintf(user->app_passwords[i].name, sizeof(user->app_passwords[i].name), "%s",
			 json_string_value(name));
		user->app_passwords[i].hash = strdup(json_string_value(hash));
		user->app_passwords[i].created = json_integer_value(json_object_get(app, "created"));
		user->app_password_count = i + 1;
		if (user->app_passwords[i].hash == NULL)
			return -1;
	}
	return 0;
}

int mb_alias_domain_target(const struct mb_alias *alias, char target_r[MB_DOMAIN_MAX + 1])
{
	if (alias->target_count != 1 || alias->targets[0][0] != '@' ||
	    strlen(alias->targets[0] + 1) > MB_DOMAIN_MAX)
		return 0;
	memcpy(target_r, alias->targets[0] + 1, strlen(alias->targets[0] + 1) + 1);
	return 1;
}

void mb_alias_clear(struct mb_alias *alias)
{
	for (size_t i = 0; i < alias->target_count; i++)
		free(alias->targets[i]);
	free(alias->targets);
	memset(alias, 0, sizeof(*alias));
}

static int corrupt(char *error, size_t size, const char *what, const char *key)
{
	snprintf(error, size, "store record %s '%.100s' is damaged", what, key);
	return -1;
}

/* decode_limit - a byte limit; absent means "the default" (see store.h) */
static uint64_t decode_limit(json_t *root, const char *name)
{
	json_t *value = json_object_get(root, name);

	return json_is_integer(value) && json_integer_value(value) >= 0 ?
		(uint64_t)json_integer_value(value) : MB_LIMIT_DEFAULT;
}

static void encode_limit(json_t *root, const char *name, uint64_t bytes)
{
	if (root != NULL && bytes != MB_LIMIT_DEFAULT)
		json_object_set_new(root, name, json_integer((json_int_t)bytes));
}

static int decode_user(const char *key, size_t key_len, const char *value,
		       size_t len, struct mb_user *user, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);
	json_t *hash, *home;

	memset(user, 0, sizeof(*user));
	key_address(key, key_len, user->address, sizeof(user->address));
	if (root == NULL)
		return corrupt(error, size, "user", user->address);
	hash = json_object_get(root, "hash");
	home = json_object_get(root, "home");
	if (!json_is_string(hash) || !json_is_string(home)) {
		json_decref(root);
		return corrupt(error, size, "user", user->address);
	}
	user->password_hash = strdup(json_string_value(hash));
	user->home = strdup(json_string_value(home));
	user->quota_bytes = decode_limit(root, "quota");
	user->max_message_bytes = decode_limit(root, "max_message");
	user->created = json_integer_value(json_object_get(root, "created"));
	user->enabled = json_is_true(json_object_get(root, "enabled"));
	user->app_passwords_only = json_is_true(json_object_get(root, "apps_only"));
	const char *node = json_string_value(json_object_get(root, "node"));
	snprintf(user->node, sizeof(user->node), "%s", node != NULL ? node : "");
	int apps_ok = decode_app_passwords(json_object_get(root, "apps"), user);
	json_decref(root);
	if (apps_ok < 0) {
		char address[MB_ADDRESS_MAX + 1];
		snprintf(address, sizeof(address), "%s", user->address);
		mb_user_clear(user);
		return corrupt(error, size, "user (app passwords)", address);
	}
	if (user->password_hash == NULL || user->home == NULL) {
		mb_user_clear(user);
		snprintf(error, size, "out of memory");
		return -1;
	}
	return 0;
}

static char *encode_user(const struct mb_user *user)
{
	json_t *root = json_pack("{s:i, s:s, s:b, s:I, s:s}",
				 "v", RECORD_VERSION,
				 "hash", user->password_hash,
				 "enabled", user->enabled,
				 "created", (json_int_t)user->created,
				 "home", user->home != NULL ? user->home : "");
	encode_limit(root, "quota", user->quota_bytes);
	encode_limit(root, "max_message", user->max_message_bytes);
	if (root != NULL && user->app_password_count > 0) {
		json_t *apps = json_array();
		for (size_t i = 0; i < user->app_password_count; i++)
			json_array_append_new(apps, json_pack("{s:s, s:s, s:I}",
				"name", user->app_passwords[i].name, "hash", user->app_passwords[i].hash,
				"created", (json_int_t)user->app_passwords[i].created));
		json_object_set_new(root, "apps", apps);
	}
	if (root != NULL && user->app_passwords_only)
		json_object_set_new(root, "apps_only", json_true());
	if (root != NULL && user->node[0] != '\0')
		json_object_set_new(root, "node", json_string(user->node));
	char *text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return text;
}

static int decode_alias(const char *key, size_t key_len, const char *value,
			size_t len, struct mb_alias *alias, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);
	json_t *targets = json_object_get(root, "targets");
	size_t count;

	memset(alias, 0, sizeof(*alias));
	key_address(key, key_len, alias->source, sizeof(alias->source));
	if (!json_is_array(targets) || json_array_size(targets) > MB_ALIAS_MAX_TARGETS) {
		json_decref(root);
		return corrupt(error, size, "alias", alias->source);
	}
	count = json_array_size(targets);
	alias->targets = calloc(count + 1, sizeof(char *));
	if (alias->targets == NULL) {
		json_decref(root);
		snprintf(error, size, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *t = json_string_value(json_array_get(targets, i));
		if (t == NULL || (alias->targets[i] = strdup(t)) == NULL) {
			json_decref(root);
			mb_alias_clear(alias);
			return corrupt(error, size, "alias", key);
		}
		alias->target_count++;
	}
	json_decref(root);
	return 0;
}

static char *encode_alias(const struct mb_alias *alias)
{
	json_t *targets = json_array();
	json_t *root;
	char *text;

	for (size_t i = 0; i < alias->target_count; i++)
		json_array_append_new(targets, json_string(alias->targets[i]));
	root = json_pack("{s:i, s:o}", "v", RECORD_VERSION, "targets", targets);
	text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

int mb_store_domain_exists(struct mb_store *store, const char *domain,
			   char *error, size_t error_size)
{
	char *value;
	size_t len;
	int ret = store->backend->get(store->state, MB_TABLE_DOMAINS, domain,
				      &value, &len, error, error_size);
	free(value);
	return ret;
}

static char *encode_domain(const struct mb_domain *domain)
{
	json_t *root = json_pack("{s:i, s:I}", "v", RECORD_VERSION,
				 "created", (json_int_t)domain->created);
	encode_limit(root, "quota", domain->quota_bytes);
	encode_limit(root, "max_message", domain->max_message_bytes);
	char *text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return text;
}

int mb_store_domain_get(struct mb_store *store, const char *domain,
			struct mb_domain *domain_r, char *error, size_t error_size)
{
	char *value;
	size_t len;
	json_t *root;
	int ret;

	memset(domain_r, 0, sizeof(*domain_r));
	if (strlen(domain) > MB_DOMAIN_MAX)
		return 0;
	ret = store->backend->get(store->state, MB_TABLE_DOMAINS, domain, &value, &len,
				  error, error_size);
	if (ret <= 0)
		return ret;
	root = json_loadb(value, len, 0, NULL);
	free(value);
	if (!json_is_object(root)) {
		json_decref(root);
		return corrupt(error, error_size, "domain", domain);
	}
	snprintf(domain_r->name, sizeof(domain_r->name), "%s", domain);
	domain_r->quota_bytes = decode_limit(root, "quota");
	domain_r->max_message_bytes = decode_limit(root, "max_message");
	domain_r->created = json_integer_value(json_object_get(root, "created"));
	json_decref(root);
	return 1;
}

int mb_store_user_get(struct mb_store *store, const char *address,
		      struct mb_user *user_r, char *error, size_t error_size)
{
	char key[MB_ADDRESS_MAX + 2], *value;
	size_t len;
	int ret;

	memset(user_r, 0, sizeof(*user_r));
	if (address_key(address, key, sizeof(key), error, error_size) < 0)
		return 0; /* no such spelling can be stored */
	ret = store->backend->get(store->state, MB_TABLE_USERS, key, &value,
				  &len, error, error_size);
	if (ret <= 0)
		return ret;
	ret = decode_user(key, strlen(key), value, len, user_r, error, error_size);
	free(value);
	return ret < 0 ? -1 : 1;
}

int mb_store_user_find(struct mb_store *store, const char *address, const char *delimiters,
		       struct mb_user *user_r, char *error, size_t error_size)
{
	struct mb_address parsed;
	const char *why;
	char normal[MB_ADDRESS_MAX + 1];

	memset(user_r, 0, sizeof(*user_r));
	if (mb_address_parse(address, NULL, &parsed, &why) < 0)
		return 0;
	mb_address_format(&parsed, normal, sizeof(normal));
	int ret = mb_store_user_get(store, normal, user_r, error, error_size);
	if (ret != 0 || delimiters == NULL || delimiters[0] == '\0' ||
	    mb_address_parse(address, delimiters, &parsed, &why) < 0 || !parsed.has_detail)
		return ret;
	mb_address_format(&parsed, normal, sizeof(normal));
	return mb_store_user_get(store, normal, user_r, error, error_size);
}

int mb_store_alias_get(struct mb_store *store, const char *source,
		       struct mb_alias *alias_r, char *error, size_t error_size)
{
	char key[MB_ADDRESS_MAX + 2], *value;
	size_t len;
	int ret;

	memset(alias_r, 0, sizeof(*alias_r));
	if (address_key(source, key, sizeof(key), error, error_size) < 0)
		return 0;
	ret = store->backend->get(store->state, MB_TABLE_ALIASES, key, &value,
				  &len, error, error_size);
	if (ret <= 0)
		return ret;
	ret = decode_alias(key, strlen(key), value, len, alias_r, error, error_size);
	free(value);
	return ret < 0 ? -1 : 1;
}

/* The write side: each public function is begin, checks, puts, commit. */

static int begin(struct mb_store *store, char *error, size_t size)
{
	if (!store->writable) {
		snprintf(error, size, "the store was opened read-only");
		return -EPERM;
	}
	return store->backend->begin(store->state, error, size) < 0 ? -EIO : 0;
}

/* finish - commit on ret == 0, abort otherwise; returns the outcome */
static int finish(struct mb_store *store, int ret, char *error, size_t size)
{
	if (ret != 0) {
		store->backend->abort(store->state);
		return ret;
	}
	return store->backend->commit(store->state, error, size) < 0 ? -EIO : 0;
}

static int require_domain(struct mb_store *store, const char *domain,
			  char *error, size_t size)
{
	int ret = mb_store_domain_exists(store, domain, error, size);

	if (ret < 0)
		return -EIO;
	if (ret == 0) {
		snprintf(error, size, "domain %s is not served here (add it with 'mailbag domain add %s')",
			 domain, domain);
		return -ENOENT;
	}
	return 0;
}

/* put_domain - write domain's record; must_exist: an update (-ENOENT
   without one), else a creation (-EEXIST with one) */
static int put_domain(struct mb_store *store, const struct mb_domain *domain, bool must_exist,
		      char *error, size_t size)
{
	char *record = encode_domain(domain);
	int ret = record == NULL ? -ENOMEM : begin(store, error, size);

	if (record == NULL)
		snprintf(error, size, "out of memory");
	if (ret < 0) {
		free(record);
		return ret;
	}
	ret = mb_store_domain_exists(store, domain->name, error, size);
	if (ret > 0 && !must_exist) {
		snprintf(error, size, "domain %s already exists", domain->name);
		ret = -EEXIST;
	} else if (ret == 0 && must_exist) {
		snprintf(error, size, "domain %s does not exist", domain->name);
		ret = -ENOENT;
	} else if (ret >= 0) {
		ret = store->backend->put(store->state, MB_TABLE_DOMAINS, domain->name,
					  record, strlen(record), error, size) < 0 ? -EIO : 0;
	} else {
		ret = -EIO;
	}
	free(record);
	return finish(store, ret, error, size);
}

int mb_store_domain_create(struct mb_store *store, const struct mb_domain *domain,
			   char *error, size_t size)
{
	return put_domain(store, domain, false, error, size);
}

int mb_store_domain_add(struct mb_store *store, const char *domain,
			char *error, size_t size)
{
	struct mb_domain record = { .quota_bytes = MB_LIMIT_DEFAULT,
				    .max_message_bytes = MB_LIMIT_DEFAULT,
				    .created = (int64_t)time(NULL) };

	if (strlen(domain) > MB_DOMAIN_MAX) {
		snprintf(error, size, "domain name too long");
		return -EINVAL;
	}
	memcpy(record.name, domain, strlen(domain) + 1);
	return mb_store_domain_create(store, &record, error, size);
}

int mb_store_domain_update(struct mb_store *store, const struct mb_domain *domain,
			   char *error, size_t size)
{
	return put_domain(store, domain, true, error, size);
}

struct key_list {
	char **keys;
	size_t count, alloc;
};

static int collect_key(const char *key, size_t key_len, const char *value,
		       size_t value_len, void *context)
{
	struct key_list *list = context;

	if (list->count == list->alloc) {
		size_t alloc = list->alloc == 0 ? 16 : list->alloc * 2;
		char **keys = realloc(list->keys, alloc * sizeof(char *));
		if (keys == NULL)
			return -1;
		list->keys = keys;
		list->alloc = alloc;
	}
	list->keys[list->count] = strndup(key, key_len);
	if (list->keys[list->count] == NULL)
		return -1;
	list->count++;
	return 0;
}

static void key_list_free(struct key_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->keys[i]);
	free(list->keys);
}

/* delete_prefix - remove every key of a table under prefix */
static int delete_prefix(struct mb_store *store, enum mb_table table,
			  const char *prefix, bool force, char *error, size_t size)
{
	struct key_list list = { NULL, 0, 0 };
	int ret = 0;

	if (store->backend->foreach(store->state, table, prefix, collect_key,
				    &list, error, size) < 0) {
		key_list_free(&list);
		return -EIO;
	}
	if (list.count > 0 && !force) {
		snprintf(error, size, "domain %.*s still has %zu %s; delete them first or use --force",
			 (int)strlen(prefix) - 1, prefix, list.count,
			 table == MB_TABLE_USERS ? "users" : "aliases");
		ret = -ENOTEMPTY;
	}
	for (size_t i = 0; ret == 0 && i < list.count; i++) {
		if (store->backend->del(store->state, table, list.keys[i], error, size) < 0)
			ret = -EIO;
	}
	key_list_free(&list);
	return ret;
}

int mb_store_domain_del(struct mb_store *store, const char *domain, bool force,
			char *error, size_t size)
{
	char prefix[MB_DOMAIN_MAX + 2];
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	snprintf(prefix, sizeof(prefix), "%s/", domain);
	ret = store->backend->del(store->state, MB_TABLE_DOMAINS, domain, error, size);
	if (ret == 0) {
		snprintf(error, size, "domain %s does not exist", domain);
		ret = -ENOENT;
	} else if (ret < 0) {
		ret = -EIO;
	} else {
		ret = delete_prefix(store, MB_TABLE_USERS, prefix, force, error, size);
		if (ret == 0)
			ret = delete_prefix(store, MB_TABLE_ALIASES, prefix, force, error, size);
	}
	return finish(store, ret, error, size);
}

/* put_user - checks shared by add and update, then the write */
static int put_user(struct mb_store *store, const struct mb_user *user,
		    bool must_exist, char *error, size_t size)
{
	char key[MB_ADDRESS_MAX + 2], *value, *record;
	const char *at = strrchr(user->address, '@');
	size_t len;
	int ret;

	if (at == NULL || address_key(user->address, key, sizeof(key), error, size) < 0)
		return -EINVAL;
	if ((ret = require_domain(store, at + 1, error, size)) < 0)
		return ret;
	ret = store->backend->get(store->state, MB_TABLE_USERS, key, &value, &len, error, size);
	free(value);
	if (ret < 0)
		return -EIO;
	if (ret > 0 && !must_exist) {
		snprintf(error, size, "user %s already exists", user->address);
		return -EEXIST;
	}
	if (ret == 0 && must_exist) {
		snprintf(error, size, "user %s does not exist", user->address);
		return -ENOENT;
	}
	record = encode_user(user);
	if (record == NULL) {
		snprintf(error, size, "out of memory");
		return -ENOMEM;
	}
	ret = store->backend->put(store->state, MB_TABLE_USERS, key, record,
				  strlen(record), error, size) < 0 ? -EIO : 0;
	free(record);
	return ret;
}

int mb_store_user_add(struct mb_store *store, const struct mb_user *user,
		      char *error, size_t size)
{
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	return finish(store, put_user(store, user, false, error, size), error, size);
}

int mb_store_users_add(struct mb_store *store, const struct mb_user *users, size_t count,
		       char *error, size_t size)
{
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = put_user(store, &users[i], false, error, size);
	return finish(store, ret, error, size);
}

int mb_store_user_update(struct mb_store *store, const struct mb_user *user,
			 char *error, size_t size)
{
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	return finish(store, put_user(store, user, true, error, size), error, size);
}

/* del_user - the user's record removed in the open transaction: 0,
   -ENOENT (said in error) or -EIO */
static int del_user(struct mb_store *store, const char *key, const char *address,
		    char *error, size_t size)
{
	int ret = store->backend->del(store->state, MB_TABLE_USERS, key, error, size);

	if (ret == 0) {
		snprintf(error, size, "user %s does not exist", address);
		return -ENOENT;
	}
	return ret < 0 ? -EIO : 0;
}

int mb_store_user_del(struct mb_store *store, const char *address,
		      char *error, size_t size)
{
	char key[MB_ADDRESS_MAX + 2];
	int ret;

	if (address_key(address, key, sizeof(key), error, size) < 0)
		return -EINVAL;
	if ((ret = begin(store, error, size)) < 0)
		return ret;
	return finish(store, del_user(store, key, address, error, size), error, size);
}

static bool alias_has_target(const struct mb_alias *alias, const char *target)
{
	for (size_t i = 0; i < alias->target_count; i++) {
		if (strcmp(alias->targets[i], target) == 0)
			return true;
	}
	return false;
}

/* write_alias - store the alias, or delete it when it has no targets */
static int write_alias(struct mb_store *store, const char *key,
		       const struct mb_alias *alias, char *error, size_t size)
{
	char *record;
	int ret;

	if (alias->target_count == 0)
		return store->backend->del(store->state, MB_TABLE_ALIASES, key, error, size) < 0 ? -EIO : 0;
	record = encode_alias(alias);
	if (record == NULL) {
		snprintf(error, size, "out of memory");
		return -ENOMEM;
	}
	ret = store->backend->put(store->state, MB_TABLE_ALIASES, key, record,
				  strlen(record), error, size) < 0 ? -EIO : 0;
	free(record);
	return ret;
}

/* change_alias - add (adding=true) or remove targets in one transaction */
static int change_alias(struct mb_store *store, const char *source,
			const char *const *targets, size_t count, bool adding,
			char *error, size_t size)
{
	char key[MB_ADDRESS_MAX + 2];
	struct mb_alias alias;
	int found, ret;

	if (address_key(source, key, sizeof(key), error, size) < 0)
		return -EINVAL;
	found = mb_store_alias_get(store, source, &alias, error, size);
	if (found < 0)
		return -EIO;
	if (!adding && found == 0) {
		snprintf(error, size, "alias %s does not exist", source);
		return -ENOENT;
	}
	if (found == 0)
		snprintf(alias.source, sizeof(alias.source), "%s", source);
	ret = 0;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		bool present = alias_has_target(&alias, targets[i]);

		if (adding && !present) {
			if (alias.target_count >= MB_ALIAS_MAX_TARGETS) {
				snprintf(error, size, "alias %s would have more than %d targets", source, MB_ALIAS_MAX_TARGETS);
				ret = -E2BIG;
				break;
			}
			char **grown = realloc(alias.targets, (alias.target_count + 2) * sizeof(char *));
			if (grown == NULL || (grown[alias.target_count] = strdup(targets[i])) == NULL) {
				if (grown != NULL)
					alias.targets = grown;
				snprintf(error, size, "out of memory");
				ret = -ENOMEM;
				break;
			}
			alias.targets = grown;
			alias.target_count++;
		} else if (!adding && !present) {
			snprintf(error, size, "alias %s has no target %s", source, targets[i]);
			ret = -ENOENT;
		} else if (!adding) {
			size_t j = 0;
			while (strcmp(alias.targets[j], targets[i]) != 0)
				j++;
			free(alias.targets[j]);
			memmove(&alias.targets[j], &alias.targets[j + 1],
				(alias.target_count - j - 1) * sizeof(char *));
			alias.target_count--;
		}
	}
	if (!adding && count == 0) {
		for (size_t i = 0; i < alias.target_count; i++)
			free(alias.targets[i]);
		alias.target_count = 0;
	}
	if (ret == 0)
		ret = write_alias(store, key, &alias, error, size);
	mb_alias_clear(&alias);
	return ret;
}

int mb_store_alias_add(struct mb_store *store, const char *source,
		       const char *const *targets, size_t count,
		       char *error, size_t size)
{
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	return finish(store, change_alias(store, source, targets, count, true, error, size),
		      error, size);
}

int mb_store_alias_del(struct mb_store *store, const char *source,
		       const char *const *targets, size_t count,
		       char *error, size_t size)
{
	int ret = begin(store, error, size);

	if (ret < 0)
		return ret;
	return finish(store, change_alias(store, source, targets, count, false, error, size),
		      error, size);
}

/* Routing: where mail to an address goes (store.h). One walk is bounded
   by MB_ROUTE_MAX_LOOKUPS store lookups, so a wide and deep set of
   aliases is a named error for that lookup, never a stall of policyd. */

struct route_walk {
	struct mb_store *store;
	const char *delimiters;
	unsigned lookups;
	int failed;             /* 0, -1 the store failed, -2 too many lookups */
	char *error;
	size_t error_size;
};

static int walk_target(struct route_walk *w, const char *target, int depth);

/* walk_spend - count one lookup; false once the walk has failed */
static bool walk_spend(struct route_walk *w)
{
	if (w->failed != 0)
		return false;
	if (++w->lookups > MB_ROUTE_MAX_LOOKUPS) {
		snprintf(w->error, w->error_size, "aliases expand too far: more than %d lookups",
			 MB_ROUTE_MAX_LOOKUPS);
		w->failed = -2;
		return false;
	}
	return true;
}

/* walk_alias - the alias of source: 1 (alias to clear), 0 none, -1 */
static int walk_alias(struct route_walk *w, const char *source, struct mb_alias *alias)
{
	memset(alias, 0, sizeof(*alias));
	if (!walk_spend(w))
		return -1;
	int ret = mb_store_alias_get(w->store, source, alias, w->error, w->error_size);
	if (ret < 0)
		w->failed = -1;
	return ret;
}

/* walk_user - 1 an enabled user, 2 a disabled one, 0 none, -1 */
static int walk_user(struct route_walk *w, const char *address)
{
	struct mb_user user;

	if (!walk_spend(w))
		return -1;
	int ret = mb_store_user_get(w->store, address, &user, w->error, w->error_size);
	if (ret < 0) {
		w->failed = -1;
		return -1;
	}
	if (ret == 0)
		return 0;
	ret = user.enabled ? 1 : 2;
	mb_user_clear(&user);
	return ret;
}

/* walk_domain - 1 a mailbox domain, 2 only a domain alias (its target
   domain in target_r), 0 not served here, -1 */
static int walk_domain(struct route_walk *w, const char *domain, char target_r[MB_DOMAIN_MAX + 1])
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;

	if (strlen(domain) > MB_DOMAIN_MAX)
		return 0;
	if (!walk_spend(w))
		return -1;
	int ret = mb_store_domain_exists(w->store, domain, w->error, w->error_size);
	if (ret != 0) {
		if (ret < 0)
			w->failed = -1;
		return ret;
	}
	snprintf(source, sizeof(source), "@%s", domain);
	ret = walk_alias(w, source, &alias);
	if (ret <= 0)
		return ret;
	ret = mb_alias_domain_target(&alias, target_r) ? 2 : 0;
	mb_alias_clear(&alias);
	return ret;
}

/* filter_live - keep only the targets something receives (or that go
   elsewhere); 0 or -1 */
static int filter_live(struct route_walk *w, struct mb_alias *alias, int depth)
{
	size_t kept = 0;

	for (size_t i = 0; i < alias->target_count; i++) {
		int state = walk_target(w, alias->targets[i], depth);
		if (state < 0) {
			for (size_t j = i; j < alias->target_count; j++)
				alias->targets[kept++] = alias->targets[j];
			alias->target_count = kept;
			return -1;
		}
		if (state == MB_TARGET_MISSING || state == MB_TARGET_DISABLED)
			free(alias->targets[i]);
		else
			alias->targets[kept++] = alias->targets[i];
	}
	alias->target_count = kept;
	return 0;
}

/* walk_exact - one spelling of an address: an alias with a live target,
   else an enabled user. 1 found (r->route set), 0 not (r->disabled set
   for a disabled user), -1 */
static int walk_exact(struct route_walk *w, const char *key, int depth, struct mb_route_result *r)
{
	int ret = walk_alias(w, key, &r->alias);

	if (ret < 0)
		return -1;
	if (ret > 0) {
		ret = filter_live(w, &r->alias, depth + 1);
		if (ret == 0 && r->alias.target_count > 0) {
			r->route = MB_ROUTE_ALIAS;
			return 1;
		}
		mb_alias_clear(&r->alias);
		if (ret < 0)
			return -1;
	}
	ret = walk_user(w, key);
	if (ret == 2)
		r->disabled = true;
	if (ret == 1)
		r->route = MB_ROUTE_USER;
	return ret == 2 ? 0 : ret;
}

/* walk_route - the rule of store.h for one address; 0 or -1 */
static int walk_route(struct route_walk *w, const char *address, int depth,
		      struct mb_route_result *r)
{
	char base[MB_ADDRESS_MAX + 1], there[MB_ADDRESS_MAX + 1], target_domain[MB_DOMAIN_MAX + 1];
	const char *at = strrchr(address, '@');
	int ret;

	memset(r, 0, sizeof(*r));
	if (at == NULL || address[0] == '@' || at[1] == '\0')
		return 0;
	/* 1. the address as given, 2. without its subaddress */
	bool has_base = mb_address_base(address, w->delimiters, base);
	for (int pass = 0; pass < (has_base ? 2 : 1); pass++) {
		ret = walk_exact(w, pass == 0 ? address : base, depth, r);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
	}
	ret = walk_domain(w, at + 1, target_domain);
	if (ret < 0)
		return -1;
	if (ret == 2) {
		/* 3. a domain alias: the plain local part must reach an alias
		   or an enabled user at the target domain (its catch-all does
		   not count: unknown users are refused at RCPT) */
		const char *plain = has_base ? base : address;
		struct mb_route_result found;

		/* an address too long for the target domain reaches nothing
		   there (never a cut-short rewrite) */
		if ((size_t)snprintf(there, sizeof(there), "%.*s@%s", (int)(strrchr(plain, '@') - plain), plain,
				     target_domain) >= sizeof(there) ||
		    (at - address) + 1 + strlen(target_domain) >= sizeof(r->rewritten))
			return 0;
		memset(&found, 0, sizeof(found));
		ret = walk_exact(w, there, depth, &found);
		r->disabled = found.disabled;
		mb_route_clear(&found);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			r->route = MB_ROUTE_DOMAIN_ALIAS;
			snprintf(r->rewritten, sizeof(r->rewritten), "%.*s@%s", (int)(at - address),
				 address, target_domain);
		}
		return 0;
	}
	if (ret == 0)
		return 0;
	/* 4. the catch-all of a mailbox domain */
	ret = walk_alias(w, at, &r->alias);
	if (ret <= 0)
		return ret;
	if (filter_live(w, &r->alias, depth + 1) < 0) {
		mb_alias_clear(&r->alias);
		return -1;
	}
	if (r->alias.target_count > 0)
		r->route = MB_ROUTE_CATCH_ALL;
	else
		mb_alias_clear(&r->alias);
	return 0;
}

/* walk_target - the state of one target (enum mb_target_state), or -1 */
static int walk_target(struct route_walk *w, const char *target, int depth)
{
	char target_domain[MB_DOMAIN_MAX + 1];
	const char *at = strrchr(target, '@');
	struct mb_route_result r;

	if (at == NULL || at[1] == '\0')
		return MB_TARGET_OUTSIDE; /* no address of ours */
	int kind = walk_domain(w, at + 1, target_domain);
	if (kind < 0)
		return -1;
	if (target[0] == '@')
		return kind == 1 ? MB_TARGET_LIVE : MB_TARGET_MISSING;
	if (kind == 0)
		return MB_TARGET_OUTSIDE;
	if (depth > MB_ROUTE_MAX_DEPTH)
		return MB_TARGET_MISSING; /* too deep, or a loop of aliases */
	if (walk_route(w, target, depth, &r) < 0)
		return -1;
	int state = r.route == MB_ROUTE_NONE || r.route == MB_ROUTE_CATCH_ALL ?
		(r.disabled ? MB_TARGET_DISABLED :
		 r.route == MB_ROUTE_NONE ? MB_TARGET_MISSING : MB_TARGET_CATCH_ALL) :
		MB_TARGET_LIVE;
	mb_route_clear(&r);
	return state;
}

int mb_store_route(struct mb_store *store, const char *delimiters, const char *address,
		   struct mb_route_result *r, char *error, size_t error_size)
{
	struct route_walk w = { store, delimiters, 0, 0, error, error_size };

	if (walk_route(&w, address, 0, r) < 0 || w.failed != 0) {
		mb_route_clear(r);
		return w.failed != 0 ? w.failed : -1;
	}
	return 0;
}

void mb_route_clear(struct mb_route_result *r)
{
	mb_alias_clear(&r->alias);
	memset(r, 0, sizeof(*r));
}

int mb_store_target_state(struct mb_store *store, const char *delimiters, const char *target,
			  char *error, size_t error_size)
{
	struct route_walk w = { store, delimiters, 0, 0, error, error_size };
	int state = walk_target(&w, target, 0);

	return w.failed != 0 ? w.failed : state;
}

const char *mb_target_state_name(enum mb_target_state state)
{
	switch (state) {
	case MB_TARGET_OUTSIDE: return "outside";
	case MB_TARGET_LIVE: return "live";
	case MB_TARGET_CATCH_ALL: return "catch-all";
	case MB_TARGET_DISABLED: return "disabled";
	case MB_TARGET_MISSING: return "missing";
	}
	return "?";
}

/* names_address - whether target is address or address with a +detail */
static bool names_address(const char *target, const char *address, const char *delimiters)
{
	char base[MB_ADDRESS_MAX + 1];

	return strcmp(target, address) == 0 ||
		(mb_address_base(target, delimiters, base) && strcmp(base, address) == 0);
}

struct naming_search {
	const char *address, *delimiters;
	mb_alias_cb *cb;
	void *context;
};

static int alias_if_naming(const struct mb_alias *alias, void *context)
{
	struct naming_search *search = context;

	for (size_t i = 0; i < alias->target_count; i++) {
		if (names_address(alias->targets[i], search->address, search->delimiters))
			return search->cb(alias, search->context);
	}
	return 0;
}

int mb_store_aliases_naming(struct mb_store *store, const char *address, const char *delimiters,
			    mb_alias_cb *cb, void *context, char *error, size_t error_size)
{
	struct naming_search search = { address, delimiters, cb, context };

	return mb_store_aliases_foreach(store, NULL, alias_if_naming, &search, error, error_size);
}

/* collect_source - an mb_alias_cb keeping each alias's source (key_list) */
static int collect_source(const struct mb_alias *alias, void *context)
{
	return collect_key(alias->source, strlen(alias->source), NULL, 0, context);
}

int mb_store_user_del_unalias(struct mb_store *store, const char *address, const char *delimiters,
			      mb_alias_cb *changed, void *context, char *error, size_t size)
{
	char key[MB_ADDRESS_MAX + 2], alias_key[MB_ADDRESS_MAX + 2];
	struct key_list sources = { NULL, 0, 0 };
	int ret;

	if (address_key(address, key, sizeof(key), error, size) < 0)
		return -EINVAL;
	if ((ret = begin(store, error, size)) < 0)
		return ret;
	if ((ret = del_user(store, key, address, error, size)) < 0)
		return finish(store, ret, error, size);
	/* first the sources, then the changes: no write under a cursor */
	error[0] = '\0';
	ret = mb_store_aliases_naming(store, address, delimiters, collect_source, &sources,
				      error, size) < 0 ? -EIO : 0;
	if (ret < 0 && error[0] == '\0')
		snprintf(error, size, "out of memory listing the aliases that name %s", address);
	for (size_t i = 0; ret == 0 && i < sources.count; i++) {
		struct mb_alias alias;
		size_t kept = 0;

		int got = mb_store_alias_get(store, sources.keys[i], &alias, error, size);
		if (got == 0)
			snprintf(error, size, "alias %s vanished while %s was deleted", sources.keys[i], address);
		if (got <= 0 || address_key(sources.keys[i], alias_key, sizeof(alias_key), error, size) < 0) {
			if (got > 0)
				mb_alias_clear(&alias);
			ret = -EIO;
			break;
		}
		for (size_t j = 0; j < alias.target_count; j++) {
			if (names_address(alias.targets[j], address, delimiters))
				free(alias.targets[j]);
			else
				alias.targets[kept++] = alias.targets[j];
		}
		alias.target_count = kept;
		ret = write_alias(store, alias_key, &alias, error, size);
		if (ret == 0 && changed != NULL)
			changed(&alias, context);
		mb_alias_clear(&alias);
	}
	key_list_free(&sources);
	return finish(store, ret, error, size);
}

/* Iteration: decode each record and hand it to the caller's callback. */

struct iter_context {
	mb_domain_cb *domain_cb;
	mb_user_cb *user_cb;
	mb_alias_cb *alias_cb;
	void *context;
	char *error;
	size_t error_size;
	int failed;
};

static int iter_domain(const char *key, size_t key_len, const char *value,
		       size_t len, void *context)
{
	struct iter_context *it = context;
	char domain[MB_DOMAIN_MAX + 1];

	snprintf(domain, sizeof(domain), "%.*s", (int)key_len, key);
	return it->domain_cb(domain, it->context);
}

static int iter_user(const char *key, size_t key_len, const char *value,
		     size_t len, void *context)
{
	struct iter_context *it = context;
	struct mb_user user;
	int ret;

	if (decode_user(key, key_len, value, len, &user, it->error, it->error_size) < 0) {
		it->failed = 1;
		return 1;
	}
	ret = it->user_cb(&user, it->context);
	mb_user_clear(&user);
	return ret;
}

static int iter_alias(const char *key, size_t key_len, const char *value,
		      size_t len, void *context)
{
	struct iter_context *it = context;
	struct mb_alias alias;
	int ret;

	if (decode_alias(key, key_len, value, len, &alias, it->error, it->error_size) < 0) {
		it->failed = 1;
		return 1;
	}
	ret = it->alias_cb(&alias, it->context);
	mb_alias_clear(&alias);
	return ret;
}

static int run_foreach(struct mb_store *store, enum mb_table table,
		       const char *domain, mb_kv_cb *kv_cb,
		       struct iter_context *it)
{
	char prefix[MB_DOMAIN_MAX + 2] = "";

	if (domain != NULL)
		snprintf(prefix, sizeof(prefix), "%s/", domain);
	if (store->backend->foreach(store->state, table, prefix, kv_cb, it,
				    it->error, it->error_size) < 0)
		return -1;
	return it->failed ? -1 : 0;
}

int mb_store_domains_foreach(struct mb_store *store, mb_domain_cb *cb,
			     void *context, char *error, size_t error_size)
{
	struct iter_context it = { .domain_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_DOMAINS, NULL, iter_domain, &it);
}

int mb_store_users_foreach(struct mb_store *store, const char *domain,
			   mb_user_cb *cb, void *context,
			   char *error, size_t error_size)
{
	struct iter_context it = { .user_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_USERS, domain, iter_user, &it);
}

int mb_store_aliases_foreach(struct mb_store *store, const char *domain,
			     mb_alias_cb *cb, void *context,
			     char *error, size_t error_size)
{
	struct iter_context it = { .alias_cb = cb, .context = context,
				   .error = error, .error_size = error_size };
	return run_foreach(store, MB_TABLE_ALIASES, domain, iter_alias, &it);
}

int mb_state_get(struct mb_store *store, const char *key, int64_t now,
		 char *value, size_t value_size, char *error, size_t error_size)
{
	return store->backend->state_get(store->state, key, now, value, value_size,
					 error, error_size);
}

int mb_state_put(struct mb_store *store, const char *key, const char *value,
		 int64_t expires, char *error, size_t error_size)
{
	if (strlen(value) > MB_STATE_VALUE_MAX) {
		snprintf(error, error_size, "state value of %zu bytes (at most %d allowed)",
			 strlen(value), MB_STATE_VALUE_MAX);
		return -1;
	}
	return store->backend->state_put(store->state, key, value, expires, error, error_size);
}

int mb_state_add(struct mb_store *store, const char *key, int64_t delta,
		 int64_t expires, int64_t now, int64_t *value_r,
		 char *error, size_t error_size)
{
	return store->backend->state_add(store->state, key, delta, expires, now, value_r,
					 error, error_size);
}

int mb_state_maintain(struct mb_store *store, int64_t now,
		      char *error, size_t error_size)
{
	if (store->backend->state_maintain == NULL)
		return 0;
	return store->backend->state_maintain(store->state, now, error, error_size);
}

int mb_usage_get(struct mb_store *store, const char *address, int64_t now,
		 uint64_t *bytes_r, uint64_t *messages_r, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[64];
	unsigned long long bytes, messages;
	int found;

	snprintf(key, sizeof(key), "usage/%s", address);
	found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);
	if (found <= 0)
		return found;
	if (sscanf(value, "%llu %llu", &bytes, &messages) != 2)
		return 0; /* unreadable: as if never reported; the next report mends it */
	*bytes_r = bytes;
	*messages_r = messages;
	return 1;
}

int mb_usage_put(struct mb_store *store, const char *address, uint64_t bytes,
		 uint64_t messages, int64_t expires, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[64];

	snprintf(key, sizeof(key), "usage/%s", address);
	snprintf(value, sizeof(value), "%llu %llu", (unsigned long long)bytes,
		 (unsigned long long)messages);
	return mb_state_put(store, key, value, expires, error, error_size);
}

#define LAST_LOGIN_LIFETIME (3650LL * 86400) /* kept until the next login */

int mb_last_login_get(struct mb_store *store, const char *address, int64_t now,
		      int64_t *when_r, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int found;

	snprintf(key, sizeof(key), "login/%s", address);
	found = mb_state_get(store, key, now, value, sizeof(value), error, error_size);
	if (found <= 0)
		return found;
	*when_r = strtoll(value, NULL, 10);
	return 1;
}

int mb_last_login_put(struct mb_store *store, const char *address, int64_t when,
		      int64_t now, char *error, size_t error_size)
{
	char key[MB_STATE_KEY_MAX + 1], value[32];
	int64_t day = when - when % 86400, recorded;
	int found = mb_last_login_get(store, address, now, &recorded, error, error_size);

	if (found < 0)
		return -1;
	if (found > 0 && recorded >= day)
		return 0; /* this day is known: no write */
	snprintf(key, sizeof(key), "login/%s", address);
	snprintf(value, sizeof(value), "%lld", (long long)day);
	return mb_state_put(store, key, value, now + LAST_LOGIN_LIFETIME, error, error_size);
}
