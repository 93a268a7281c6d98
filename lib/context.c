/* context.c - the context file /etc/mailbag/context.json
 *
 * SUMMARY
 *	Reads the one settings file every mailbag part shares, checks every
 *	key against the schema (context-schema.c) and freezes the result
 *	into a struct mb_context: every key takes its default first, then
 *	the file's value. An unknown key, a value of the wrong type or a
 *	value out of range is an error that names the key and says what is
 *	allowed; nothing is half-applied. A reload reads the file again and
 *	keeps the keys fixed at a daemon's start. Values are converted by
 *	context-value.c, context-list.c and context-nodes.c; new files
 *	are written by context-write.c.
 *
 * DIAGNOSTICS
 *	"FILE: key 'policyd.socket_mode': expected ... (got ...)"
 */
#include "context-internal.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbag-config.h"

int context_fail(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int context_fail(struct parse_state *st, const char *key, const char *fmt, ...)
{
	char detail[384];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	/* keys and values come from the file: keep the message one line */
	char safe_detail[512], safe_key[256];
	mb_log_sanitize(detail, strlen(detail), safe_detail, sizeof(safe_detail));
	if (key != NULL)
		snprintf(st->error, st->error_size, "%s: key '%s': %s", st->name,
			 mb_log_sanitize(key, strlen(key), safe_key, sizeof(safe_key)), safe_detail);
	else
		snprintf(st->error, st->error_size, "%s: %s", st->name, safe_detail);
	return -1;
}

/* fail_io - like context_fail(), for a file that could not be written: -EIO */
int context_fail_io(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int context_fail_io(struct parse_state *st, const char *key, const char *fmt, ...)
{
	char detail[384];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	context_fail(st, key, "%s", detail);
	return -EIO;
}

static void list_keys(const struct field *fields, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct field *f = fields; f->key != NULL; f++) {
		int n = snprintf(buf + used, size - used, "%s%s",
				 used == 0 ? "" : ", ", f->key);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static int apply_defaults(struct parse_state *st, const char *prefix,
			  const struct field *fields, struct mb_context *ctx);

/* apply_object - check every key of obj against fields, then set them */
static int apply_object(struct parse_state *st, const char *prefix,
			const struct field *fields, json_t *obj,
			struct mb_context *ctx)
{
	const char *key;
	json_t *value;
	char path[128];

	json_object_foreach(obj, key, value) {
		const struct field *f;

		snprintf(path, sizeof(path), "%s%s", prefix, key);
		for (f = fields; f->key != NULL; f++) {
			if (strcmp(f->key, key) == 0)
				break;
		}
		if (f->key == NULL) {
			char allowed[512];
			list_keys(fields, allowed, sizeof(allowed));
			return context_fail(st, NULL, "unknown key '%.60s'; allowed here: %s", path, allowed);
		}
		if (f->type == FIELD_OBJECT) {
			char child_prefix[192];
			if (!json_is_object(value))
				return context_fail(st, path, "expected an object");
			snprintf(child_prefix, sizeof(child_prefix), "%.120s.", path);
			if (apply_object(st, child_prefix, f->children, value, ctx) < 0)
				return -1;
		} else if (context_set_field(st, path, f, value, ctx) < 0) {
			return -1;
		}
	}
	return 0;
}

/* apply_defaults - set every field from its default text first */
static int apply_defaults(struct parse_state *st, const char *prefix,
			  const struct field *fields, struct mb_context *ctx)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		char path[128];

		snprintf(path, sizeof(path), "%s%s", prefix, f->key);
		if (f->type == FIELD_OBJECT) {
			char child_prefix[192];
			snprintf(child_prefix, sizeof(child_prefix), "%.120s.", path);
			if (apply_defaults(st, child_prefix, f->children, ctx) < 0)
				return -1;
			continue;
		}
		/* a default is text: a boolean's is "true" or "false", a
		   count's digits, a list's JSON (none: empty) */
		json_t *value;
		if (f->type == FIELD_BOOL)
			value = json_boolean(strcmp(f->default_value, "true") == 0);
		else if (f->type == FIELD_COUNT || f->type == FIELD_PORT)
			value = json_integer(strtoll(f->default_value, NULL, 10));
		else if (f->type == FIELD_RATE_LIMITS || f->type == FIELD_ALLOWLIST ||
			 f->type == FIELD_DOMAIN_LIST || f->type == FIELD_NETWORK_LIST ||
			 f->type == FIELD_DOMAIN_PATTERNS || f->type == FIELD_ADDRESS_LIST)
			value = f->default_value != NULL ? json_loads(f->default_value, 0, NULL) :
				json_array();
		else if (f->type == FIELD_NODES || f->type == FIELD_NODE_MAP ||
			 f->type == FIELD_CERTIFICATES)
			value = json_object();
		else
			value = json_string(f->default_value);
		int ret = context_set_field(st, path, f, value, ctx);
		json_decref(value);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* check_relations - settings that are each fine but wrong together */
static int check_relations(struct parse_state *st, const struct mb_context *ctx)
{
	/* a retry can only pass after the delay: a window that closes first
	   would defer every first-time sender for ever */
	if (ctx->greylisting.retry_window <= ctx->greylisting.delay)
		return context_fail(st, "greylisting.retry_window",
			    "must be longer than greylisting.delay (%lld s), or no retry ever passes (got %lld s)",
			    (long long)ctx->greylisting.delay, (long long)ctx->greylisting.retry_window);
	if (ctx->auth.lockout_max < ctx->auth.lockout)
		return context_fail(st, "auth.lockout_max", "must not be shorter than auth.lockout (%lld s; got %lld s)",
			    (long long)ctx->auth.lockout, (long long)ctx->auth.lockout_max);
	if (ctx->auth.credential_cache_entries > 10000000)
		return context_fail(st, "auth.credential_cache_entries", "must be at most 10000000 (got %llu)",
			    (unsigned long long)ctx->auth.credential_cache_entries);
	if (ctx->auth.credential_cache_entries > 0 && ctx->auth.credential_cache_lifetime <= 0)
		return context_fail(st, "auth.credential_cache_lifetime",
			    "must be longer than 0 s while auth.credential_cache_entries is not 0");
	return context_check_node_maps(st, ctx);
}

int mb_context_parse(const char *name, const char *text, size_t len,
		     struct mb_context **ctx_r, char *error, size_t error_size)
{
	struct parse_state st = { name, error, error_size, false };

	return context_parse_text(&st, text, len, ctx_r);
}

/* parse_text - the parser behind mb_context_parse and mb_context_load */
int context_parse_text(struct parse_state *state, const char *text, size_t len,
		      struct mb_context **ctx_r)
{
	struct parse_state st = *state;
	struct mb_context *ctx;
	json_error_t jerr;
	json_t *root;

	*ctx_r = NULL;
	if (len > MB_CONTEXT_MAX_BYTES)
		return context_fail(&st, NULL, "larger than 1 MiB");
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return context_fail(&st, NULL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return context_fail(&st, NULL, "the top level must be a JSON object");
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		json_decref(root);
		return context_fail(&st, NULL, "out of memory");
	}
	if (apply_defaults(&st, "", context_schema, ctx) < 0 ||
	    apply_object(&st, "", context_schema, root, ctx) < 0 || check_relations(&st, ctx) < 0) {
		json_decref(root);
		mb_context_free(&ctx);
		return -1;
	}
	json_decref(root);
	state->has_secret = st.has_secret;
	*ctx_r = ctx;
	return 0;
}

int mb_context_load(const char *path, struct mb_context **ctx_r,
		    char *error, size_t error_size)
{
	struct parse_state st = { path, error, error_size, false };
	struct stat file_stat;
	char *text;
	ssize_t got;
	size_t len = 0;
	int fd, ret;

	*ctx_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return context_fail(&st, NULL, "cannot open: %s (name the server's context file with --context FILE or MAILBAG_CONTEXT; a new server gets one from 'mailbag setup' or 'mailbag init')", strerror(errno));
	if (fstat(fd, &file_stat) < 0) {
		close(fd);
		return context_fail(&st, NULL, "cannot stat: %s", strerror(errno));
	}
	text = malloc(MB_CONTEXT_MAX_BYTES + 1);
	if (text == NULL) {
		close(fd);
		return context_fail(&st, NULL, "out of memory");
	}
	while ((got = read(fd, text + len, MB_CONTEXT_MAX_BYTES + 1 - len)) > 0) {
		len += (size_t)got;
		if (len > MB_CONTEXT_MAX_BYTES)
			break;
	}
	close(fd);
	if (got < 0) {
		free(text);
		return context_fail(&st, NULL, "read failed: %s", strerror(errno));
	}
	ret = context_parse_text(&st, text, len, ctx_r);
	explicit_bzero(text, len);
	free(text);
	if (ret == 0 && st.has_secret && (file_stat.st_mode & S_IRWXO) != 0) {
		mb_context_free(ctx_r);
		return context_fail(&st, NULL, "refusing a context that holds the store's password while others may read it (mode %04o); run 'chmod o-rwx %s'",
			    (unsigned int)(file_stat.st_mode & 07777), path);
	}
	return ret;
}

/* free_values - every string and list the rows of fields (and their
   sections) name; numbers live in the context itself */
static void free_values(const struct field *fields, struct mb_context *ctx)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		char *base = (char *)ctx + f->offset;

		switch (f->type) {
		case FIELD_OBJECT:
			free_values(f->children, ctx);
			break;
		case FIELD_HOSTNAME: case FIELD_OPTIONAL_HOSTNAME: case FIELD_STORE: case FIELD_USER: case FIELD_DELIMITER:
		case FIELD_PATH: case FIELD_OPTIONAL_PATH: case FIELD_OPTIONAL_INET:
		case FIELD_NODE_NAME:
			free(*(char **)base);
			break;
		case FIELD_RATE_LIMITS:
			free(((struct mb_rate_limits *)base)->items);
			break;
		case FIELD_ALLOWLIST:
			free(((struct mb_allowlist *)base)->items);
			break;
		case FIELD_DOMAIN_LIST:
			free(((struct mb_domain_list *)base)->items);
			break;
		case FIELD_NODES:
			free(((struct mb_lmtp_nodes *)base)->items);
			break;
		case FIELD_NODE_MAP:
			free(((struct mb_nodes *)base)->items);
			break;
		case FIELD_NETWORK_LIST:
			free(((struct mb_network_list *)base)->items);
			break;
		case FIELD_DOMAIN_PATTERNS:
			free(((struct mb_domain_patterns *)base)->items);
			break;
		case FIELD_ADDRESS_LIST:
			free(((struct mb_address_list *)base)->items);
			break;
		case FIELD_CERTIFICATES:
			free(((struct mb_tls_certificates *)base)->items);
			break;
		default:
			break;
		}
	}
}

void mb_context_free(struct mb_context **ctxp)
{
	struct mb_context *ctx = *ctxp;

	if (ctx == NULL)
		return;
	free_values(context_schema, ctx);
	free(ctx);
	*ctxp = NULL;
}

/* keep_fixed_fields - the restart keys of fields (under prefix) keep
   their running value: swapped from running into fresh, so that
   freeing running frees the unused new text. Each changed one is
   named in a warning. */
static void keep_fixed_fields(const struct field *fields, const char *prefix,
			      struct mb_context *running, struct mb_context *fresh)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		char key[128];

		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", f->key);
		if (f->type == FIELD_OBJECT) {
			keep_fixed_fields(f->children, key, running, fresh);
			continue;
		}
		if (!f->restart)
			continue;
		char **running_value = (char **)((char *)running + f->offset);
		char **fresh_value = (char **)((char *)fresh + f->offset);
		if (strcmp(*running_value, *fresh_value) != 0)
			mb_warning("reload: %s changes only with a restart; keeping the running value", key);
		char *swap = *fresh_value;
		*fresh_value = *running_value;
		*running_value = swap;
	}
}

int mb_context_reload(struct mb_context **ctx, const char *path, struct mb_error_text *error_r)
{
	struct mb_context *fresh;

	if (mb_context_load(path, &fresh, error_r->text, sizeof(error_r->text)) < 0)
		return -1;
	keep_fixed_fields(context_schema, "", *ctx, fresh);
	mb_context_free(ctx);
	*ctx = fresh;
	return 0;
}

const char *mb_context_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("MAILBAG_CONTEXT");
	if (env != NULL && env[0] != '\0')
		return env;
	return MAILBAG_DEFAULT_CONTEXT;
}

