/* openpgp.h - is this ASCII-armoured OpenPGP message encrypted? The
   armour decoder and packet-header walker of the encryption-only mode
   (see openpgp.c). Pure: bytes in, verdict out, constant memory. */
#ifndef MAILBAG_MILTER_OPENPGP_H
#define MAILBAG_MILTER_OPENPGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPENPGP_DECODED_MAX (256u << 20)  /* octets of one armoured message */

/* The top-level packet sequence: zero or more session key packets, then
   one encrypted data packet, nothing after it. */
struct openpgp_packets {
	bool symmetric_only;        /* no public-key session keys (an Autocrypt setup file) */
	int state;                  /* 0 a packet's first octet, 1 its length octets, 2 its body, 3 done */
	unsigned int tag;
	bool new_format;
	unsigned char length[5];
	size_t length_have, length_need;
	uint64_t remaining;         /* of the current body chunk */
	bool partial;               /* the chunk is a partial body length */
	bool first_body_octet;      /* the next octet is the version */
	size_t session_keys;
	const char *why;
};

void openpgp_packets_begin(struct openpgp_packets *w, bool symmetric_only);
void openpgp_packets_update(struct openpgp_packets *w, const unsigned char *data, size_t len);
/* true when the octets were one encrypted message; else false, why set */
bool openpgp_packets_end(struct openpgp_packets *w, const char **why_r);

enum openpgp_armor_state {
	ARMOR_BEFORE,   /* no BEGIN line yet */
	ARMOR_HEADERS,  /* armour headers, up to the blank line */
	ARMOR_DATA,     /* base64 lines */
	ARMOR_PADDED,   /* the base64 ended ('=' padding or the CRC line) */
	ARMOR_DONE,     /* the END line was seen */
};

/* One "-----BEGIN PGP MESSAGE-----" ... "-----END PGP MESSAGE-----",
   fed a line at a time (without its line end). */
struct openpgp_armor {
	enum openpgp_armor_state state;
	uint32_t quantum;           /* base64 sextets gathered */
	int quantum_len;
	int padding;                /* '=' seen at the end of the data */
	uint32_t crc;               /* CRC-24 of the decoded octets */
	bool crc_line;
	uint64_t decoded;
	struct openpgp_packets packets;
	const char *why;
};

void openpgp_armor_begin(struct openpgp_armor *a, bool symmetric_only);
/* 1 the line belonged to the armour (from its BEGIN to its END line), 0 not */
int openpgp_armor_line(struct openpgp_armor *a, const char *line, size_t len);
/* true when one whole armour was seen and held one encrypted message */
bool openpgp_armor_end(struct openpgp_armor *a, const char **why_r);

#endif
