/* import-plan.c - the neutral plan of an import (see import-plan.h): the
 * adders every format's reader calls, and the plan's release.
 */
#include "import-plan.h"
#include "grow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void import_plan_init(struct import_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
}

/* a copy of s (NULL stays NULL); *failed set when memory ran out */
static char *copy_or_null(const char *s, bool *failed)
{
	if (s == NULL)
		return NULL;
	char *copy = strdup(s);
	if (copy == NULL)
		*failed = true;
	return copy;
}

static char **copy_list(const char *const *items, size_t count, bool *failed)
{
	if (count == 0)
		return NULL;
	char **copy = calloc(count, sizeof(*copy));
	if (copy == NULL) {
		*failed = true;
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		copy[i] = copy_or_null(items[i], failed);
	return copy;
}

static void free_list(char **items, size_t count)
{
	for (size_t i = 0; items != NULL && i < count; i++)
		free(items[i]);
	free(items);
}

static void origin_free(struct import_origin *origin)
{
	free(origin->file);
}

/* room for one more element in *array; NULL when out of memory */
static void *room_for_one(void **array, size_t *capacity, size_t count, size_t size)
{
	void *grown = mb_grow(*array, capacity, count + 1, size, 0);
	if (grown == NULL)
		return NULL;
	*array = grown;
	return (char *)grown + count * size;
}

#define PLAN_ROOM(plan, field, count_field, capacity_field)                    \
	room_for_one((void **)&(plan)->field, &(plan)->capacity_field,          \
		     (plan)->count_field, sizeof(*(plan)->field))

int import_plan_domain(struct import_plan *plan, const char *name, const char *file, size_t line)
{
	struct import_domain *d = PLAN_ROOM(plan, domains, domain_count, domain_capacity);
	if (d == NULL)
		return -1;
	bool failed = false;
	*d = (struct import_domain){ .name = copy_or_null(name, &failed),
				     .origin = { copy_or_null(file, &failed), line } };
	plan->domain_count++;
	return failed ? -1 : 0;
}

int import_plan_user(struct import_plan *plan, const struct import_user *user,
		     const char *file, size_t line)
{
	struct import_user *u = PLAN_ROOM(plan, users, user_count, user_capacity);
	if (u == NULL)
		return -1;
	bool failed = false;
	*u = (struct import_user){
		.address = copy_or_null(user->address, &failed),
		.hash = copy_or_null(user->hash, &failed),
		.home = copy_or_null(user->home, &failed),
		.maildir = copy_or_null(user->maildir, &failed),
		.quota_bytes = user->quota_bytes,
		.reset_reason = copy_or_null(user->reset_reason, &failed),
		.origin = { copy_or_null(file, &failed), line },
	};
	plan->user_count++;
	return failed ? -1 : 0;
}

int import_plan_alias(struct import_plan *plan, const char *source,
		      const char *const *targets, size_t target_count,
		      const char *file, size_t line)
{
	struct import_alias *a = PLAN_ROOM(plan, aliases, alias_count, alias_capacity);
	if (a == NULL)
		return -1;
	bool failed = false;
	*a = (struct import_alias){
		.source = copy_or_null(source, &failed),
		.targets = copy_list(targets, target_count, &failed),
		.target_count = target_count,
		.origin = { copy_or_null(file, &failed), line },
	};
	plan->alias_count++;
	return failed ? -1 : 0;
}

int import_plan_system_alias(struct import_plan *plan, const char *name, const char *target,
			     const char *file, size_t line)
{
	struct import_system_alias *a =
		PLAN_ROOM(plan, system_aliases, system_alias_count, system_alias_capacity);
	if (a == NULL)
		return -1;
	bool failed = false;
	*a = (struct import_system_alias){ .name = copy_or_null(name, &failed),
					   .target = copy_or_null(target, &failed),
					   .origin = { copy_or_null(file, &failed), line } };
	plan->system_alias_count++;
	return failed ? -1 : 0;
}

int import_plan_global_alias(struct import_plan *plan, const char *local_part, const char *target,
			     const char *file, size_t line)
{
	struct import_global_alias *a =
		PLAN_ROOM(plan, global_aliases, global_alias_count, global_alias_capacity);
	if (a == NULL)
		return -1;
	bool failed = false;
	*a = (struct import_global_alias){ .local_part = copy_or_null(local_part, &failed),
					   .target = copy_or_null(target, &failed),
					   .origin = { copy_or_null(file, &failed), line } };
	plan->global_alias_count++;
	return failed ? -1 : 0;
}

int import_plan_relay_domain(struct import_plan *plan, const char *domain,
			     const char *const *recipients, size_t recipient_count,
			     const char *file, size_t line)
{
	struct import_relay_domain *r =
		PLAN_ROOM(plan, relay_domains, relay_domain_count, relay_domain_capacity);
	if (r == NULL)
		return -1;
	bool failed = false;
	*r = (struct import_relay_domain){
		.domain = copy_or_null(domain, &failed),
		.recipients = copy_list(recipients, recipient_count, &failed),
		.recipient_count = recipient_count,
		.origin = { copy_or_null(file, &failed), line },
	};
	plan->relay_domain_count++;
	return failed ? -1 : 0;
}

int import_plan_relay_network(struct import_plan *plan, const char *cidr, const char *file, size_t line)
{
	struct import_network *n =
		PLAN_ROOM(plan, relay_networks, relay_network_count, relay_network_capacity);
	if (n == NULL)
		return -1;
	bool failed = false;
	*n = (struct import_network){ .cidr = copy_or_null(cidr, &failed),
				      .origin = { copy_or_null(file, &failed), line } };
	plan->relay_network_count++;
	return failed ? -1 : 0;
}

int import_plan_dkim_key(struct import_plan *plan, const char *domain, const char *selector,
			 const char *private_key_file, const char *file, size_t line)
{
	struct import_dkim_key *k = PLAN_ROOM(plan, dkim_keys, dkim_key_count, dkim_key_capacity);
	if (k == NULL)
		return -1;
	bool failed = false;
	*k = (struct import_dkim_key){ .domain = copy_or_null(domain, &failed),
				       .selector = copy_or_null(selector, &failed),
				       .private_key_file = copy_or_null(private_key_file, &failed),
				       .origin = { copy_or_null(file, &failed), line } };
	plan->dkim_key_count++;
	return failed ? -1 : 0;
}

int import_plan_dkim_required(struct import_plan *plan, const char *pattern, const char *file, size_t line)
{
	struct import_pattern *p =
		PLAN_ROOM(plan, dkim_required, dkim_required_count, dkim_required_capacity);
	if (p == NULL)
		return -1;
	bool failed = false;
	*p = (struct import_pattern){ .pattern = copy_or_null(pattern, &failed),
				      .origin = { copy_or_null(file, &failed), line } };
	plan->dkim_required_count++;
	return failed ? -1 : 0;
}

int import_plan_certificate(struct import_plan *plan, const char *name, const char *cert_file,
			    const char *key_file, const char *file, size_t line)
{
	struct import_certificate *c =
		PLAN_ROOM(plan, certificates, certificate_count, certificate_capacity);
	if (c == NULL)
		return -1;
	bool failed = false;
	*c = (struct import_certificate){ .name = copy_or_null(name, &failed),
					  .cert_file = copy_or_null(cert_file, &failed),
					  .key_file = copy_or_null(key_file, &failed),
					  .origin = { copy_or_null(file, &failed), line } };
	plan->certificate_count++;
	return failed ? -1 : 0;
}

int import_plan_sieve_dirs(struct import_plan *plan, const char *before_dir, const char *after_dir)
{
	bool failed = false;
	free(plan->sieve_before_dir);
	free(plan->sieve_after_dir);
	plan->sieve_before_dir = copy_or_null(before_dir, &failed);
	plan->sieve_after_dir = copy_or_null(after_dir, &failed);
	return failed ? -1 : 0;
}

static int add_message(struct import_message **array, size_t *count, size_t *capacity,
		       const char *file, size_t line, const char *format, va_list args)
{
	struct import_message *m = room_for_one((void **)array, capacity, *count, sizeof(**array));
	if (m == NULL)
		return -1;
	char *text = NULL;
	if (vasprintf(&text, format, args) < 0)
		return -1;
	bool failed = false;
	*m = (struct import_message){ .text = text, .origin = { copy_or_null(file, &failed), line } };
	(*count)++;
	return failed ? -1 : 0;
}

int import_plan_problem(struct import_plan *plan, const char *file, size_t line, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	int ret = add_message(&plan->problems, &plan->problem_count, &plan->problem_capacity,
			      file, line, format, args);
	va_end(args);
	return ret;
}

int import_plan_notice(struct import_plan *plan, const char *file, size_t line, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	int ret = add_message(&plan->notices, &plan->notice_count, &plan->notice_capacity,
			      file, line, format, args);
	va_end(args);
	return ret;
}

struct import_user *import_plan_find_user(struct import_plan *plan, const char *address)
{
	for (size_t i = 0; i < plan->user_count; i++)
		if (plan->users[i].address != NULL && strcmp(plan->users[i].address, address) == 0)
			return &plan->users[i];
	return NULL;
}

const struct import_domain *import_plan_find_domain(const struct import_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->domain_count; i++)
		if (plan->domains[i].name != NULL && strcasecmp(plan->domains[i].name, name) == 0)
			return &plan->domains[i];
	return NULL;
}

const struct import_alias *import_plan_find_alias(const struct import_plan *plan, const char *source)
{
	for (size_t i = 0; i < plan->alias_count; i++)
		if (plan->aliases[i].source != NULL && strcmp(plan->aliases[i].source, source) == 0)
			return &plan->aliases[i];
	return NULL;
}

static void free_messages(struct import_message *messages, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(messages[i].text);
		origin_free(&messages[i].origin);
	}
	free(messages);
}

void import_plan_free(struct import_plan *plan)
{
	for (size_t i = 0; i < plan->domain_count; i++) {
		free(plan->domains[i].name);
		origin_free(&plan->domains[i].origin);
	}
	for (size_t i = 0; i < plan->user_count; i++) {
		struct import_user *u = &plan->users[i];
		free(u->address);
		free(u->hash);
		free(u->home);
		free(u->maildir);
		free(u->reset_reason);
		origin_free(&u->origin);
	}
	for (size_t i = 0; i < plan->alias_count; i++) {
		free(plan->aliases[i].source);
		free_list(plan->aliases[i].targets, plan->aliases[i].target_count);
		origin_free(&plan->aliases[i].origin);
	}
	for (size_t i = 0; i < plan->system_alias_count; i++) {
		free(plan->system_aliases[i].name);
		free(plan->system_aliases[i].target);
		origin_free(&plan->system_aliases[i].origin);
	}
	for (size_t i = 0; i < plan->global_alias_count; i++) {
		free(plan->global_aliases[i].local_part);
		free(plan->global_aliases[i].target);
		origin_free(&plan->global_aliases[i].origin);
	}
	for (size_t i = 0; i < plan->relay_domain_count; i++) {
		free(plan->relay_domains[i].domain);
		free_list(plan->relay_domains[i].recipients, plan->relay_domains[i].recipient_count);
		origin_free(&plan->relay_domains[i].origin);
	}
	for (size_t i = 0; i < plan->relay_network_count; i++) {
		free(plan->relay_networks[i].cidr);
		origin_free(&plan->relay_networks[i].origin);
	}
	for (size_t i = 0; i < plan->dkim_key_count; i++) {
		free(plan->dkim_keys[i].domain);
		free(plan->dkim_keys[i].selector);
		free(plan->dkim_keys[i].private_key_file);
		origin_free(&plan->dkim_keys[i].origin);
	}
	for (size_t i = 0; i < plan->dkim_required_count; i++) {
		free(plan->dkim_required[i].pattern);
		origin_free(&plan->dkim_required[i].origin);
	}
	for (size_t i = 0; i < plan->certificate_count; i++) {
		free(plan->certificates[i].name);
		free(plan->certificates[i].cert_file);
		free(plan->certificates[i].key_file);
		origin_free(&plan->certificates[i].origin);
	}
	free(plan->domains);
	free(plan->users);
	free(plan->aliases);
	free(plan->system_aliases);
	free(plan->global_aliases);
	free(plan->relay_domains);
	free(plan->relay_networks);
	free(plan->dkim_keys);
	free(plan->dkim_required);
	free(plan->certificates);
	free(plan->sieve_before_dir);
	free(plan->sieve_after_dir);
	free_messages(plan->problems, plan->problem_count);
	free_messages(plan->notices, plan->notice_count);
	import_plan_init(plan);
}
