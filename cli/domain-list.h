/* domain-list.h - every domain record, read before a walk (see domain-list.c). */
#ifndef MAILBAG_CLI_DOMAIN_LIST_H
#define MAILBAG_CLI_DOMAIN_LIST_H

#include <stddef.h>

#include "cli.h"

/* Every domain record, sorted by name, read before a listing walks the
   users (a lookup inside a store walk is not allowed). */
struct cli_domains {
	struct mb_domain *items;
	size_t count;
};
int cli_domains_load(struct cli *cli, struct cli_domains *domains, char *error, size_t error_size);
const struct mb_domain *cli_domains_find(const struct cli_domains *domains, const char *name);
void cli_domains_free(struct cli_domains *domains);
/* The domains a command works on: the one named (already checked), or
   every domain of the store; -1 with *exit_r printed. */
int cli_target_domains(struct cli *cli, const char *named, struct cli_domains *domains, int *exit_r);

#endif
