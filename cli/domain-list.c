/* domain-list.c - every domain record of the store, read before a walk
 *
 * SUMMARY
 *	A listing that walks the users needs each user's domain (its default
 *	limits), but a store lookup inside a store walk is not allowed: so
 *	the domains are read first, sorted by name (the store walks them in
 *	order), and looked up by bsearch. cli_target_domains() is the one
 *	rule of the commands that take an optional DOMAIN: that one, or
 *	every domain of the store.
 */
#include "domain-list.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct name_list {
	char **names;
	size_t count, alloc;
};

static int collect_name(const char *domain, void *context)
{
	struct name_list *list = context;

	char **names = mb_grow(list->names, &list->alloc, list->count + 1, sizeof(*names), 16);
	if (names == NULL)
		return 1;
	list->names = names;
	if ((list->names[list->count] = strdup(domain)) == NULL)
		return 1;
	list->count++;
	return 0;
}

int cli_domains_load(struct cli *cli, struct cli_domains *domains, char *error, size_t size)
{
	struct name_list list = { NULL, 0, 0 };
	int ret = mb_store_domains_foreach(cli->store, collect_name, &list, error, size);

	domains->items = NULL;
	domains->count = 0;
	if (ret == 0 && list.count > 0 &&
	    (domains->items = calloc(list.count, sizeof(*domains->items))) == NULL) {
		snprintf(error, size, "out of memory");
		ret = -1;
	}
	for (size_t i = 0; ret == 0 && i < list.count; i++) {
		int found = mb_store_domain_get(cli->store, list.names[i],
						&domains->items[domains->count], error, size);
		if (found < 0)
			ret = -1;
		else if (found > 0)
			domains->count++; /* deleted meanwhile: skipped */
	}
	for (size_t i = 0; i < list.count; i++)
		free(list.names[i]);
	free(list.names);
	if (ret < 0)
		cli_domains_free(domains);
	return ret;
}

static int compare_domain(const void *key, const void *item)
{
	return strcmp(key, ((const struct mb_domain *)item)->name);
}

const struct mb_domain *cli_domains_find(const struct cli_domains *domains, const char *name)
{
	if (domains->count == 0)
		return NULL;
	return bsearch(name, domains->items, domains->count, sizeof(*domains->items), compare_domain);
}

int cli_target_domains(struct cli *cli, const char *named, struct cli_domains *domains, int *exit_r)
{
	char error[1024];

	domains->items = NULL;
	domains->count = 0;
	if (named != NULL) {
		domains->items = calloc(1, sizeof(*domains->items));
		if (domains->items == NULL) {
			*exit_r = cli_fail(cli, EX_OSERR, "out of memory");
			return -1;
		}
		snprintf(domains->items[0].name, sizeof(domains->items[0].name), "%s", named);
		domains->count = 1;
		return 0;
	}
	if (cli_store(cli, exit_r) < 0)
		return -1;
	if (cli_domains_load(cli, domains, error, sizeof(error)) < 0) {
		*exit_r = cli_fail(cli, EX_TEMPFAIL, "%s", error);
		return -1;
	}
	return 0;
}

void cli_domains_free(struct cli_domains *domains)
{
	free(domains->items);
	domains->items = NULL;
	domains->count = 0;
}

