/* headers.h - a message's header fields as the milter saw them, and the
   parsers of header values the milter decides on (see headers.c). */
#ifndef MAILBAG_MILTER_HEADERS_H
#define MAILBAG_MILTER_HEADERS_H

#include "address.h"
#include "error-text.h"

#include <stdbool.h>
#include <stddef.h>

/* Bounds on one message's header: past them the message is refused. */
#define HEADERS_MAX_COUNT 10000
#define HEADERS_MAX_BYTES (4 * 1024 * 1024)

struct header {
	char *name;
	char *value;   /* as the MTA gave it, folding included */
	size_t name_len, value_len;
};

struct header_list {
	struct header *items;
	size_t count, capacity;
	size_t bytes;
};

/* Appends a copy. 0, or -1 when a bound is passed or memory is out. */
int headers_add(struct header_list *list, const char *name, const char *value);
void headers_clear(struct header_list *list);
/* How many fields have this name (case-insensitive). */
size_t headers_count(const struct header_list *list, const char *name);
/* The nth (1-based) field of this name, or NULL. */
const struct header *headers_nth(const struct header_list *list, const char *name, size_t nth);

#define FROM_MAX_ADDRESSES 32

/* The addresses of a From-like mailbox list ("Name <a@b>, c@d", groups,
   comments, quoted strings), lower-cased, each at most MB_ADDRESS_MAX.
   Returns how many there are (possibly more than were written, up to
   max), or -1 when the value holds something that is not an address
   (error_r says what). Linear in the length of value. */
int headers_parse_mailboxes(const char *value, char addresses[][MB_ADDRESS_MAX + 1], size_t max,
			    struct mb_error_text *error_r);

/* The domain part of an address from headers_parse_mailboxes. */
const char *headers_address_domain(const char *address);

/* Whether an Authentication-Results value names authserv_id as its
   author (RFC 8601 2.2: the first token, before any version and ';'). */
bool headers_authres_claims(const char *value, const char *authserv_id);

#endif
