/* store-write.c - the changes to domains, users and aliases
 *
 * SUMMARY
 *	Each public change is one backend transaction (begin, checks, puts,
 *	commit), so readers see it whole or not at all, and the refusals
 *	are here: a user on a domain not served, a duplicate, a domain
 *	still holding users, an alias over its target limit. Deleting a
 *	user can take it out of the aliases that name it in the same
 *	transaction.
 */
#include "store-internal.h"
#include "grow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* relay_domain_refused - a domain we relay for is served elsewhere,
   never here: -EEXIST (said in error), -EIO, 0 */
static int relay_domain_refused(struct mb_store *store, const char *domain, char *error, size_t size)
{
	struct mb_relay_domain relay;
	int ret = mb_store_relay_domain_get(store, domain, &relay, error, size);

	if (ret <= 0)
		return ret < 0 ? -EIO : 0;
	mb_relay_domain_clear(&relay);
	snprintf(error, size, "%s is a relay domain (we are its backup MX); take it off with 'mailbag relay domain del %s' first",
		 domain, domain);
	return -EEXIST;
}

/* put_domain - write domain's record; must_exist: an update (-ENOENT
   without one), else a creation (-EEXIST with one) */
static int put_domain(struct mb_store *store, const struct mb_domain *domain, bool must_exist,
		      char *error, size_t size)
{
	char *record = store_encode_domain(domain);
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
	} else if (ret == 0 && (ret = relay_domain_refused(store, domain->name, error, size)) < 0) {
		/* said in error */
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

	char **keys = mb_grow(list->keys, &list->alloc, list->count + 1, sizeof(*list->keys), 16);
	if (keys == NULL)
		return -1;
	list->keys = keys;
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

	if (at == NULL || store_address_key(user->address, key, sizeof(key), error, size) < 0)
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
	record = store_encode_user(user);
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

	if (store_address_key(address, key, sizeof(key), error, size) < 0)
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
	record = store_encode_alias(alias);
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

	if (store_address_key(source, key, sizeof(key), error, size) < 0)
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
	/* the decoded targets fill their array: growing starts from there */
	size_t target_room = alias.target_count;
	ret = 0;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		bool present = alias_has_target(&alias, targets[i]);

		if (adding && !present) {
			if (alias.target_count >= MB_ALIAS_MAX_TARGETS) {
				snprintf(error, size, "alias %s would have more than %d targets", source, MB_ALIAS_MAX_TARGETS);
				ret = -E2BIG;
				break;
			}
			char **grown = mb_grow(alias.targets, &target_room, alias.target_count + 1,
					       sizeof(*alias.targets), 0);
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

	if (store_address_key(address, key, sizeof(key), error, size) < 0)
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
		if (got <= 0 || store_address_key(sources.keys[i], alias_key, sizeof(alias_key), error, size) < 0) {
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
