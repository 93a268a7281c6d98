/* address.h - parse and normalise mail addresses (see address.c). */
#ifndef MAILBAG_ADDRESS_H
#define MAILBAG_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* plain numbers: messages spell them with MB_STRINGIFY */
#define MB_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define MB_DOMAIN_MAX 253 /* RFC 1035, without the trailing dot */
#define MB_LABEL_MAX 63   /* RFC 1035 2.3.4: one label of a domain */
#define MB_ADDRESS_MAX (MB_LOCAL_MAX + 1 + MB_DOMAIN_MAX)

struct mb_address {
	char local[MB_LOCAL_MAX + 1];  /* lower case, detail removed */
	char detail[MB_LOCAL_MAX + 1]; /* what followed the delimiter, or "" */
	char domain[MB_DOMAIN_MAX + 1]; /* lower case */
	bool has_detail;
};

/* Parse "local@domain" (no display name, no angle brackets, no quoted local
   part). delimiters: characters that start a subaddress ("+", "+-"), or NULL
   or "" for none. Returns 0, or -1 with *error_r saying what is wrong. */
int mb_address_parse(const char *text, const char *delimiters,
		     struct mb_address *addr_r, const char **error_r);

/* Parse a bare domain name into lower case. Returns 0 or -1 with *error_r. */
int mb_domain_parse(const char *text, char domain_r[MB_DOMAIN_MAX + 1],
		    const char **error_r);

/* in, ASCII-lower-cased, into out (truncated to size - 1 bytes). */
void mb_lower_copy(const char *in, char *out, size_t size);

/* "local@domain" without the detail into buf (MB_ADDRESS_MAX + 1 bytes). */
void mb_address_format(const struct mb_address *addr, char *buf, size_t size);

/* address without its +detail ("a+b@x" -> "a@x") into base_r: true, or
   false (base_r untouched) when it has no detail or is no address. */
bool mb_address_base(const char *address, const char *delimiters,
		     char base_r[MB_ADDRESS_MAX + 1]);

#endif
