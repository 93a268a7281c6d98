/* fuzz-headers.c - libFuzzer harness for mailbag-milter's header
 * handling: the input is a message header ("Name: value" lines, folded
 * lines allowed) and body. Each field goes through the header list (with
 * its bounds), the From mailbox parser, the Authentication-Results
 * authserv-id parser and relaxed canonicalization; the body through the
 * relaxed body hash and the PGP/MIME check of the encryption-only mode
 * (with the message's own Content-Type and with a fixed PGP/MIME one), in
 * pieces of sizes taken from the input.
 */
#include "canon.h"
#include "headers.h"
#include "pgpmime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_field(struct header_list *list, const char *line)
{
	char addresses[FROM_MAX_ADDRESSES][MB_ADDRESS_MAX + 1];
	struct mb_error_text why;
	const char *colon = strchr(line, ':');

	if (colon == NULL)
		return;
	char *name = strndup(line, (size_t)(colon - line));
	const char *value = colon + 1;
	if (name == NULL)
		return;
	headers_add(list, name, value);
	headers_parse_mailboxes(value, addresses, FROM_MAX_ADDRESSES, &why);
	headers_authres_claims(value, "mx.example.net");
	size_t n = strlen(name), v = strlen(value);
	char *canon = malloc(n + v + 3);
	if (canon != NULL)
		canon_header_relaxed(name, n, value, v, true, canon);
	free(canon);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header_list list = { 0 };
	char *text = malloc(size + 1);
	size_t at = 0;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* fields: lines, a line starting with space or tab continues one */
	while (at < size && text[at] != '\0') {
		size_t end = at;
		while (end < size && text[end] != '\0') {
			if (text[end] == '\n' && (end + 1 >= size || (text[end + 1] != ' ' && text[end + 1] != '\t')))
				break;
			end++;
		}
		if (end == at || (end == at + 1 && text[at] == '\r')) {
			at = end + 1;
			break; /* the empty line: the body follows */
		}
		char saved = text[end];
		text[end] = '\0';
		one_field(&list, text + at);
		text[end] = saved;
		at = end + 1;
	}
	headers_count(&list, "from");
	headers_nth(&list, "authentication-results", 2);
	const struct header *type = headers_nth(&list, "content-type", 1);
	struct pgpmime own, fixed;
	pgpmime_begin(&own, type != NULL ? type->value : "text/plain");
	pgpmime_begin(&fixed, "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"XyZ\"");
	headers_clear(&list);

	struct canon_body body;
	unsigned char digest[32];
	if (canon_body_init(&body) == 0) {
		size_t piece = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
		for (size_t i = at < size ? at : size; i < size; i += piece) {
			size_t n = size - i < piece ? size - i : piece;
			canon_body_update(&body, data + i, n);
			pgpmime_body(&own, data + i, n);
			pgpmime_body(&fixed, data + i, n);
		}
		canon_body_final(&body, digest);
	}
	const char *why;
	pgpmime_end(&own, &why);
	pgpmime_end(&fixed, &why);
	free(text);
	return 0;
}
