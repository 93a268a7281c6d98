/* pgpmime.h - is this message OpenPGP-encrypted (RFC 3156 PGP/MIME), or
   one of the two kinds of message the encryption-only mode lets through
   in the clear (see pgpmime.c)? */
#ifndef MAILBAG_MILTER_PGPMIME_H
#define MAILBAG_MILTER_PGPMIME_H

#include <stdbool.h>
#include <stddef.h>

#include "openpgp.h"

#define PGPMIME_BOUNDARY_MAX 70  /* RFC 2046 5.1.1 */
#define PGPMIME_LINE_MAX 1000    /* longer lines are content, never delimiters */
#define PGPMIME_TYPE_MAX 63      /* a type/subtype compared: a longer one is none wanted */

/* What the body must be. */
enum pgpmime_kind {
	PGPMIME_ENCRYPTED,   /* RFC 3156 multipart/encrypted, one encrypted OpenPGP message */
	PGPMIME_SETUP,       /* an Autocrypt Setup Message (Autocrypt Level 1 4.4) */
	PGPMIME_SECUREJOIN,  /* a Secure-Join request: one text/plain part, just the Secure-Join line */
};

struct pgpmime {
	enum pgpmime_kind kind;
	bool multipart_encrypted;   /* the header gave the right type: the body is read */
	bool single;                /* a Secure-Join text/plain body: no MIME parts */
	char delimiter[PGPMIME_BOUNDARY_MAX + 3];   /* "--" boundary */
	size_t delimiter_len;
	char line[PGPMIME_LINE_MAX + 1];
	size_t line_len;
	bool line_overflow;
	int part;                   /* 0 preamble, 1 first part, 2 second part, 3 after the close */
	bool in_part_header;
	bool type_header;           /* the part header line being read is Content-Type */
	char part_type[PGPMIME_TYPE_MAX + 1]; /* this part's type/subtype, lower case ("" none given) */
	bool control_version_ok;    /* encrypted, part 1 body: "Version: 1" */
	struct openpgp_armor armor; /* the part holding the PGP message */
	char securejoin[48];        /* "Secure-Join: vc-request", the one line wanted */
	int securejoin_lines;       /* non-blank lines of the Secure-Join body */
	bool securejoin_ok;
	const char *why;            /* the first thing found wrong */
};

/* Start: the top-level Content-Type value; a multipart/encrypted message. */
void pgpmime_begin(struct pgpmime *p, const char *content_type);
/* Start for a kind; securejoin: the Secure-Join field's value (vc-request
   or vg-request) for PGPMIME_SECUREJOIN, else NULL. */
void pgpmime_begin_kind(struct pgpmime *p, enum pgpmime_kind kind, const char *content_type,
			const char *securejoin);
void pgpmime_body(struct pgpmime *p, const unsigned char *data, size_t len);
/* true when the message is what its kind says and nothing else; else
   false with why set. */
bool pgpmime_end(struct pgpmime *p, const char **why_r);

/* The value of parameter name in a Content-Type value (case-insensitive,
   quoted or not), into out; false when absent or too long. */
/* the Content-Type value starts with this type/subtype (then ;, space or its end) */
bool pgpmime_is_type(const char *value, const char *type);
bool pgpmime_parameter(const char *value, const char *name, char *out, size_t size);

#endif
