/* store-record.c - what a store record holds, and the key it lives under
 *
 * SUMMARY
 *	Users, aliases and domains as JSON with a version ("v"), so that a
 *	field can be added without a migration: absent limits mean "the
 *	default", app passwords are a list of {name, hash, created}. Keys
 *	are "domain/local" ("domain/" for a catch-all), so one domain's
 *	entries are one prefix. A record that does not decode is "damaged",
 *	named with its key. A user being moved to another node carries
 *	"move": {"phase", "from", "to", "started", "until"}; a move that
 *	does not decode makes the record damaged (a half-read move could
 *	unfreeze a mailbox in the middle of its copy).
 */
#include "store-internal.h"

#include "context.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_VERSION 1

/* address_key - "local@domain" -> "domain/local", "@domain" -> "domain/" */
/* join_parts - first, the separator (none if '\0'), second into buf,
   cut to fit as snprintf would cut it: a lookup's hot path, where
   snprintf's format parsing was a measurable part of decoding a record */
static void join_parts(char *buf, size_t size, const char *first, size_t first_len, char separator,
		       const char *second, size_t second_len)
{
	size_t used = 0;

	if (size == 0)
		return;
	size_t room = size - 1;
	size_t n = first_len < room ? first_len : room;
	memcpy(buf, first, n);
	used = n;
	if (separator != '\0' && used < room)
		buf[used++] = separator;
	n = second_len < room - used ? second_len : room - used;
	memcpy(buf + used, second, n);
	used += n;
	buf[used] = '\0';
}

int store_address_key(const char *address, char *key, size_t size,
		       char *error, size_t error_size)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at[1] == '\0' || strlen(address) > MB_ADDRESS_MAX) {
		snprintf(error, error_size, "'%.100s' is not an address", address);
		return -1;
	}
	join_parts(key, size, at + 1, strlen(at + 1), '/', address, (size_t)(at - address));
	return 0;
}

/* key_address - the inverse of address_key */
void store_key_address(const char *key, size_t key_len, char *buf, size_t size)
{
	const char *slash = memchr(key, '/', key_len);

	if (slash == NULL) {
		join_parts(buf, size, key, key_len, '\0', "", 0);
		return;
	}
	join_parts(buf, size, slash + 1, (size_t)(key + key_len - slash - 1), '@',
		   key, (size_t)(slash - key));
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

int store_corrupt(char *error, size_t size, const char *what, const char *key)
{
	snprintf(error, size, "store record %s '%.100s' is damaged", what, key);
	return -1;
}

static const char *const move_phase_names[] = {
	[MB_MOVE_NONE] = "", [MB_MOVE_COPY] = "copy", [MB_MOVE_FREEZE] = "freeze",
	[MB_MOVE_FINAL] = "final", [MB_MOVE_DONE] = "done",
};

const char *mb_move_phase_name(enum mb_move_phase phase)
{
	return (size_t)phase < sizeof(move_phase_names) / sizeof(move_phase_names[0]) ?
		move_phase_names[phase] : "?";
}

int mb_move_phase_parse(const char *name, enum mb_move_phase *phase_r)
{
	for (size_t i = MB_MOVE_COPY; i < sizeof(move_phase_names) / sizeof(move_phase_names[0]); i++) {
		if (strcmp(name, move_phase_names[i]) == 0) {
			*phase_r = (enum mb_move_phase)i;
			return 0;
		}
	}
	return -1;
}

bool mb_user_frozen(const struct mb_user *user, int64_t now)
{
	return (user->move.phase == MB_MOVE_FREEZE || user->move.phase == MB_MOVE_FINAL) &&
		now < user->move.until;
}

/* copy_cut_utf8 - text (valid UTF-8, as jansson gives it) into buf, cut
   to fit but never inside a character, so that the record encodes again
   (a cut in the middle is no UTF-8, which jansson refuses to write) */
static void copy_cut_utf8(char *buf, size_t size, const char *text)
{
	size_t len = strlen(text);

	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/* decode_node_name - a node name field into buf; 0, or -1 if absent or
   not a node name */
static int decode_node_name(json_t *root, const char *field, char buf[MB_NODE_NAME_MAX + 1])
{
	const char *name = json_string_value(json_object_get(root, field));

	if (name == NULL || !mb_node_name_valid(name))
		return -1;
	memcpy(buf, name, strlen(name) + 1);
	return 0;
}

/* decode_move - "move": absent (no move), or a whole one; 0 or -1 */
static int decode_move(json_t *move, struct mb_user_move *move_r)
{
	const char *phase = json_string_value(json_object_get(move, "phase"));
	json_t *started = json_object_get(move, "started"), *until = json_object_get(move, "until");

	memset(move_r, 0, sizeof(*move_r));
	if (move == NULL)
		return 0;
	if (!json_is_object(move) || phase == NULL || mb_move_phase_parse(phase, &move_r->phase) < 0 ||
	    decode_node_name(move, "from", move_r->from) < 0 ||
	    decode_node_name(move, "to", move_r->to) < 0 ||
	    !json_is_integer(started) || (until != NULL && !json_is_integer(until))) {
		memset(move_r, 0, sizeof(*move_r));
		return -1;
	}
	move_r->started = json_integer_value(started);
	move_r->until = until != NULL ? json_integer_value(until) : 0;
	return 0;
}

static json_t *encode_move(const struct mb_user_move *move)
{
	json_t *object = json_pack("{s:s, s:s, s:s, s:I}",
				   "phase", mb_move_phase_name(move->phase),
				   "from", move->from, "to", move->to,
				   "started", (json_int_t)move->started);

	if (object != NULL && move->until != 0)
		json_object_set_new(object, "until", json_integer((json_int_t)move->until));
	return object;
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

int store_decode_user_json(const char *key, size_t key_len, const char *value,
			   size_t len, struct mb_user *user, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);
	json_t *hash, *home;

	memset(user, 0, sizeof(*user));
	store_key_address(key, key_len, user->address, sizeof(user->address));
	if (root == NULL)
		return store_corrupt(error, size, "user", user->address);
	hash = json_object_get(root, "hash");
	home = json_object_get(root, "home");
	if (!json_is_string(hash) || !json_is_string(home)) {
		json_decref(root);
		return store_corrupt(error, size, "user", user->address);
	}
	user->password_hash = strdup(json_string_value(hash));
	user->home = strdup(json_string_value(home));
	user->quota_bytes = decode_limit(root, "quota");
	user->max_message_bytes = decode_limit(root, "max_message");
	user->created = json_integer_value(json_object_get(root, "created"));
	user->enabled = json_is_true(json_object_get(root, "enabled"));
	user->app_passwords_only = json_is_true(json_object_get(root, "apps_only"));
	const char *node = json_string_value(json_object_get(root, "node"));
	copy_cut_utf8(user->node, sizeof(user->node), node != NULL ? node : "");
	int apps_ok = decode_app_passwords(json_object_get(root, "apps"), user);
	int move_ok = decode_move(json_object_get(root, "move"), &user->move);
	json_decref(root);
	if (move_ok < 0) {
		char address[MB_ADDRESS_MAX + 1];
		snprintf(address, sizeof(address), "%s", user->address);
		mb_user_clear(user);
		return store_corrupt(error, size, "user (move)", address);
	}
	if (apps_ok < 0) {
		char address[MB_ADDRESS_MAX + 1];
		snprintf(address, sizeof(address), "%s", user->address);
		mb_user_clear(user);
		return store_corrupt(error, size, "user (app passwords)", address);
	}
	if (user->password_hash == NULL || user->home == NULL) {
		mb_user_clear(user);
		snprintf(error, size, "out of memory");
		return -1;
	}
	return 0;
}

/* store_decode_user - the records mailbag writes by the fast path
   (record-scan.c), everything else by jansson, the decoder of record */
int store_decode_user(const char *key, size_t key_len, const char *value,
		       size_t len, struct mb_user *user, char *error, size_t size)
{
	int ret = store_decode_user_fast(key, key_len, value, len, user, error, size);

	if (ret != 0)
		return ret > 0 ? 0 : -1;
	return store_decode_user_json(key, key_len, value, len, user, error, size);
}

char *store_encode_user(const struct mb_user *user)
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
	if (root != NULL && user->move.phase != MB_MOVE_NONE)
		json_object_set_new(root, "move", encode_move(&user->move));
	char *text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return text;
}

int store_decode_alias(const char *key, size_t key_len, const char *value,
			size_t len, struct mb_alias *alias, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);
	json_t *targets = json_object_get(root, "targets");
	size_t count;

	memset(alias, 0, sizeof(*alias));
	store_key_address(key, key_len, alias->source, sizeof(alias->source));
	if (!json_is_array(targets) || json_array_size(targets) > MB_ALIAS_MAX_TARGETS) {
		json_decref(root);
		return store_corrupt(error, size, "alias", alias->source);
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
			return store_corrupt(error, size, "alias", key);
		}
		alias->target_count++;
	}
	json_decref(root);
	return 0;
}

char *store_encode_alias(const struct mb_alias *alias)
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

char *store_encode_domain(const struct mb_domain *domain)
{
	json_t *root = json_pack("{s:i, s:I}", "v", RECORD_VERSION,
				 "created", (json_int_t)domain->created);
	encode_limit(root, "quota", domain->quota_bytes);
	encode_limit(root, "max_message", domain->max_message_bytes);
	char *text = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return text;
}

int store_decode_domain(const char *domain, const char *value, size_t len,
			 struct mb_domain *domain_r, char *error, size_t size)
{
	json_t *root = json_loadb(value, len, 0, NULL);

	if (!json_is_object(root)) {
		json_decref(root);
		return store_corrupt(error, size, "domain", domain);
	}
	snprintf(domain_r->name, sizeof(domain_r->name), "%s", domain);
	domain_r->quota_bytes = decode_limit(root, "quota");
	domain_r->max_message_bytes = decode_limit(root, "max_message");
	domain_r->created = json_integer_value(json_object_get(root, "created"));
	json_decref(root);
	return 0;
}
