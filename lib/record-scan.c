/* record-scan.c - a fast path for decoding the user records mailbag writes
 *
 * SUMMARY
 *	store_decode_user_fast() reads a user record that is a flat JSON
 *	object of plain scalars in one pass, with no allocation but the
 *	two strings the record keeps (password_hash, home). Whatever it
 *	does not recognise it declines (0), and store_decode_user() then
 *	hands the record to jansson (store_decode_user_json() in
 *	store-record.c), which stays the decoder of record: this file only
 *	has to give the same answer where it answers at all.
 *
 * WHY
 *	The Dovecot driver reads the user record from the store on every
 *	lookup. perf on a 6.7 us LMDB lookup showed jansson at 52% and
 *	malloc/free at about 25% (LMDB 16%): building and freeing a JSON
 *	tree of a dozen nodes cost 4-5 us, which kept mailbag's lookups
 *	behind Dovecot's passwd-file. The records are written by
 *	store_encode_user() (json_dumps, JSON_COMPACT), so almost all of
 *	them are one line of known keys with plain values.
 *
 * WHAT IT ACCEPTS
 *	Exactly '{', zero or more "key":value separated by ',', '}' and the
 *	end of the value; no whitespace anywhere. A key is one of v, hash,
 *	enabled, created, home, quota, max_message, apps_only, node, each
 *	at most once, in any order. A value is a string of printable ASCII
 *	(0x20-0x7e) without a backslash, an integer (an optional '-', then
 *	0 or at most 18 digits without a leading zero: always within
 *	int64_t), true, false or null. Anything else declines: an escape,
 *	a control or non-ASCII byte (jansson checks UTF-8 and refuses
 *	control characters), a fraction or exponent, "apps", "move", a
 *	nested value, an unknown or repeated key (jansson keeps the last),
 *	whitespace, trailing bytes, an unfinished object.
 *
 * SEMANTICS
 *	Those of store_decode_user_json() for the same text: "hash" and
 *	"home" must be strings (else -1, "store record user ... is
 *	damaged"); quota and max_message are a non-negative integer or the
 *	default; created an integer or 0; enabled and apps_only true or
 *	false; node a string (cut to MB_NODE_NAME_MAX bytes) or "". "v" is
 *	read and ignored. tests/fuzz/fuzz-user-record-fast.c checks that
 *	both paths agree on every input this one accepts.
 */
#include "store-internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the keys the fast path knows; any other key declines */
enum user_field {
	FIELD_V,
	FIELD_HASH,
	FIELD_ENABLED,
	FIELD_CREATED,
	FIELD_HOME,
	FIELD_QUOTA,
	FIELD_MAX_MESSAGE,
	FIELD_APPS_ONLY,
	FIELD_NODE,
	FIELD_COUNT
};

#define FIELD_NAME(name) { name, sizeof(name) - 1 }
static const struct {
	const char *name;
	size_t len;
} field_names[FIELD_COUNT] = {
	[FIELD_V] = FIELD_NAME("v"),
	[FIELD_HASH] = FIELD_NAME("hash"),
	[FIELD_ENABLED] = FIELD_NAME("enabled"),
	[FIELD_CREATED] = FIELD_NAME("created"),
	[FIELD_HOME] = FIELD_NAME("home"),
	[FIELD_QUOTA] = FIELD_NAME("quota"),
	[FIELD_MAX_MESSAGE] = FIELD_NAME("max_message"),
	[FIELD_APPS_ONLY] = FIELD_NAME("apps_only"),
	[FIELD_NODE] = FIELD_NAME("node"),
};

enum scan_kind {
	SCAN_ABSENT = 0,
	SCAN_STRING,
	SCAN_INTEGER,
	SCAN_TRUE,
	SCAN_FALSE,
	SCAN_NULL
};

/* one scalar as it stands in the record: a string points into it */
struct scan_value {
	enum scan_kind kind;
	const char *text;
	size_t len;
	int64_t integer;
};

struct scan {
	const char *p, *end;
};

/* at most 18 digits: 999999999999999999 < INT64_MAX, so no overflow to
   mirror; longer numbers go to jansson */
#define SCAN_INTEGER_DIGITS_MAX 18

/* scan_byte - consume c if it is next; whether it was */
static bool scan_byte(struct scan *s, char c)
{
	if (s->p == s->end || *s->p != c)
		return false;
	s->p++;
	return true;
}

/* plain_bytes - whether text holds only what a string may hold on the
   fast path: printable ASCII but the quote and the backslash. One pass
   without a branch per byte (the strings are mostly password hashes of
   100 bytes and more); with the memchr() before it, 0.31 us per decode
   against 0.42 for a byte-by-byte loop. */
static bool plain_bytes(const char *text, size_t len)
{
	unsigned char bad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		bad |= (unsigned char)((c < 0x20) | (c > 0x7e) | (c == '\\'));
	}
	return bad == 0;
}

/* scan_string - a string without escapes, of printable ASCII only: up
   to the next quote, which no escape can have hidden if there is no
   backslash before it */
static bool scan_string(struct scan *s, const char **text_r, size_t *len_r)
{
	const char *quote;

	if (!scan_byte(s, '"'))
		return false;
	quote = memchr(s->p, '"', (size_t)(s->end - s->p));
	if (quote == NULL || !plain_bytes(s->p, (size_t)(quote - s->p)))
		return false;
	*text_r = s->p;
	*len_r = (size_t)(quote - s->p);
	s->p = quote + 1;
	return true;
}

static bool is_digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

/* scan_integer - '-'? then 0 or [1-9][0-9]*, at most 18 digits; a
   leading zero, fraction or exponent is left unread, and the caller
   then finds no ',' or '}' after the value and declines */
static bool scan_integer(struct scan *s, int64_t *value_r)
{
	bool negative = scan_byte(s, '-');
	int64_t value = 0;
	size_t digits = 0;

	if (!is_digit(s))
		return false;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (is_digit(s)) {
			if (++digits > SCAN_INTEGER_DIGITS_MAX)
				return false;
			value = value * 10 + (*s->p++ - '0');
		}
	}
	*value_r = negative ? -value : value;
	return true;
}

/* scan_word - a literal such as "true" */
static bool scan_word(struct scan *s, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return false;
	s->p += len;
	return true;
}

/* scan_value - one scalar; false for anything else (objects, arrays,
   reals, escapes) */
static bool scan_value(struct scan *s, struct scan_value *value_r)
{
	if (s->p == s->end)
		return false;
	switch (*s->p) {
	case '"':
		value_r->kind = SCAN_STRING;
		return scan_string(s, &value_r->text, &value_r->len);
	case 't':
		value_r->kind = SCAN_TRUE;
		return scan_word(s, "true");
	case 'f':
		value_r->kind = SCAN_FALSE;
		return scan_word(s, "false");
	case 'n':
		value_r->kind = SCAN_NULL;
		return scan_word(s, "null");
	default:
		value_r->kind = SCAN_INTEGER;
		return scan_integer(s, &value_r->integer);
	}
}

/* field_index - which known key text is, or -1 */
static int field_index(const char *text, size_t len)
{
	for (int i = 0; i < FIELD_COUNT; i++) {
		if (field_names[i].len == len && memcmp(field_names[i].name, text, len) == 0)
			return i;
	}
	return -1;
}

/* scan_user_fields - the whole record into fields (indexed by enum
   user_field); false if it is not a flat object of known keys, each
   once, with scalar values, and nothing after it */
static bool scan_user_fields(const char *value, size_t len, struct scan_value fields[FIELD_COUNT])
{
	struct scan s = { value, value + len };

	if (!scan_byte(&s, '{'))
		return false;
	if (scan_byte(&s, '}'))
		return s.p == s.end;
	do {
		const char *key;
		size_t key_len;
		struct scan_value scanned;
		if (!scan_string(&s, &key, &key_len) || !scan_byte(&s, ':') ||
		    !scan_value(&s, &scanned))
			return false;
		int field = field_index(key, key_len);
		if (field < 0 || fields[field].kind != SCAN_ABSENT)
			return false;
		fields[field] = scanned;
	} while (scan_byte(&s, ','));
	return scan_byte(&s, '}') && s.p == s.end;
}

/* copy_text - a scanned string as a malloc'ed C string, NULL when out
   of memory */
static char *copy_text(const struct scan_value *value)
{
	char *copy = malloc(value->len + 1);

	if (copy != NULL) {
		memcpy(copy, value->text, value->len);
		copy[value->len] = '\0';
	}
	return copy;
}

/* field_limit - as decode_limit: a non-negative integer, else the default */
static uint64_t field_limit(const struct scan_value *value)
{
	return value->kind == SCAN_INTEGER && value->integer >= 0 ?
		(uint64_t)value->integer : MB_LIMIT_DEFAULT;
}

/* field_node - as snprintf "%s" of a string into node, cut to fit; "" if
   not a string */
static void field_node(const struct scan_value *value, char node[MB_NODE_NAME_MAX + 1])
{
	size_t len = value->kind == SCAN_STRING ? value->len : 0;

	if (len > MB_NODE_NAME_MAX)
		len = MB_NODE_NAME_MAX;
	if (len > 0)
		memcpy(node, value->text, len);
	node[len] = '\0';
}

int store_decode_user_fast(const char *key, size_t key_len, const char *value,
			   size_t len, struct mb_user *user, char *error, size_t size)
{
	struct scan_value fields[FIELD_COUNT] = { { SCAN_ABSENT, NULL, 0, 0 } };

	if (!scan_user_fields(value, len, fields))
		return 0;
	memset(user, 0, sizeof(*user));
	store_key_address(key, key_len, user->address, sizeof(user->address));
	if (fields[FIELD_HASH].kind != SCAN_STRING || fields[FIELD_HOME].kind != SCAN_STRING)
		return store_corrupt(error, size, "user", user->address);
	user->password_hash = copy_text(&fields[FIELD_HASH]);
	user->home = copy_text(&fields[FIELD_HOME]);
	user->quota_bytes = field_limit(&fields[FIELD_QUOTA]);
	user->max_message_bytes = field_limit(&fields[FIELD_MAX_MESSAGE]);
	user->created = fields[FIELD_CREATED].kind == SCAN_INTEGER ? fields[FIELD_CREATED].integer : 0;
	user->enabled = fields[FIELD_ENABLED].kind == SCAN_TRUE;
	user->app_passwords_only = fields[FIELD_APPS_ONLY].kind == SCAN_TRUE;
	field_node(&fields[FIELD_NODE], user->node);
	if (user->password_hash == NULL || user->home == NULL) {
		mb_user_clear(user);
		snprintf(error, size, "out of memory");
		return -1;
	}
	return 1;
}
