/* import-apply-later.c - the parts of an import plan that other parts of
 * mailbag carry over: system aliases (the host-mail work), global aliases,
 * relay domains and relay networks (the routing work), dkim_required and
 * the Sieve before/after dirs (the Sieve work).
 *
 * THE PLACE TO WIRE THEM: each function below is called once per import
 * (import-apply.c, carry_over_later) after the users, aliases, keys and
 * certificates are written (or, with dry_run, only checked). Until its
 * kind is wired, each says what it leaves as a notice on stdout and
 * returns how many items it left.
 */
#include "import-apply.h"

#include <stdio.h>

static size_t not_yet(const char *kind, size_t count, const char *what_to_do)
{
	if (count == 0)
		return 0;
	printf("notice: %zu %s not carried over yet: %s\n", count, kind, what_to_do);
	return count;
}

size_t import_apply_system_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	for (size_t i = 0; i < plan->system_alias_count; i++)
		printf("notice: %s:%zu: system alias %s -> %s not carried over yet\n", plan->system_aliases[i].origin.file,
		       plan->system_aliases[i].origin.line, plan->system_aliases[i].name, plan->system_aliases[i].target);
	return not_yet("system aliases", plan->system_alias_count,
		       "add them to the host's /etc/aliases and run newaliases");
}

size_t import_apply_global_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	return not_yet("global aliases", plan->global_alias_count, "add an alias in each domain (mailbag alias add)");
}

size_t import_apply_relay_domains(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	return not_yet("relay domains", plan->relay_domain_count, "configure Postfix's relay_domains by hand");
}

size_t import_apply_relay_networks(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	return not_yet("relay networks", plan->relay_network_count, "add them to Postfix's mynetworks by hand");
}

size_t import_apply_dkim_required(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	return not_yet("dkim_required patterns", plan->dkim_required_count,
		       "add them to the context's dkim.dkim_required");
}

size_t import_apply_sieve_dirs(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	(void)cli; (void)dry_run;
	return not_yet("global Sieve script dirs", (plan->sieve_before_dir != NULL) + (plan->sieve_after_dir != NULL),
		       "set Dovecot's sieve_before/sieve_after by hand");
}
