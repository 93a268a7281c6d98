/* dns-tinydns.h - one DNS record as a tinydns-data line (see dns-tinydns.c). */
#ifndef MAILBAG_CLI_DNS_TINYDNS_H
#define MAILBAG_CLI_DNS_TINYDNS_H

#include <stdio.h>

#define DNS_TINYDNS_TTL 3600

/* Write the record name (no trailing dot), type ("MX", "TXT", "CNAME",
   "SRV", "TLSA") and value as `mailbag dns records` gives them in zone
   form ("10 mx.example.org.", the whole TXT text, "0 1 587 mx.example.org.",
   "3 1 1 HEX") to out as one tinydns-data line with the ttl. 0, or -1
   with *error_r when the value is not of the type's form. */
int dns_tinydns_line(FILE *out, const char *name, const char *type, const char *value,
		     unsigned ttl, const char **error_r);

#endif
