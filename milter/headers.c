/* headers.c - the header fields of one message as mailbag-milter saw
 * them, and the parsers of the values it decides on: the mailboxes of a
 * From field (RFC 5322 3.4) and the authserv-id of an
 * Authentication-Results field (RFC 8601 2.2). Both take outside input
 * of any shape and run in time linear in its length.
 */
#include "headers.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int headers_add(struct header_list *list, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);

	if (list->count >= HEADERS_MAX_COUNT || list->bytes + name_len + value_len > HEADERS_MAX_BYTES)
		return -1;
	struct header *items = mb_grow(list->items, &list->capacity, list->count + 1,
				       sizeof(*list->items), 32);
	if (items == NULL)
		return -1;
	list->items = items;
	struct header *h = &list->items[list->count];
	h->name = strdup(name);
	h->value = strdup(value);
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		return -1;
	}
	h->name_len = name_len;
	h->value_len = value_len;
	list->count++;
	list->bytes += name_len + value_len;
	return 0;
}

void headers_clear(struct header_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].name);
		free(list->items[i].value);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

size_t headers_count(const struct header_list *list, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < list->count; i++)
		n += strcasecmp(list->items[i].name, name) == 0;
	return n;
}

const struct header *headers_nth(const struct header_list *list, const char *name, size_t nth)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcasecmp(list->items[i].name, name) == 0 && --nth == 0)
			return &list->items[i];
	}
	return NULL;
}

/* One mailbox being read: its text outside comments, and its angle
   address when it has one. */
struct mailbox_scan {
	char plain[MB_ADDRESS_MAX + 2];
	size_t plain_len;
	bool plain_overflow;
	char angle[MB_ADDRESS_MAX + 2];
	size_t angle_len;
	bool angle_overflow;
	bool has_angle;
	bool any;     /* anything but whitespace */
};

static void scan_put(char *buf, size_t *len, bool *overflow, char c)
{
	if (*len < MB_ADDRESS_MAX + 1)
		buf[(*len)++] = c;
	else
		*overflow = true;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* finish_mailbox - check and store one mailbox; -1 when it is no address */
static int finish_mailbox(struct mailbox_scan *m, char addresses[][MB_ADDRESS_MAX + 1], size_t max,
			  int *count, struct mb_error_text *error_r)
{
	const char *text = m->has_angle ? m->angle : m->plain;
	size_t len = m->has_angle ? m->angle_len : m->plain_len;
	bool overflow = m->has_angle ? m->angle_overflow : m->plain_overflow;

	if (!m->any && !m->has_angle) {
		memset(m, 0, sizeof(*m));
		return 0; /* an empty list element: tolerated */
	}
	/* an angle address may start with an obsolete route "@a,@b:" */
	const char *colon = m->has_angle ? memchr(text, ':', len) : NULL;
	if (colon != NULL && text[0] == '@') {
		len -= (size_t)(colon + 1 - text);
		text = colon + 1;
	}
	while (len > 0 && is_space(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_space(text[len - 1]))
		len--;
	if (overflow || len > MB_ADDRESS_MAX) {
		return mb_set_error(error_r, "an address longer than %d characters", MB_ADDRESS_MAX);
	}
	const char *at = len > 0 ? memrchr(text, '@', len) : NULL;
	if (at == NULL || at == text || at == text + len - 1) {
		return mb_set_error(error_r, "%s", m->has_angle && len == 0 ? "an empty address <>" :
				    "a mailbox without local@domain");
	}
	if ((size_t)*count < max) {
		for (size_t i = 0; i < len; i++) {
			char c = text[i];
			addresses[*count][i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		addresses[*count][len] = '\0';
	}
	(*count)++;
	memset(m, 0, sizeof(*m));
	return 0;
}

int headers_parse_mailboxes(const char *value, char addresses[][MB_ADDRESS_MAX + 1], size_t max,
			    struct mb_error_text *error_r)
{
	struct mailbox_scan m;
	int count = 0, comment_depth = 0;
	bool quoted = false, in_angle = false, escaped = false;

	memset(&m, 0, sizeof(m));
	for (const char *p = value; *p != '\0'; p++) {
		char c = *p;
		if (escaped) {
			escaped = false;
			if (comment_depth == 0)
				scan_put(in_angle ? m.angle : m.plain, in_angle ? &m.angle_len : &m.plain_len,
					 in_angle ? &m.angle_overflow : &m.plain_overflow, c);
			continue;
		}
		if (c == '\\' && (quoted || comment_depth > 0)) {
			escaped = true;
			continue;
		}
		if (comment_depth > 0) {
			comment_depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (quoted) {
			if (c == '"')
				quoted = false;
			else if (!in_angle)
				scan_put(m.plain, &m.plain_len, &m.plain_overflow, c);
			else
				scan_put(m.angle, &m.angle_len, &m.angle_overflow, c);
			continue;
		}
		if (c == '(') {
			comment_depth = 1;
		} else if (c == '"') {
			quoted = true;
			m.any = true;
		} else if (in_angle) {
			if (c == '>')
				in_angle = false;
			else
				scan_put(m.angle, &m.angle_len, &m.angle_overflow, c);
		} else if (c == '<') {
			if (m.has_angle)
				return mb_set_error(error_r, "two <addresses> in one mailbox");
			in_angle = m.has_angle = true;
		} else if (c == ':') {
			/* "group name:" - what came before is the group's name */
			memset(&m, 0, sizeof(m));
		} else if (c == ',' || c == ';') {
			if (finish_mailbox(&m, addresses, max, &count, error_r) < 0)
				return -1;
		} else {
			if (!is_space(c))
				m.any = true;
			scan_put(m.plain, &m.plain_len, &m.plain_overflow, c);
		}
	}
	if (quoted || in_angle || comment_depth > 0)
		return mb_set_error(error_r, "%s", quoted ? "an unterminated quoted string" :
				    in_angle ? "an unterminated <address>" : "an unterminated comment");
	if (finish_mailbox(&m, addresses, max, &count, error_r) < 0)
		return -1;
	return count;
}

const char *headers_address_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

bool headers_authres_claims(const char *value, const char *authserv_id)
{
	const char *p = value;
	int depth = 0;
	char id[MB_DOMAIN_MAX + 2]; /* a longer id, cut here, still differs from a hostname */
	size_t len = 0;

	/* leading whitespace and comments */
	for (; *p != '\0'; p++) {
		if (depth > 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else
				depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		} else if (*p == '(') {
			depth = 1;
		} else if (!is_space(*p)) {
			break;
		}
	}
	if (*p == '"') { /* value = token / quoted-string */
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (len < sizeof(id) - 1)
				id[len++] = *p;
		}
	} else {
		for (; *p != '\0' && *p != ';' && *p != '(' && !is_space(*p); p++) {
			if (len < sizeof(id) - 1)
				id[len++] = *p;
		}
	}
	id[len] = '\0';
	return len > 0 && strcasecmp(id, authserv_id) == 0;
}
