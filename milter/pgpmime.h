/* pgpmime.h - is this message OpenPGP-encrypted (RFC 3156 PGP/MIME)?
   For the encryption-only mode (see pgpmime.c). */
#ifndef MAILBAG_MILTER_PGPMIME_H
#define MAILBAG_MILTER_PGPMIME_H

#include <stdbool.h>
#include <stddef.h>

#define PGPMIME_BOUNDARY_MAX 70  /* RFC 2046 5.1.1 */
#define PGPMIME_LINE_MAX 1000    /* longer lines are content, never delimiters */

struct pgpmime {
	bool multipart_encrypted;   /* the header said so, with the right protocol */
	char delimiter[PGPMIME_BOUNDARY_MAX + 3];   /* "--" boundary */
	size_t delimiter_len;
	char line[PGPMIME_LINE_MAX + 1];
	size_t line_len;
	bool line_overflow;
	int part;                   /* 0 preamble, 1 control part, 2 data part, 3 after the close */
	bool in_part_header;
	bool control_type_ok;       /* part 1: Content-Type application/pgp-encrypted */
	bool control_version_ok;    /* part 1 body: "Version: 1" */
	bool data_armor_begin;      /* part 2 body: the armour's first line */
	bool data_armor_end;
	bool extra;                 /* a third part, or content after the close */
	const char *why;            /* the first thing found wrong */
};

/* Start: the top-level Content-Type value. */
void pgpmime_begin(struct pgpmime *p, const char *content_type);
void pgpmime_body(struct pgpmime *p, const unsigned char *data, size_t len);
/* true when the message is one PGP/MIME encrypted message and nothing
   else; else false with why set. */
bool pgpmime_end(struct pgpmime *p, const char **why_r);

/* The value of parameter name in a Content-Type value (case-insensitive,
   quoted or not), into out; false when absent or too long. */
bool pgpmime_parameter(const char *value, const char *name, char *out, size_t size);

#endif
