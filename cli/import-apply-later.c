/* import-apply-later.c - the parts of an import plan written after the
 * users, aliases, keys and certificates: system aliases (system-aliases.c),
 * global aliases, relay domains and relay networks (relay.c), the
 * dkim_required patterns (the context's milter.dkim_required) and the
 * global Sieve scripts (copied into sieve.before_dir and sieve.after_dir).
 *
 * import_check_later runs with the other checks, before anything is
 * written, and adds what it refuses to the plan's problems (FILE:LINE),
 * so an import with a bad routing line writes nothing. The writers are
 * called once per import (import-apply.c, carry_over_later) and each
 * returns how many items it could not write (their reasons printed); a
 * second run finds each item there and changes nothing.
 */
#include "import-apply.h"
#include "files.h"
#include "relay.h"
#include "system-aliases.h"

#include "address.h"
#include "network.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>

extern char **environ;

/* --- checks --------------------------------------------------------- */

static int refuse(struct import_plan *plan, const struct import_origin *o, const char *what,
		  const char *text, const char *why)
{
	return import_plan_problem(plan, o->file, o->line, "%s '%s': %s", what, text, why);
}

static bool is_address(const char *text)
{
	struct mb_address parsed;
	const char *why;
	return strchr(text, '@') != NULL && mb_address_parse(text, NULL, &parsed, &why) == 0;
}

static bool is_domain(const char *text)
{
	char domain[MB_DOMAIN_MAX + 1];
	const char *why;
	return mb_domain_parse(text, domain, &why) == 0;
}

static int check_global_aliases(struct import_plan *plan)
{
	for (size_t i = 0; i < plan->global_alias_count; i++) {
		const struct import_global_alias *g = &plan->global_aliases[i];
		char address[MB_ADDRESS_MAX + 16];
		snprintf(address, sizeof(address), "%s@example.org", g->local_part);
		if (strchr(g->local_part, '@') != NULL || !is_address(address)) {
			if (refuse(plan, &g->origin, "global alias", g->local_part, "not a local part") < 0)
				return -1;
		} else if (!is_address(g->target)) {
			if (refuse(plan, &g->origin, "global alias target", g->target, "not a full address") < 0)
				return -1;
		}
	}
	return 0;
}

static int check_relay_domains(struct cli *cli, struct import_plan *plan)
{
	char error[512];
	for (size_t i = 0; i < plan->relay_domain_count; i++) {
		const struct import_relay_domain *r = &plan->relay_domains[i];
		int served = is_domain(r->domain)
			? mb_store_domain_exists(cli->store, r->domain, error, sizeof(error)) : 0;
		if (served < 0)
			return import_plan_problem(plan, r->origin.file, r->origin.line, "%s", error) < 0 ? -1 : 0;
		if (!is_domain(r->domain)) {
			if (refuse(plan, &r->origin, "relay domain", r->domain,
				   "not a plain domain name (mailbag relays whole domains, no wildcards)") < 0)
				return -1;
		} else if (served > 0 || import_plan_find_domain(plan, r->domain) != NULL) {
			if (refuse(plan, &r->origin, "relay domain", r->domain,
				   "its mail is delivered here; a domain is served or relayed, not both") < 0)
				return -1;
		}
		for (size_t j = 0; j < r->recipient_count; j++) {
			const char *at = strrchr(r->recipients[j], '@');
			if (!is_address(r->recipients[j]) || strcasecmp(at + 1, r->domain) != 0) {
				if (refuse(plan, &r->origin, "relay recipient", r->recipients[j],
					   "not an address at the relay domain") < 0)
					return -1;
			}
		}
	}
	return 0;
}

static int check_relay_networks(struct import_plan *plan)
{
	for (size_t i = 0; i < plan->relay_network_count; i++) {
		const struct import_network *n = &plan->relay_networks[i];
		struct mb_network net;
		const char *why = NULL;
		if (mb_network_parse(n->cidr, &net, &why) < 0 &&
		    refuse(plan, &n->origin, "relay network", n->cidr, why != NULL ? why : "not an address or network") < 0)
			return -1;
	}
	return 0;
}

static int check_dkim_required(struct import_plan *plan)
{
	for (size_t i = 0; i < plan->dkim_required_count; i++) {
		const struct import_pattern *p = &plan->dkim_required[i];
		const char *domain = strncmp(p->pattern, "*.", 2) == 0 ? p->pattern + 2 : p->pattern;
		if (!is_domain(domain) &&
		    refuse(plan, &p->origin, "dkim_required pattern", p->pattern,
			   "not a domain or *.domain (mailbag matches a domain and its subdomains that way)") < 0)
			return -1;
	}
	return 0;
}

static int check_sieve_dir(struct import_plan *plan, const char *dir)
{
	struct stat st;
	if (dir == NULL)
		return 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return import_plan_problem(plan, dir, 0, "the global Sieve directory cannot be read: %s",
					   stat(dir, &st) < 0 ? strerror(errno) : "not a directory");
	return 0;
}

int import_check_later(struct cli *cli, struct import_plan *plan)
{
	if (check_global_aliases(plan) < 0 || check_relay_domains(cli, plan) < 0 ||
	    check_relay_networks(plan) < 0 || check_dkim_required(plan) < 0 ||
	    check_sieve_dir(plan, plan->sieve_before_dir) < 0 || check_sieve_dir(plan, plan->sieve_after_dir) < 0)
		return -1;
	return 0;
}

/* --- writers -------------------------------------------------------- */

size_t import_apply_system_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t left = 0;
	for (size_t i = 0; i < plan->system_alias_count; i++) {
		const struct import_system_alias *s = &plan->system_aliases[i];
		const char *target = s->target;
		if (dry_run) {
			printf("would add system alias %s -> %s\n", s->name, target);
			continue;
		}
		if (cli_system_alias_add(cli, s->name, &target, 1, true) != EX_OK) {
			printf("notice: %s:%zu: system alias %s -> %s not added (the reason is above)\n",
			       s->origin.file, s->origin.line, s->name, target);
			left++;
		}
	}
	if (!dry_run && plan->system_alias_count > left)
		printf("%zu system aliases in place (mail the host's programs send to those names)\n",
		       plan->system_alias_count - left);
	return left;
}

size_t import_apply_global_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t left = 0;
	for (size_t i = 0; i < plan->global_alias_count; i++) {
		const struct import_global_alias *g = &plan->global_aliases[i];
		const char *target = g->target;
		if (dry_run) {
			printf("would add global alias %s@* -> %s\n", g->local_part, target);
			continue;
		}
		if (cli_global_alias_add(cli, g->local_part, &target, 1, true) != EX_OK) {
			printf("notice: %s:%zu: global alias %s@* not added (the reason is above)\n",
			       g->origin.file, g->origin.line, g->local_part);
			left++;
		}
	}
	if (!dry_run && plan->global_alias_count > left)
		printf("%zu global aliases in place (in every domain)\n", plan->global_alias_count - left);
	return left;
}

size_t import_apply_relay_domains(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t left = 0;
	for (size_t i = 0; i < plan->relay_domain_count; i++) {
		const struct import_relay_domain *r = &plan->relay_domains[i];
		if (dry_run) {
			printf("would relay for %s (backup MX, %zu listed recipients; sent on to its DNS MX)\n",
			       r->domain, r->recipient_count);
			continue;
		}
		if (cli_relay_domain_add(cli, r->domain, (const char *const *)r->recipients, r->recipient_count,
					 NULL) != EX_OK) {
			printf("notice: %s:%zu: relay domain %s not added (the reason is above)\n",
			       r->origin.file, r->origin.line, r->domain);
			left++;
		}
	}
	if (!dry_run && plan->relay_domain_count > left)
		printf("%zu relay domains in place (mailbag relay domain list)\n", plan->relay_domain_count - left);
	return left;
}

size_t import_apply_relay_networks(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t left = 0;
	for (size_t i = 0; i < plan->relay_network_count; i++) {
		const struct import_network *n = &plan->relay_networks[i];
		if (dry_run) {
			printf("would let %s relay without a login\n", n->cidr);
			continue;
		}
		if (cli_relay_network_add(cli, n->cidr) != EX_OK) {
			printf("notice: %s:%zu: relay network %s not added (the reason is above)\n",
			       n->origin.file, n->origin.line, n->cidr);
			left++;
		}
	}
	if (!dry_run && plan->relay_network_count > left)
		printf("%zu relay networks in place (mailbag relay network list)\n", plan->relay_network_count - left);
	return left;
}

/* --- dkim_required: the context file's milter.dkim_required ---------- */

static bool json_list_has(const json_t *list, const char *text)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item)
		if (json_is_string(item) && strcasecmp(json_string_value(item), text) == 0)
			return true;
	return false;
}

/* the patterns not yet in the context file's list go in; *added_r counts */
static int context_add_patterns(struct cli *cli, const struct import_plan *plan, size_t *added_r)
{
	const char *path = mb_context_path(cli->context_path);
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_PRESERVE_ORDER, &jerr);
	char error[1024];
	struct stat st;

	*added_r = 0;
	if (root == NULL || !json_is_object(root) || stat(path, &st) < 0) {
		cli_fail(cli, EX_CONFIG, "%s: %s", path, root == NULL ? jerr.text : "not a JSON object");
		json_decref(root);
		return -1;
	}
	json_t *milter = json_object_get(root, "milter");
	if (milter == NULL)
		json_object_set_new(root, "milter", milter = json_object());
	json_t *list = json_object_get(milter, "dkim_required");
	if (list == NULL)
		json_object_set_new(milter, "dkim_required", list = json_array());
	for (size_t i = 0; i < plan->dkim_required_count; i++) {
		if (!json_list_has(list, plan->dkim_required[i].pattern)) {
			json_array_append_new(list, json_string(plan->dkim_required[i].pattern));
			(*added_r)++;
		}
	}
	int ret = 0;
	char *text = *added_r > 0 ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	if (*added_r == 0)
		return 0;
	struct mb_context *check = NULL;
	bool changed = false;
	if (text == NULL)
		ret = cli_fail(cli, EX_OSERR, "out of memory");
	else if (mb_context_parse(path, text, strlen(text), &check, error, sizeof(error)) < 0)
		ret = cli_fail(cli, EX_DATAERR, "the dkim_required patterns would make the context wrong: %s", error);
	else if (cli_write_file(cli, path, text, st.st_mode & 07777, &changed) < 0)
		ret = -1;
	free(text);
	if (ret != 0) {
		mb_context_free(&check);
		return -1;
	}
	mb_context_free(&cli->ctx);
	cli->ctx = check;
	return 0;
}

size_t import_apply_dkim_required(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t added = 0;
	if (plan->dkim_required_count == 0)
		return 0;
	if (dry_run) {
		for (size_t i = 0; i < plan->dkim_required_count; i++)
			printf("would require a valid DKIM signature on mail from %s (milter.dkim_required)\n",
			       plan->dkim_required[i].pattern);
		return 0;
	}
	if (context_add_patterns(cli, plan, &added) < 0)
		return plan->dkim_required_count;
	if (added > 0)
		printf("%zu patterns added to milter.dkim_required: restart mailbag-milter (systemctl restart "
		       "mailbag-milter) for them to apply\n", added);
	return 0;
}

/* --- Sieve: the seed's global scripts into sieve.before_dir/after_dir -- */

/* copy one script, unless the same is there already; 1 copied, 0 same, -1 */
static int copy_script(struct cli *cli, const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	if (in == NULL) {
		cli_fail(cli, EX_NOINPUT, "%s: %s", from, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	char buf[8192];
	size_t n;
	while (mem != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, mem);
	bool read_failed = ferror(in);
	fclose(in);
	if (mem == NULL || fclose(mem) != 0 || read_failed || memchr(text, '\0', size) != NULL) {
		free(text);
		cli_fail(cli, EX_DATAERR, "%s: cannot be read as a Sieve script", from);
		return -1;
	}
	bool changed = false;
	int ret = cli_write_file(cli, to, text, 0644, &changed);
	free(text);
	return ret < 0 ? -1 : changed ? 1 : 0;
}

/* sievec DIR, so Dovecot (delivering as the mail user) finds binaries */
static int compile_dir(const char *dir)
{
	char *argv[] = { "sievec", (char *)dir, NULL };
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, "sievec", NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* the *.sieve files of from into to; how many could not be copied */
static size_t copy_sieve_dir(struct cli *cli, const char *from, const char *to, const char *key, bool dry_run)
{
	DIR *d = opendir(from);
	size_t left = 0, copied = 0;
	struct dirent *e;

	if (d == NULL) {
		printf("notice: %s: %s; its scripts were not copied\n", from, strerror(errno));
		return 1;
	}
	if (!dry_run && mkdir(to, 0755) < 0 && errno != EEXIST) {
		printf("notice: cannot make %s (%s): %s; copy the scripts of %s there by hand\n", to, key,
		       strerror(errno), from);
		closedir(d);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 7 || strcmp(e->d_name + len - 6, ".sieve") != 0)
			continue;
		char src[4096], dst[4096];
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		if (dry_run) {
			printf("would copy the Sieve script %s to %s\n", src, dst);
			continue;
		}
		int ret = copy_script(cli, src, dst);
		left += ret < 0;
		copied += ret > 0;
	}
	closedir(d);
	if (!dry_run && copied > 0) {
		printf("%zu Sieve scripts copied into %s (%s)\n", copied, to, key);
		if (compile_dir(to) < 0)
			printf("notice: sievec %s failed: mend the scripts there and run mailbag setup\n", to);
	}
	return left;
}

size_t import_apply_sieve_dirs(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	size_t left = 0;
	if (plan->sieve_before_dir != NULL)
		left += copy_sieve_dir(cli, plan->sieve_before_dir, cli->ctx->sieve.before_dir,
				       "sieve.before_dir", dry_run);
	if (plan->sieve_after_dir != NULL)
		left += copy_sieve_dir(cli, plan->sieve_after_dir, cli->ctx->sieve.after_dir,
				       "sieve.after_dir", dry_run);
	return left;
}
