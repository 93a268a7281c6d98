/* context-value.c - the context file's values: strings, numbers, sizes, durations
 *
 * SUMMARY
 *	Converts one JSON value for one schema row and stores it at the
 *	row's offset in struct mb_context: the string kinds (host name,
 *	store location, user, delimiter, paths, addresses), ids, modes,
 *	sizes ("50M"), durations ("5m"), booleans, counts, ports and
 *	choices. The lists are context-list.c's. Also the size and duration
 *	parsers the CLI uses for its own options.
 *
 * DIAGNOSTICS
 *	"FILE: key 'lmtpd.timeout': expected a duration ... (got ...)"
 */
#include "context-internal.h"
#include "address.h"
#include "redis-location.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mb_parse_size(const char *text, uint64_t *bytes_r, const char **error_r)
{
	char *end;
	unsigned long long value;
	uint64_t unit = 1;

	if (text[0] < '0' || text[0] > '9') {
		*error_r = "a size starts with a digit";
		return -1;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0) {
		*error_r = "the size is too large";
		return -1;
	}
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': unit = 1ULL << 10; end++; break;
	case 'm': case 'M': unit = 1ULL << 20; end++; break;
	case 'g': case 'G': unit = 1ULL << 30; end++; break;
	case 't': case 'T': unit = 1ULL << 40; end++; break;
	default:
		*error_r = "a size is a number with an optional K, M, G or T";
		return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0') {
		*error_r = "a size is a number with an optional K, M, G or T";
		return -1;
	}
	if (value > UINT64_MAX / unit) {
		*error_r = "the size is too large";
		return -1;
	}
	*bytes_r = value * unit;
	return 0;
}

/* check_string_value - the checks of the string-typed fields */
static int check_string_value(struct parse_state *st, const char *key,
			      const struct field *f, const char *value)
{
	const char *error;
	char domain[MB_DOMAIN_MAX + 1];

	switch (f->type) {
	case FIELD_OPTIONAL_HOSTNAME:
		if (value[0] == '\0')
			return 0;
		__attribute__((fallthrough));
	case FIELD_HOSTNAME:
		if (mb_domain_parse(value, domain, &error) < 0)
			return context_fail(st, key, "expected %s: %s (got \"%.80s\")", f->help, error, value);
		return 0;
	case FIELD_STORE: {
		struct mb_redis_location loc;
		if (strncmp(value, "lmdb:/", 6) == 0 && strstr(value, "/../") == NULL)
			return 0;
		/* never echo a Redis location: it may carry a password */
		if (mb_redis_location_is(value) &&
		    mb_redis_location_parse(value, &loc, &error) < 0)
			return context_fail(st, key, "expected %s: %s", f->help, error);
		if (mb_redis_location_is(value)) {
			st->has_secret = loc.password[0] != '\0' || loc.sentinel_password[0] != '\0';
			explicit_bzero(&loc, sizeof(loc));
			return 0;
		}
		/* nor any other: "rediss://:PASSWORD@..." is a typo away */
		size_t scheme_len = strcspn(value, ":/@?");
		if (value[scheme_len] != ':' || scheme_len > 20)
			return context_fail(st, key, "expected %s (got no SCHEME: at the start)", f->help);
		return context_fail(st, key, "expected %s (got the scheme \"%.*s:\")", f->help,
				    (int)scheme_len, value);
	}
	case FIELD_USER:
		if (value[0] == '\0' || strlen(value) > 32 ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(value) ||
		    value[0] == '-')
			return context_fail(st, key, "expected %s of lower-case letters, digits, '_' and '-' (got \"%.80s\")", f->help, value);
		return 0;
	case FIELD_DELIMITER:
		if (strlen(value) > 4 || strspn(value, "+-_=") != strlen(value))
			return context_fail(st, key, "expected %s (got \"%.80s\")", f->help, value);
		return 0;
	case FIELD_NODE_NAME:
		return context_check_node_name(st, key, f, value);
	case FIELD_OPTIONAL_INET:
		if (value[0] == '\0' || (value[0] != '/' && strlen(value) <= MB_NODE_ADDRESS_MAX &&
					  context_node_address_valid(value)))
			return 0;
		return context_fail(st, key, "expected %s (got \"%.80s\")", f->help, value);
	case FIELD_OPTIONAL_PATH:
		if (value[0] == '\0')
			return 0;
		/* else an absolute path, as below */
		__attribute__((fallthrough));
	case FIELD_PATH:
		if (value[0] != '/' || strlen(value) > 200 || strstr(value, "/../") != NULL)
			return context_fail(st, key, "expected %s of at most 200 characters without '/../' (got \"%.80s\")", f->help, value);
		return 0;
	default:
		return 0;
	}
}

int mb_parse_duration(const char *text, int64_t *seconds_r, const char **error_r)
{
	long long amount, unit = 1;
	char *end;

	errno = 0;
	amount = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || errno != 0) {
		*error_r = "a duration starts with a number";
		return -1;
	}
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default:
		*error_r = "a duration is a number with an optional s, m, h or d";
		return -1;
	}
	if (*end != '\0' && end[1] != '\0') {
		*error_r = "a duration is a number with an optional s, m, h or d";
		return -1;
	}
	/* ten years is more than any window or lock needs */
	if (amount > 3650LL * 86400 / unit) {
		*error_r = "a duration is at most 3650 days";
		return -1;
	}
	*seconds_r = (int64_t)(amount * unit);
	return 0;
}

/* parse_duration - a duration string or a JSON integer of seconds */
static int parse_duration(struct parse_state *st, const char *key, const struct field *f,
			  json_t *value, int64_t *seconds_r)
{
	const char *error;

	if (json_is_integer(value)) {
		json_int_t seconds = json_integer_value(value);
		if (seconds < 0 || seconds > 3650LL * 86400)
			return context_fail(st, key, "expected %s, from 0 to 3650 days", f->help);
		*seconds_r = (int64_t)seconds;
		return 0;
	}
	if (!json_is_string(value))
		return context_fail(st, key, "expected %s", f->help);
	if (mb_parse_duration(json_string_value(value), seconds_r, &error) < 0)
		return context_fail(st, key, "expected %s: %s (got \"%.40s\")", f->help, error,
			    json_string_value(value));
	return 0;
}

static int parse_count(struct parse_state *st, const char *key, const struct field *f,
		       json_t *value, uint64_t *count_r)
{
	if (!json_is_integer(value) || json_integer_value(value) < 0)
		return context_fail(st, key, "expected %s", f->help);
	*count_r = (uint64_t)json_integer_value(value);
	return 0;
}

static int set_choice(struct parse_state *st, const char *key, const struct field *f,
		      json_t *value, int *index_r)
{
	const char *text = json_is_string(value) ? json_string_value(value) : "";
	const char *const *choices = context_field_choices(f);

	for (int i = 0; choices != NULL && choices[i] != NULL; i++) {
		if (strcmp(choices[i], text) == 0) {
			*index_r = i;
			return 0;
		}
	}
	return context_fail(st, key, "expected %s", f->help);
}

/* set_field - convert one JSON value and store it in the context */
int context_set_field(struct parse_state *st, const char *key,
		     const struct field *f, json_t *value, struct mb_context *ctx)
{
	char *base = (char *)ctx + f->offset;
	const char *error;

	switch (f->type) {
	case FIELD_HOSTNAME: case FIELD_OPTIONAL_HOSTNAME: case FIELD_STORE: case FIELD_USER:
	case FIELD_DELIMITER: case FIELD_PATH: case FIELD_OPTIONAL_PATH: case FIELD_OPTIONAL_INET:
	case FIELD_NODE_NAME: {
		if (!json_is_string(value))
			return context_fail(st, key, "expected a string: %s", f->help);
		const char *s = json_string_value(value);
		if (strlen(s) != json_string_length(value))
			return context_fail(st, key, "the string contains a NUL byte");
		if (check_string_value(st, key, f, s) < 0)
			return -1;
		char *copy = strdup(s);
		if (copy == NULL)
			return context_fail(st, key, "out of memory");
		free(*(char **)base);
		*(char **)base = copy;
		return 0;
	}
	case FIELD_ID: {
		json_int_t id;
		if (json_is_string(value)) {
			char *end;
			errno = 0;
			id = strtoll(json_string_value(value), &end, 10);
			if (errno != 0 || *end != '\0' || end == json_string_value(value))
				return context_fail(st, key, "expected %s", f->help);
		} else if (json_is_integer(value)) {
			id = json_integer_value(value);
		} else {
			return context_fail(st, key, "expected %s", f->help);
		}
		if (id < 1 || id > 4294967294LL)
			return context_fail(st, key, "expected %s (got %lld)", f->help, (long long)id);
		*(long *)base = (long)id;
		return 0;
	}
	case FIELD_MODE: {
		if (!json_is_string(value))
			return context_fail(st, key, "expected %s", f->help);
		const char *s = json_string_value(value);
		char *end;
		unsigned long mode = strtoul(s, &end, 8);
		if (*s == '\0' || *end != '\0' || (mode & ~0666UL) != 0 || (mode & 0600) != 0600)
			return context_fail(st, key, "expected %s (got \"%.20s\")", f->help, s);
		*(unsigned int *)base = (unsigned int)mode;
		return 0;
	}
	case FIELD_SIZE: {
		uint64_t bytes;
		if (json_is_integer(value)) {
			if (json_integer_value(value) < 0)
				return context_fail(st, key, "expected %s (got a negative number)", f->help);
			bytes = (uint64_t)json_integer_value(value);
		} else if (json_is_string(value)) {
			if (mb_parse_size(json_string_value(value), &bytes, &error) < 0)
				return context_fail(st, key, "expected %s: %s", f->help, error);
		} else {
			return context_fail(st, key, "expected %s", f->help);
		}
		*(uint64_t *)base = bytes;
		return 0;
	}
	case FIELD_BOOL:
		if (!json_is_boolean(value))
			return context_fail(st, key, "expected %s", f->help);
		*(int *)base = json_is_true(value);
		return 0;
	case FIELD_COUNT:
		return parse_count(st, key, f, value, (uint64_t *)base);
	case FIELD_PORT:
		if (!json_is_integer(value) || json_integer_value(value) < 0 ||
		    json_integer_value(value) > 65535)
			return context_fail(st, key, "expected %s from 0 to 65535", f->help);
		*(uint64_t *)base = (uint64_t)json_integer_value(value);
		return 0;
	case FIELD_CERTIFICATES:
		return context_set_certificates(st, key, f, value, (struct mb_tls_certificates *)base);
	case FIELD_DURATION:
		return parse_duration(st, key, f, value, (int64_t *)base);
	case FIELD_RATE_LIMITS:
		return context_set_rate_limits(st, key, f, value, (struct mb_rate_limits *)base);
	case FIELD_ALLOWLIST:
		return context_set_allowlist(st, key, f, value, (struct mb_allowlist *)base);
	case FIELD_DOMAIN_LIST:
		return context_set_domain_list(st, key, f, value, (struct mb_domain_list *)base);
	case FIELD_NODES:
		return context_set_nodes(st, key, f, value, (struct mb_lmtp_nodes *)base);
	case FIELD_NODE_MAP:
		return context_set_node_map(st, key, f, value, (struct mb_nodes *)base);
	case FIELD_NETWORK_LIST:
		return context_set_network_list(st, key, f, value, (struct mb_network_list *)base);
	case FIELD_DOMAIN_PATTERNS:
		return context_set_domain_patterns(st, key, f, value, (struct mb_domain_patterns *)base);
	case FIELD_CHOICE:
		return set_choice(st, key, f, value, (int *)base);
	case FIELD_ADDRESS_LIST:
		return context_set_address_list(st, key, f, value, (struct mb_address_list *)base);
	case FIELD_OBJECT:
		break;
	}
	return context_fail(st, key, "internal error: unknown field type");
}
