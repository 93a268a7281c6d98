/* fuzz-openpgp.c - libFuzzer harness for the encryption-only mode's
 * OpenPGP reading (openpgp.c): the input, split into lines, goes through
 * the armour decoder and packet walker (both kinds: any session keys,
 * passphrase ones only); the same bytes go as binary packets straight to
 * the walker; and, wrapped as the second part of a PGP/MIME message and
 * as the setup part of an Autocrypt Setup Message, through pgpmime.c in
 * pieces of sizes taken from the input.
 */
#include "openpgp.h"
#include "pgpmime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void through_mime(enum pgpmime_kind kind, const char *type, const char *head, const uint8_t *data,
			 size_t size, size_t piece)
{
	static const char tail[] = "\r\n--B--\r\n";
	struct pgpmime p;
	const char *why;

	pgpmime_begin_kind(&p, kind, type, NULL);
	pgpmime_body(&p, (const unsigned char *)head, strlen(head));
	for (size_t i = 0; i < size; i += piece)
		pgpmime_body(&p, data + i, size - i < piece ? size - i : piece);
	pgpmime_body(&p, (const unsigned char *)tail, strlen(tail));
	pgpmime_end(&p, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct openpgp_armor any, symmetric;
	struct openpgp_packets raw;
	const char *why;
	size_t at = 0;

	openpgp_armor_begin(&any, false);
	openpgp_armor_begin(&symmetric, true);
	while (at < size) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		openpgp_armor_line(&any, (const char *)data + at, end - at);
		openpgp_armor_line(&symmetric, (const char *)data + at, end - at);
		at = end + 1;
	}
	openpgp_armor_end(&any, &why);
	openpgp_armor_end(&symmetric, &why);

	openpgp_packets_begin(&raw, size > 0 && (data[0] & 1) != 0);
	size_t piece = size > 0 ? (size_t)data[size - 1] % 23 + 1 : 1;
	for (size_t i = 0; i < size; i += piece)
		openpgp_packets_update(&raw, data + i, size - i < piece ? size - i : piece);
	openpgp_packets_end(&raw, &why);

	through_mime(PGPMIME_ENCRYPTED, "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"B\"",
		     "--B\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
		     "--B\r\nContent-Type: application/octet-stream\r\n\r\n", data, size, piece);
	through_mime(PGPMIME_SETUP, "multipart/mixed; boundary=\"B\"",
		     "--B\r\nContent-Type: text/plain\r\n\r\nsetup\r\n"
		     "--B\r\nContent-Type: application/autocrypt-setup\r\n\r\n", data, size, piece);
	return 0;
}
