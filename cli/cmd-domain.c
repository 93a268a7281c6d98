/* cmd-domain.c - `mailbag domain add|del|list`
 *
 * SUMMARY
 *	The domains whose mailboxes are kept here (Postfix's
 *	virtual_mailbox_domains). A domain that is only an alias of another
 *	is made with 'mailbag alias add @a.example @b.example' instead.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const char domain_usage[] =
	"usage: mailbag domain add DOMAIN\n"
	"       mailbag domain del [--force] DOMAIN\n"
	"       mailbag domain list\n"
	"\n"
	"add    serve mailboxes for DOMAIN\n"
	"del    stop serving DOMAIN; refused while it has users or aliases,\n"
	"       unless --force, which deletes them too (mailboxes stay on disk)\n"
	"list   the domains served, one a line (or a JSON array with --json)\n";

static int print_domain(const char *domain, void *context)
{
	json_t *list = context;

	if (list != NULL)
		json_array_append_new(list, json_string(domain));
	else
		printf("%s\n", domain);
	return 0;
}

/* is_alias_domain - whether "@domain" is a domain alias: 1, 0, -1 */
static int is_alias_domain(struct cli *cli, const char *domain)
{
	char source[MB_DOMAIN_MAX + 2], error[512];
	struct mb_alias alias;
	int ret;

	snprintf(source, sizeof(source), "@%s", domain);
	ret = mb_store_alias_get(cli->store, source, &alias, error, sizeof(error));
	if (ret > 0) {
		ret = alias.target_count > 0 && alias.targets[0][0] == '@';
		mb_alias_clear(&alias);
	}
	return ret;
}

int cmd_domain(struct cli *cli, int argc, char **argv)
{
	char domain[MB_DOMAIN_MAX + 1], error[1024];
	bool force = false;
	int ret, exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(domain_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	int i = 2;
	if (strcmp(verb, "del") == 0 && i < argc && strcmp(argv[i], "--force") == 0) {
		force = true;
		i++;
	}
	if (strcmp(verb, "list") == 0) {
		cli->command = "domain list";
		if (argc != 2) {
			fputs(domain_usage, stderr);
			return EX_USAGE;
		}
		if (cli_store(cli, &exit_code) < 0)
			return exit_code;
		json_t *list = cli->json ? json_array() : NULL;
		ret = mb_store_domains_foreach(cli->store, print_domain, list, error, sizeof(error));
		return cli_list_done(cli, list, ret, error);
	}
	if ((strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0) || i + 1 != argc) {
		fprintf(stderr, "mailbag: domain: expected add DOMAIN, del DOMAIN or list\n");
		fputs(domain_usage, stderr);
		return EX_USAGE;
	}
	cli->command = strcmp(verb, "add") == 0 ? "domain add" : "domain del";
	if (cli_parse_domain(cli, argv[i], domain) < 0)
		return EX_DATAERR;
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (strcmp(verb, "add") == 0) {
		ret = is_alias_domain(cli, domain);
		if (ret != 0)
			return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "store lookup failed") :
				cli_fail(cli, EX_DATAERR, "%s is a domain alias; remove it first with 'mailbag alias del @%s'", domain, domain);
		ret = mb_store_domain_add(cli->store, domain, error, sizeof(error));
	} else {
		ret = mb_store_domain_del(cli->store, domain, force, error, sizeof(error));
	}
	if (ret < 0)
		return cli_fail(cli, cli_store_exit_code(ret), "%s", error);
	if (!cli->json)
		printf("%s %s\n", strcmp(verb, "add") == 0 ? "added" : "deleted", domain);
	else
		printf("{\"domain\": \"%s\", \"%s\": true}\n", domain,
		       strcmp(verb, "add") == 0 ? "added" : "deleted");
	return EX_OK;
}
