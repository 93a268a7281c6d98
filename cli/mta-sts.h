/* mta-sts.h - the MTA-STS policy and its record's id (see mta-sts.c). */
#ifndef MAILBAG_CLI_MTA_STS_H
#define MAILBAG_CLI_MTA_STS_H

#include <stddef.h>

/* The MTA-STS policy (RFC 8461 3.2) this host serves for every domain. */
void cli_mta_sts_policy(const char *host, char *buf, size_t size);
/* The id of the _mta-sts TXT record for that policy text. */
void cli_mta_sts_id(const char *policy, char id[17]);

#endif
