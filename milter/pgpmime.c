/* pgpmime.c - the body checks of mailbag-milter's encryption-only mode
 * (the chatmail seed's filtermail). A message of kind
 *
 * PGPMIME_ENCRYPTED passes when it is exactly one RFC 3156 encrypted
 *	message: top-level multipart/encrypted with
 *	protocol="application/pgp-encrypted"; a first part of type
 *	application/pgp-encrypted saying "Version: 1"; a second part of type
 *	application/octet-stream (RFC 3156 4) holding one ASCII-armoured PGP
 *	MESSAGE and nothing else, whose packets are one encrypted message
 *	(openpgp.c); nothing after the closing delimiter.
 * PGPMIME_SETUP (an Autocrypt Setup Message, Autocrypt Level 1 4.4):
 *	multipart/mixed, a text/plain first part, an
 *	application/autocrypt-setup second part holding one armoured PGP
 *	MESSAGE encrypted with a passphrase (session keys of tag 3 only);
 *	text around the armour (the setup file's HTML) is allowed.
 * PGPMIME_SECUREJOIN (a Secure-Join vc-request or vg-request): a
 *	text/plain body, or multipart/mixed with one text/plain part, that
 *	holds just the line "Secure-Join: vc-request" (or vg-request).
 *
 * The body is read as it streams, a line at a time, in constant memory;
 * nothing is decrypted. Lines over PGPMIME_LINE_MAX are never delimiters.
 */
#include "pgpmime.h"
#include "stringify.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool pgpmime_parameter(const char *value, const char *name, char *out, size_t size)
{
	size_t name_len = strlen(name);
	const char *p = strchr(value, ';');

	while (p != NULL) {
		p++;
		while (is_space(*p))
			p++;
		if (strncasecmp(p, name, name_len) == 0) {
			const char *q = p + name_len;
			while (is_space(*q))
				q++;
			if (*q == '=') {
				q++;
				while (is_space(*q))
					q++;
				size_t n = 0;
				if (*q == '"') {
					for (q++; *q != '\0' && *q != '"'; q++) {
						if (*q == '\\' && q[1] != '\0')
							q++;
						if (n + 1 >= size)
							return false;
						out[n++] = *q;
					}
				} else {
					for (; *q != '\0' && *q != ';' && !is_space(*q); q++) {
						if (n + 1 >= size)
							return false;
						out[n++] = *q;
					}
				}
				out[n] = '\0';
				return n > 0;
			}
		}
		/* on to the next parameter, past any quoted string */
		bool quoted = false;
		for (; *p != '\0' && (quoted || *p != ';'); p++) {
			if (*p == '\\' && quoted && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
		p = *p == ';' ? p : NULL;
	}
	return false;
}

static void fail(struct pgpmime *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
}

bool pgpmime_is_type(const char *value, const char *type)
{
	size_t n = strlen(type);

	while (is_space(*value))
		value++;
	return strncasecmp(value, type, n) == 0 && (value[n] == '\0' || value[n] == ';' || is_space(value[n]));
}

void pgpmime_begin_kind(struct pgpmime *p, enum pgpmime_kind kind, const char *content_type,
			const char *securejoin)
{
	char boundary[PGPMIME_BOUNDARY_MAX + 2], protocol[PGPMIME_TYPE_MAX + 1];
	const char *type = content_type;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	openpgp_armor_begin(&p->armor, kind == PGPMIME_SETUP);
	while (is_space(*type))
		type++;
	if (kind == PGPMIME_SECUREJOIN) {
		snprintf(p->securejoin, sizeof(p->securejoin), "Secure-Join: %s", securejoin != NULL ? securejoin : "");
		if (pgpmime_is_type(type, "text/plain")) {
			p->multipart_encrypted = true;
			p->single = true;
			p->part = 1;
			return;
		}
		if (!pgpmime_is_type(type, "multipart/mixed")) {
			p->why = "a Secure-Join request passes unencrypted only as one text/plain part";
			return;
		}
	} else if (kind == PGPMIME_SETUP) {
		if (!pgpmime_is_type(type, "multipart/mixed")) {
			p->why = "an Autocrypt Setup Message is multipart/mixed, and this one is not";
			return;
		}
	} else {
		if (!pgpmime_is_type(type, "multipart/encrypted")) {
			p->why = "it is not multipart/encrypted";
			return;
		}
		if (!pgpmime_parameter(type, "protocol", protocol, sizeof(protocol)) ||
		    strcasecmp(protocol, "application/pgp-encrypted") != 0) {
			p->why = "its protocol is not application/pgp-encrypted";
			return;
		}
	}
	if (!pgpmime_parameter(type, "boundary", boundary, sizeof(boundary)) ||
	    strlen(boundary) > PGPMIME_BOUNDARY_MAX) {
		p->why = "it has no usable MIME boundary";
		return;
	}
	p->multipart_encrypted = true;
	p->delimiter_len = (size_t)snprintf(p->delimiter, sizeof(p->delimiter), "--%s", boundary);
}

void pgpmime_begin(struct pgpmime *p, const char *content_type)
{
	pgpmime_begin_kind(p, PGPMIME_ENCRYPTED, content_type, NULL);
}

/* delimiter_kind - 0 not a delimiter, 1 a part's start, 2 the close */
static int delimiter_kind(const struct pgpmime *p, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len < p->delimiter_len || memcmp(line, p->delimiter, p->delimiter_len) != 0)
		return 0;
	if (len == p->delimiter_len)
		return 1;
	if (len == p->delimiter_len + 2 && line[len - 2] == '-' && line[len - 1] == '-')
		return 2;
	return 0;
}

static int parts_wanted(const struct pgpmime *p)
{
	return p->kind == PGPMIME_SECUREJOIN ? 1 : 2;
}

/* type_value - the part's type/subtype from (the start of) a value */
static void type_value(struct pgpmime *p, const char *v)
{
	size_t n = 0;

	while (is_space(*v))
		v++;
	for (; *v != '\0' && *v != ';' && !is_space(*v) && n + 1 < sizeof(p->part_type); v++)
		p->part_type[n++] = (char)((*v >= 'A' && *v <= 'Z') ? *v - 'A' + 'a' : *v);
	p->part_type[n] = '\0';
}

static void part_header_line(struct pgpmime *p, const char *line)
{
	if (line[0] == ' ' || line[0] == '\t') {
		/* "Content-Type:" folded before its value */
		if (p->type_header && p->part_type[0] == '\0')
			type_value(p, line);
		return;
	}
	p->type_header = strncasecmp(line, "Content-Type:", 13) == 0;
	if (p->type_header)
		type_value(p, line + 13);
}

/* part_type_check - at a part's blank line: is its type the one wanted? */
static void part_type_check(struct pgpmime *p)
{
	/* RFC 2046 5.1: a part without Content-Type is text/plain */
	const char *type = p->part_type[0] != '\0' ? p->part_type : "text/plain";

	switch (p->kind) {
	case PGPMIME_ENCRYPTED:
		if (p->part == 1 && strcmp(type, "application/pgp-encrypted") != 0)
			fail(p, "its first part is not application/pgp-encrypted");
		else if (p->part == 2 && strcmp(type, "application/octet-stream") != 0)
			fail(p, "its second part is not application/octet-stream (RFC 3156 4)");
		break;
	case PGPMIME_SETUP:
		if (p->part == 1 && strcmp(type, "text/plain") != 0)
			fail(p, "its first part is not text/plain, as an Autocrypt Setup Message's is");
		else if (p->part == 2 && strcmp(type, "application/autocrypt-setup") != 0)
			fail(p, "its second part is not application/autocrypt-setup, as an Autocrypt Setup Message's is");
		break;
	case PGPMIME_SECUREJOIN:
		if (strcmp(type, "text/plain") != 0)
			fail(p, "a Secure-Join request passes unencrypted only as one text/plain part");
		break;
	}
}

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_space(line[i]))
			return false;
	}
	return true;
}

/* armour_body_line - a line of the part that holds the PGP message */
static void armour_body_line(struct pgpmime *p, const char *line, size_t len)
{
	if (p->line_overflow) {
		fail(p, "the part of its PGP message has a line over " MB_STRINGIFY(PGPMIME_LINE_MAX) " characters");
		return;
	}
	if (openpgp_armor_line(&p->armor, line, len) == 1)
		return;
	if (p->armor.state == ARMOR_DONE && strncmp(line, "-----BEGIN PGP MESSAGE-----", 27) == 0)
		fail(p, "it holds more than one PGP message");
	else if (p->kind == PGPMIME_ENCRYPTED && !blank(line, len))
		fail(p, "its second part holds text outside its PGP armour");
}

static void securejoin_line(struct pgpmime *p, const char *line, size_t len)
{
	while (len > 0 && is_space(line[len - 1]))
		len--;
	while (len > 0 && is_space(*line)) {
		line++;
		len--;
	}
	if (len == 0)
		return;
	p->securejoin_lines++;
	p->securejoin_ok = p->securejoin_lines == 1 && !p->line_overflow && len == strlen(p->securejoin) &&
		strncasecmp(line, p->securejoin, len) == 0;
}

static void one_line(struct pgpmime *p, const char *line, size_t len)
{
	int kind = p->line_overflow || p->single ? 0 : delimiter_kind(p, line, len);

	if (kind != 0 && p->in_part_header && p->part > 0 && p->part < 3) {
		/* a part whose header runs into the next delimiter was never
		   judged by its type: refused, not passed */
		fail(p, "a MIME part has no blank line after its header");
		p->part = 3;
		return;
	}
	if (kind == 1) {
		if (p->part >= parts_wanted(p)) {
			fail(p, parts_wanted(p) == 1 ? "it has more than one MIME part" : "it has more than two MIME parts");
			p->part = 3;
			return;
		}
		p->part++;
		p->in_part_header = true;
		p->type_header = false;
		p->part_type[0] = '\0';
		return;
	}
	if (kind == 2) {
		if (p->part != parts_wanted(p))
			fail(p, p->kind == PGPMIME_ENCRYPTED ? "it does not have the two parts of PGP/MIME" :
			     p->kind == PGPMIME_SETUP ? "it does not have the two parts of an Autocrypt Setup Message" :
			     "a Secure-Join request passes unencrypted only as one text/plain part");
		p->part = 3;
		return;
	}
	if (p->part == 3) {
		/* an epilogue of blank lines is fine; content is not */
		if (!blank(line, len))
			fail(p, "it has content after its closing MIME delimiter");
		return;
	}
	if (p->in_part_header) {
		if (len == 0) {
			p->in_part_header = false;
			part_type_check(p);
		} else {
			part_header_line(p, line);
		}
		return;
	}
	if (p->part == 0)
		return; /* the preamble */
	switch (p->kind) {
	case PGPMIME_ENCRYPTED:
		if (p->part == 1 && len >= 10 && strncasecmp(line, "Version:", 8) == 0) {
			const char *v = line + 8;
			while (*v == ' ' || *v == '\t')
				v++;
			p->control_version_ok = v[0] == '1' && (v[1] == '\0' || is_space(v[1]));
		} else if (p->part == 2) {
			armour_body_line(p, line, len);
		}
		break;
	case PGPMIME_SETUP:
		if (p->part == 2)
			armour_body_line(p, line, len);
		break;
	case PGPMIME_SECUREJOIN:
		securejoin_line(p, line, len);
		break;
	}
}

void pgpmime_body(struct pgpmime *p, const unsigned char *data, size_t len)
{
	if (!p->multipart_encrypted)
		return;
	for (size_t i = 0; i < len; i++) {
		char c = (char)data[i];
		if (c == '\n') {
			size_t n = p->line_len;
			if (n > 0 && p->line[n - 1] == '\r')
				n--;
			p->line[n] = '\0';
			one_line(p, p->line, n);
			p->line_len = 0;
			p->line_overflow = false;
		} else if (p->line_len < PGPMIME_LINE_MAX) {
			p->line[p->line_len++] = c;
		} else {
			p->line_overflow = true;
		}
	}
}

bool pgpmime_end(struct pgpmime *p, const char **why_r)
{
	const char *why = NULL;

	if (p->multipart_encrypted && p->line_len > 0) {
		p->line[p->line_len] = '\0';
		one_line(p, p->line, p->line_len);
		p->line_len = 0;
	}
	if (p->why == NULL && p->multipart_encrypted) {
		if (!p->single && p->part != 3)
			p->why = "it does not end with its closing MIME delimiter";
		else if (p->kind == PGPMIME_ENCRYPTED && !p->control_version_ok)
			p->why = "its first part does not say Version: 1";
		else if (p->kind == PGPMIME_SECUREJOIN && (!p->securejoin_ok || p->securejoin_lines != 1))
			p->why = "a Secure-Join request passes unencrypted only when its body is just its Secure-Join line";
		else if (p->kind != PGPMIME_SECUREJOIN && !openpgp_armor_end(&p->armor, &why))
			p->why = why;
	}
	*why_r = p->why;
	return p->why == NULL;
}
