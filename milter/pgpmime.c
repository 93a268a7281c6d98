/* pgpmime.c - the check behind mailbag-milter's encryption-only mode (the
 * chatmail seed's filtermail): a message passes when it is exactly one
 * RFC 3156 encrypted message: top-level multipart/encrypted with
 * protocol="application/pgp-encrypted", a first part of type
 * application/pgp-encrypted saying "Version: 1", a second part holding
 * one ASCII-armoured PGP MESSAGE, and nothing after the closing
 * delimiter. The body is read as it streams, a line at a time, in
 * constant memory; nothing is decrypted or parsed beyond that.
 */
#include "pgpmime.h"

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

void pgpmime_begin(struct pgpmime *p, const char *content_type)
{
	char boundary[PGPMIME_BOUNDARY_MAX + 2], protocol[64];
	const char *type = content_type;

	memset(p, 0, sizeof(*p));
	while (is_space(*type))
		type++;
	if (strncasecmp(type, "multipart/encrypted", 19) != 0 ||
	    (type[19] != ';' && !is_space(type[19]))) {
		p->why = "it is not multipart/encrypted";
		return;
	}
	if (!pgpmime_parameter(type, "protocol", protocol, sizeof(protocol)) ||
	    strcasecmp(protocol, "application/pgp-encrypted") != 0) {
		p->why = "its protocol is not application/pgp-encrypted";
		return;
	}
	if (!pgpmime_parameter(type, "boundary", boundary, sizeof(boundary)) ||
	    strlen(boundary) > PGPMIME_BOUNDARY_MAX) {
		p->why = "it has no usable MIME boundary";
		return;
	}
	p->multipart_encrypted = true;
	p->delimiter_len = (size_t)snprintf(p->delimiter, sizeof(p->delimiter), "--%s", boundary);
}

static void fail(struct pgpmime *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
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

static void part_header_line(struct pgpmime *p, const char *line)
{
	if (strncasecmp(line, "Content-Type:", 13) != 0)
		return;
	const char *v = line + 13;
	while (is_space(*v))
		v++;
	if (p->part == 1)
		p->control_type_ok = strncasecmp(v, "application/pgp-encrypted", 25) == 0;
}

static void one_line(struct pgpmime *p, const char *line, size_t len)
{
	int kind = p->line_overflow ? 0 : delimiter_kind(p, line, len);

	if (kind == 1) {
		if (p->part >= 2) {
			p->extra = true;
			fail(p, "it has more than two MIME parts");
			return;
		}
		p->part++;
		p->in_part_header = true;
		return;
	}
	if (kind == 2) {
		if (p->part != 2)
			fail(p, "it does not have the two parts of PGP/MIME");
		p->part = 3;
		return;
	}
	if (p->part == 3) {
		/* an epilogue of blank lines is fine; content is not */
		for (size_t i = 0; i < len; i++) {
			if (!is_space(line[i])) {
				p->extra = true;
				fail(p, "it has content after its closing MIME delimiter");
				return;
			}
		}
		return;
	}
	if (p->in_part_header) {
		if (len == 0)
			p->in_part_header = false;
		else
			part_header_line(p, line);
		return;
	}
	if (p->part == 1 && len >= 10 && strncasecmp(line, "Version:", 8) == 0) {
		const char *v = line + 8;
		while (*v == ' ' || *v == '\t')
			v++;
		p->control_version_ok = v[0] == '1' && (v[1] == '\0' || is_space(v[1]));
	} else if (p->part == 2) {
		if (strcmp(line, "-----BEGIN PGP MESSAGE-----") == 0) {
			if (p->data_armor_begin)
				fail(p, "it holds more than one PGP message");
			p->data_armor_begin = true;
		} else if (strcmp(line, "-----END PGP MESSAGE-----") == 0) {
			p->data_armor_end = true;
		}
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
	if (p->multipart_encrypted && p->line_len > 0) {
		p->line[p->line_len] = '\0';
		one_line(p, p->line, p->line_len);
		p->line_len = 0;
	}
	if (p->why == NULL && p->multipart_encrypted) {
		if (p->part != 3)
			p->why = "it does not end with its closing MIME delimiter";
		else if (!p->control_type_ok)
			p->why = "its first part is not application/pgp-encrypted";
		else if (!p->control_version_ok)
			p->why = "its first part does not say Version: 1";
		else if (!p->data_armor_begin || !p->data_armor_end)
			p->why = "its second part holds no ASCII-armoured PGP message";
	}
	*why_r = p->why;
	return p->why == NULL;
}
