/* dns-records.h - the DNS records the domains need (see dns-records.c). */
#ifndef MAILBAG_CLI_DNS_RECORDS_H
#define MAILBAG_CLI_DNS_RECORDS_H

#include <stdbool.h>

#include "cli.h"

/* Print the host's records and those of domain (already parsed), or of
   every domain of the store when domain is NULL: zone-file lines, or
   one JSON array with --json. EX_OK, or the exit code (printed). */
int cli_dns_records(struct cli *cli, const char *domain);

/* The same, as tinydns-data lines when tinydns (dns-tinydns.c). */
int cli_dns_records_as(struct cli *cli, const char *domain, bool tinydns);

#endif
