/* relay.h - global aliases, relay domains and relay networks changed (see relay.c).
 *
 * The actions behind `mailbag alias add|del --global` and `mailbag
 * relay`, and the calls the import applier makes for a seed's
 * global_aliases, relay_to_domains and relay_from_hosts. Each takes the
 * open store (cli_store()) and input as the user wrote it (checked and
 * normalised here); EX_OK, or the exit code with the reason printed on
 * stderr naming the bad input. A second call with the same input changes
 * nothing and is EX_OK. Nothing is said on stdout. */
#ifndef MAILBAG_CLI_RELAY_H
#define MAILBAG_CLI_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* local: "postmaster" (a local part; "postmaster@" is taken too).
   Targets: addresses here or elsewhere; one here must exist (a user or
   an alias) unless allow_missing. */
int cli_global_alias_add(struct cli *cli, const char *local, const char *const *targets, size_t count,
			 bool allow_missing);
/* Take the targets, or with none the whole global alias. */
int cli_global_alias_del(struct cli *cli, const char *local, const char *const *targets, size_t count);

/* Make domain a relay domain (we are its backup MX), or add to one:
   recipients (count 0: any recipient is accepted) are added to its
   list, next_hop ("HOST[:PORT]", "[IP]:PORT"; NULL: keep, "": DNS MX)
   replaces its own. Refused for a domain served here. */
int cli_relay_domain_add(struct cli *cli, const char *domain, const char *const *recipients,
			 size_t count, const char *next_hop);
/* Take recipients from its list, or with none the whole relay domain. */
int cli_relay_domain_del(struct cli *cli, const char *domain, const char *const *recipients,
			 size_t count);

/* A network ("10.0.0.0/8", "192.0.2.1", "2001:db8::/32") whose clients
   relay without logging in, and are signed like submissions. */
int cli_relay_network_add(struct cli *cli, const char *cidr);
int cli_relay_network_del(struct cli *cli, const char *cidr);

/* "postmaster", "Postmaster@" -> "postmaster" in buf; -1 said */
int cli_parse_local_part(struct cli *cli, const char *text, char buf[MB_LOCAL_MAX + 1]);

#endif
