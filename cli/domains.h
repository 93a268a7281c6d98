/* domains.h - the domains served here, added, changed, deleted (see domains.c). */
#ifndef MAILBAG_CLI_DOMAINS_H
#define MAILBAG_CLI_DOMAINS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

/* The limits a domain is given: each a size (0 = none) or
   MB_LIMIT_DEFAULT (the context's), set only when its set_ flag is. */
struct cli_domain_options {
	bool set_quota, set_max_message;
	uint64_t quota_bytes, max_message_bytes;
};

/* Each takes a parsed domain and the open store (cli_store()); EX_OK,
   or the exit code with the reason printed. Nothing is said on stdout. */

/* Serve mailboxes for domain, with opts' limits (the others default);
   refused while "@domain" is a domain alias. */
int cli_domain_add(struct cli *cli, const char *domain, const struct cli_domain_options *opts);
/* Set opts' limits of an existing domain. */
int cli_domain_set_limits(struct cli *cli, const char *domain, const struct cli_domain_options *opts);
/* An existing domain's record, into record_r. */
int cli_domain_get(struct cli *cli, const char *domain, struct mb_domain *record_r);
/* Stop serving domain; force: with its users and aliases. */
int cli_domain_del(struct cli *cli, const char *domain, bool force);

#endif
