/* canon.c - DKIM "relaxed" canonicalization of headers and body
 * (RFC 6376 3.4.2 and 3.4.4), for mailbag-milter's signer. The body is
 * canonicalized and hashed as the milter receives it, a chunk at a time,
 * so no message is held whole.
 */
#include "canon.h"

#include <string.h>

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

size_t canon_header_relaxed(const char *name, size_t name_len, const char *value, size_t value_len,
			    bool crlf, char *out)
{
	size_t n = 0;
	bool space = false, started = false;

	while (name_len > 0 && is_wsp(name[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++)
		out[n++] = lower(name[i]);
	out[n++] = ':';
	for (size_t i = 0; i < value_len; i++) {
		char c = value[i];
		if (c == '\r' || c == '\n')
			continue; /* unfold */
		if (is_wsp(c)) {
			space = true;
			continue;
		}
		/* a run of whitespace inside the value becomes one space */
		if (space && started)
			out[n++] = ' ';
		space = false;
		started = true;
		out[n++] = c;
	}
	if (crlf) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

int canon_body_init(struct canon_body *body)
{
	memset(body, 0, sizeof(*body));
	body->md = EVP_MD_CTX_new();
	if (body->md == NULL || EVP_DigestInit_ex(body->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(body->md);
		body->md = NULL;
		return -1;
	}
	return 0;
}

static void emit(struct canon_body *body, const char *data, size_t len)
{
	if (body->used + len > sizeof(body->out)) {
		EVP_DigestUpdate(body->md, body->out, body->used);
		body->used = 0;
	}
	if (len > sizeof(body->out)) {
		EVP_DigestUpdate(body->md, data, len);
		return;
	}
	memcpy(body->out + body->used, data, len);
	body->used += len;
}

/* end_line - a CRLF: a line with content ends at once, an empty one waits */
static void end_line(struct canon_body *body)
{
	if (body->line_has_content)
		emit(body, "\r\n", 2);
	else
		body->empty_lines++;
	body->line_has_content = false;
	body->pending_space = false;
}

static void content(struct canon_body *body, char c)
{
	if (!body->line_has_content) {
		/* empty lines before content are content too */
		for (; body->empty_lines > 0; body->empty_lines--)
			emit(body, "\r\n", 2);
	}
	if (body->pending_space)
		emit(body, " ", 1);
	body->pending_space = false;
	body->line_has_content = true;
	emit(body, &c, 1);
}

void canon_body_update(struct canon_body *body, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = (char)data[i];
		if (body->pending_cr) {
			body->pending_cr = false;
			if (c == '\n') {
				end_line(body);
				continue;
			}
			content(body, '\r'); /* a bare CR is content */
		}
		if (c == '\r')
			body->pending_cr = true;
		else if (c == '\n')
			end_line(body); /* a bare LF ends a line as Postfix would */
		else if (is_wsp(c))
			body->pending_space = true;
		else
			content(body, c);
	}
}

void canon_body_final(struct canon_body *body, unsigned char digest[SHA256_DIGEST_LENGTH])
{
	unsigned int len = SHA256_DIGEST_LENGTH;

	if (body->pending_cr)
		content(body, '\r');
	if (body->line_has_content)
		emit(body, "\r\n", 2);
	EVP_DigestUpdate(body->md, body->out, body->used);
	EVP_DigestFinal_ex(body->md, digest, &len);
	canon_body_free(body);
}

void canon_body_free(struct canon_body *body)
{
	EVP_MD_CTX_free(body->md);
	body->md = NULL;
}
