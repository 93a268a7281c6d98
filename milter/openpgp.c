/* openpgp.c - what an ASCII-armoured OpenPGP message is, for the
 * encryption-only mode (pgpmime.c): the armour's base64 is decoded (at
 * most OPENPGP_DECODED_MAX octets; the CRC-24 line, when there is one,
 * must match) and the top-level packet headers are walked (RFC 9580 4.2:
 * old and new packet formats, partial body lengths) without decrypting
 * anything. An encrypted message is
 *
 *	zero or more PKESK (tag 1, v3 or v6) or SKESK (tag 3, v4, v5 or v6)
 *	then one SEIPD (tag 18, v1 or v2) or OCB Encrypted Data (tag 20, v1:
 *	GnuPG 2.4's AEAD packet, LibrePGP)
 *	and nothing after it.
 *
 * Everything else is refused, saying why: a literal data packet (the text
 * in the clear, what "gpg --store" makes), compressed or signed data, the
 * old Symmetrically Encrypted Data packet (tag 9, no integrity check), a
 * marker or padding packet, a packet after the encrypted data. Octets are
 * taken as they stream, in constant memory.
 *
 * Deviations, on purpose: RFC 9580 6.1 says a reader must not reject an
 * object for its CRC-24; a filter refuses a damaged armour. RFC 9580 says
 * marker (5.8) and padding (5.14) packets are ignored; here they are
 * refused, as nothing legitimate needs them around a PGP/MIME message.
 */
#include "openpgp.h"

#include <string.h>

static void packets_fail(struct openpgp_packets *w, const char *why)
{
	if (w->why == NULL)
		w->why = why;
	w->state = 3;
}

void openpgp_packets_begin(struct openpgp_packets *w, bool symmetric_only)
{
	memset(w, 0, sizeof(*w));
	w->symmetric_only = symmetric_only;
}

static bool data_tag(unsigned int tag)
{
	return tag == 8 || tag == 9 || tag == 11 || tag == 18 || tag == 20;
}

/* packet_allowed - whether a packet of this tag may come now */
static bool packet_allowed(struct openpgp_packets *w)
{
	switch (w->tag) {
	case 1:
		if (w->symmetric_only) {
			packets_fail(w, "its setup data is encrypted to a public key, not with a passphrase");
			return false;
		}
		w->session_keys++;
		return true;
	case 3:
		w->session_keys++;
		return true;
	case 18:
	case 20:
		return true;
	case 11:
		packets_fail(w, "its PGP message is a literal data packet: the text is in the clear");
		return false;
	case 8:
		packets_fail(w, "its PGP message is compressed data, not encrypted");
		return false;
	case 2:
	case 4:
		packets_fail(w, "its PGP message is signed, not encrypted");
		return false;
	case 9:
		packets_fail(w, "its PGP message uses the Symmetrically Encrypted Data packet, "
			     "which has no integrity protection (RFC 9580 5.7)");
		return false;
	case 10:
		packets_fail(w, "its PGP message holds a marker packet");
		return false;
	default:
		packets_fail(w, "its PGP message holds a packet that is neither a session key nor encrypted data");
		return false;
	}
}

/* length_done - the length octets are all here */
static void length_done(struct openpgp_packets *w)
{
	const unsigned char *l = w->length;
	bool first_chunk = !w->partial;   /* not after a partial chunk */

	w->partial = false;
	if (!w->new_format) {
		uint64_t n = 0;
		for (size_t i = 0; i < w->length_need; i++)
			n = (n << 8) | l[i];
		w->remaining = n;
	} else if (l[0] < 192) {
		w->remaining = l[0];
	} else if (l[0] < 224) {
		w->remaining = ((uint64_t)(l[0] - 192) << 8) + l[1] + 192;
	} else if (l[0] == 255) {
		w->remaining = ((uint64_t)l[1] << 24) | ((uint64_t)l[2] << 16) | ((uint64_t)l[3] << 8) | l[4];
	} else {
		w->remaining = (uint64_t)1 << (l[0] & 0x1f);
		w->partial = true;
		if (!data_tag(w->tag)) {
			packets_fail(w, "its PGP message has a session key packet with a partial body length");
			return;
		}
		if (first_chunk && w->remaining < 512) {
			packets_fail(w, "its PGP message has a first partial body length under 512 octets (RFC 9580 4.2.1.4)");
			return;
		}
	}
	if (first_chunk && !w->partial && w->remaining == 0) {
		packets_fail(w, "its PGP message has an empty packet");
		return;
	}
	w->state = 2;
}

/* body_ended - the current chunk is over: more chunks, or the packet */
static void body_ended(struct openpgp_packets *w)
{
	if (w->partial) {
		w->state = 1;
		w->length_have = 0;
		w->length_need = 1;
		return;
	}
	w->state = w->tag == 18 || w->tag == 20 ? 3 : 0;
}

static void version_octet(struct openpgp_packets *w, unsigned char v)
{
	bool ok;

	w->first_body_octet = false;
	switch (w->tag) {
	case 1: ok = v == 3 || v == 6; break;
	case 3: ok = v == 4 || v == 5 || v == 6; break;
	case 18: ok = v == 1 || v == 2; break;
	default: ok = v == 1; break;   /* 20 */
	}
	if (!ok)
		packets_fail(w, "its PGP message has a packet of an unknown version");
}

void openpgp_packets_update(struct openpgp_packets *w, const unsigned char *data, size_t len)
{
	size_t i = 0;

	while (i < len && w->why == NULL) {
		unsigned char c = data[i];
		switch (w->state) {
		case 0:
			i++;
			if ((c & 0x80) == 0) {
				packets_fail(w, "its PGP message holds octets that are not an OpenPGP packet");
				break;
			}
			w->new_format = (c & 0x40) != 0;
			w->tag = w->new_format ? (c & 0x3fu) : ((c >> 2) & 0x0fu);
			w->length_have = 0;
			w->partial = false;
			w->first_body_octet = true;
			if (!packet_allowed(w))
				break;
			if (w->new_format) {
				w->length_need = 1;
			} else if ((c & 3) == 3) {
				/* only data packets may run to the end, and the
				   encrypted ones are all new-format tags */
				packets_fail(w, "its PGP message has a session key packet of indeterminate length");
				break;
			} else {
				w->length_need = (size_t)1 << (c & 3);
			}
			w->state = 1;
			break;
		case 1:
			i++;
			w->length[w->length_have++] = c;
			if (w->new_format && w->length_have == 1) {
				if (c >= 192 && c < 224)
					w->length_need = 2;
				else if (c == 255)
					w->length_need = 5;
			}
			if (w->length_have == w->length_need) {
				length_done(w);
				if (w->state == 2 && w->remaining == 0)
					body_ended(w);
			}
			break;
		case 2: {
			if (w->first_body_octet)
				version_octet(w, c);
			size_t n = len - i;
			if (n > w->remaining)
				n = (size_t)w->remaining;
			i += n;
			w->remaining -= n;
			if (w->remaining == 0)
				body_ended(w);
			break;
		}
		default:
			packets_fail(w, "its PGP message has data after its encrypted data packet");
			break;
		}
	}
}

bool openpgp_packets_end(struct openpgp_packets *w, const char **why_r)
{
	if (w->why == NULL && w->state != 3) {
		if (w->state != 0)
			w->why = "its PGP message ends inside a packet";
		else if (w->session_keys > 0)
			w->why = "its PGP message has session keys but no encrypted data";
		else
			w->why = "its PGP message is empty";
	}
	*why_r = w->why;
	return w->why == NULL;
}

/* The armour */

static const char armor_begin_line[] = "-----BEGIN PGP MESSAGE-----";
static const char armor_end_line[] = "-----END PGP MESSAGE-----";

void openpgp_armor_begin(struct openpgp_armor *a, bool symmetric_only)
{
	memset(a, 0, sizeof(*a));
	a->crc = 0xB704CEu;
	openpgp_packets_begin(&a->packets, symmetric_only);
}

static void armor_fail(struct openpgp_armor *a, const char *why)
{
	if (a->why == NULL)
		a->why = why;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void crc24(struct openpgp_armor *a, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		a->crc ^= (uint32_t)data[i] << 16;
		for (int b = 0; b < 8; b++) {
			a->crc <<= 1;
			if ((a->crc & 0x1000000u) != 0)
				a->crc ^= 0x1864CFBu;
		}
	}
}

static void emit(struct openpgp_armor *a, const unsigned char *octets, size_t n)
{
	a->decoded += n;
	if (a->decoded > OPENPGP_DECODED_MAX) {
		armor_fail(a, "its PGP message is larger than 256 MiB");
		return;
	}
	crc24(a, octets, n);
	openpgp_packets_update(&a->packets, octets, n);
}

static void crc_line(struct openpgp_armor *a, const char *line, size_t len)
{
	uint32_t v = 0;

	if (a->crc_line) {
		armor_fail(a, "its PGP armour has two CRC lines");
		return;
	}
	a->crc_line = true;
	if (a->quantum_len != 0) {
		armor_fail(a, "its PGP armour is not valid base64 (a partial final quantum)");
		return;
	}
	for (size_t i = 1; i < len; i++) {
		int s = sextet(line[i]);
		if (len != 5 || s < 0) {
			armor_fail(a, "its PGP armour has a malformed CRC line");
			return;
		}
		v = (v << 6) | (uint32_t)s;
	}
	if (len != 5) {
		armor_fail(a, "its PGP armour has a malformed CRC line");
		return;
	}
	if (v != (a->crc & 0xFFFFFFu))
		armor_fail(a, "its PGP armour's CRC-24 does not match its data");
	a->state = ARMOR_PADDED;
}

static void data_line(struct openpgp_armor *a, const char *line, size_t len)
{
	if (len == 0)
		return;
	if (line[0] == '=') {
		crc_line(a, line, len);
		return;
	}
	if (a->state == ARMOR_PADDED) {
		armor_fail(a, "its PGP armour has base64 after the end of its data");
		return;
	}
	for (size_t i = 0; i < len && a->why == NULL; i++) {
		int s = sextet(line[i]);
		if (line[i] == '=') {
			if (a->quantum_len < 2) {
				armor_fail(a, "its PGP armour is not valid base64 (misplaced padding)");
				return;
			}
			a->padding++;
			s = 0;
		} else if (s < 0) {
			armor_fail(a, "its PGP armour is not valid base64 (a character outside the alphabet)");
			return;
		} else if (a->padding > 0) {
			armor_fail(a, "its PGP armour is not valid base64 (data after padding)");
			return;
		}
		a->quantum = (a->quantum << 6) | (uint32_t)s;
		if (++a->quantum_len == 4) {
			unsigned char octets[3] = {
				(unsigned char)(a->quantum >> 16), (unsigned char)(a->quantum >> 8),
				(unsigned char)a->quantum,
			};
			emit(a, octets, 3 - (size_t)a->padding);
			a->quantum = 0;
			a->quantum_len = 0;
			if (a->padding > 0) {
				if (i + 1 < len)
					armor_fail(a, "its PGP armour is not valid base64 (data after padding)");
				a->state = ARMOR_PADDED;
				return;
			}
		}
	}
}

int openpgp_armor_line(struct openpgp_armor *a, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	bool is_end = len == sizeof(armor_end_line) - 1 && memcmp(line, armor_end_line, len) == 0;

	switch (a->state) {
	case ARMOR_BEFORE:
		if (len != sizeof(armor_begin_line) - 1 || memcmp(line, armor_begin_line, len) != 0)
			return 0;
		a->state = ARMOR_HEADERS;
		return 1;
	case ARMOR_HEADERS:
		if (is_end)
			break;
		if (len == 0) {
			a->state = ARMOR_DATA;
			return 1;
		}
		/* "Key: value"; base64 has no colon, so a line without one is
		   data from an armour that left out the blank line */
		if (memchr(line, ':', len) != NULL)
			return 1;
		a->state = ARMOR_DATA;
		data_line(a, line, len);
		return 1;
	case ARMOR_DATA:
	case ARMOR_PADDED:
		if (is_end)
			break;
		if (a->why == NULL)
			data_line(a, line, len);
		return 1;
	case ARMOR_DONE:
		return 0;
	}
	a->state = ARMOR_DONE;
	return 1;
}

bool openpgp_armor_end(struct openpgp_armor *a, const char **why_r)
{
	if (a->why == NULL) {
		if (a->state == ARMOR_BEFORE)
			a->why = "it holds no ASCII-armoured PGP message";
		else if (a->state != ARMOR_DONE)
			a->why = "its PGP armour has no END line";
		else if (a->quantum_len != 0)
			a->why = "its PGP armour is not valid base64 (a partial final quantum)";
		else
			openpgp_packets_end(&a->packets, &a->why);
	}
	*why_r = a->why;
	return a->why == NULL;
}
