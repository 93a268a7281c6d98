/* dns-check.h - `mailbag dns check` (see dns-check.c). */
#ifndef MAILBAG_CLI_DNS_CHECK_H
#define MAILBAG_CLI_DNS_CHECK_H

#include "cli.h"

/* `dns check [--server IPv4[:PORT]] [DOMAIN]`, argv[0] "check"; the
   exit code (cmd-dns.c hands the verb on) */
int cli_dns_check(struct cli *cli, int argc, char **argv);

#endif
