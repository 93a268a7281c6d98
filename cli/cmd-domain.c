/* cmd-domain.c - `mailbag domain add|del|list|limits`
 *
 * SUMMARY
 *	The domains whose mailboxes are kept here (Postfix's
 *	virtual_mailbox_domains), and each domain's default quota and
 *	message-size limit for users that have none of their own. A domain
 *	that is only an alias of another is made with
 *	'mailbag alias add @a.example @b.example' instead. This file parses
 *	the arguments and prints; the actions are in domains.c.
 */
#include "cli.h"
#include "commands.h"
#include "domain-list.h"
#include "domains.h"
#include "format.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const char domain_usage[] =
	"usage: mailbag domain add [--quota SIZE] [--max-message-size SIZE] DOMAIN\n"
	"       mailbag domain del [--force] DOMAIN\n"
	"       mailbag domain list\n"
	"       mailbag domain limits [--quota SIZE] [--max-message-size SIZE] DOMAIN\n"
	"\n"
	"add     serve mailboxes for DOMAIN\n"
	"del     stop serving DOMAIN; refused while it has users or aliases,\n"
	"        unless --force, which deletes them too (mailboxes stay on disk)\n"
	"list    the domains served with their default limits (a JSON array\n"
	"        with --json)\n"
	"limits  set (or, without options, show) the quota and message-size\n"
	"        limit of DOMAIN's users that have none of their own\n"
	"\n"
	"SIZE is bytes or a number with K, M, G or T; 0 means no limit;\n"
	"'default' means the context's defaults.quota / defaults.max_message_size.\n"
	"A change applies at once to every user of the domain without its own limit.\n";

struct domain_options {
	bool force;
	const char *quota, *max_message;
};

static int parse_options(int argc, char **argv, struct domain_options *o)
{
	static const struct option options[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "quota", required_argument, NULL, 'q' },
		{ "max-message-size", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'f': o->force = true; break;
		case 'q': o->quota = optarg; break;
		case 'm': o->max_message = optarg; break;
		default: fputs(domain_usage, stderr); return -1;
		}
	}
	return 0;
}

/* format_limit - "unlimited", "1.0G" or "default (…)" */
static void format_limit(uint64_t bytes, uint64_t server_default, char *buf, size_t size)
{
	char value[32];

	if (bytes != MB_LIMIT_DEFAULT) {
		cli_format_size(bytes, buf, size);
		return;
	}
	cli_format_size(server_default, value, sizeof(value));
	snprintf(buf, size, "(%s)", value);
}

static json_t *limit_json(uint64_t bytes)
{
	return bytes == MB_LIMIT_DEFAULT ? json_null() : json_integer((json_int_t)bytes);
}

static void print_domain(const struct cli *cli, const struct mb_domain *domain, json_t *list)
{
	char quota[48], size[48];

	if (list != NULL) {
		json_t *entry = json_pack("{s:s, s:I}", "domain", domain->name,
					  "created", (json_int_t)domain->created);
		json_object_set_new(entry, "quota_bytes", limit_json(domain->quota_bytes));
		json_object_set_new(entry, "max_message_bytes", limit_json(domain->max_message_bytes));
		json_array_append_new(list, entry);
		return;
	}
	format_limit(domain->quota_bytes, cli->ctx->defaults.quota_bytes, quota, sizeof(quota));
	format_limit(domain->max_message_bytes, cli->ctx->defaults.max_message_bytes, size, sizeof(size));
	printf("%-40s %12s %12s\n", domain->name, quota, size);
}

static int domain_list(struct cli *cli)
{
	struct cli_domains domains;
	char error[1024];
	int ret = cli_domains_load(cli, &domains, error, sizeof(error));
	json_t *list = cli->json ? json_array() : NULL;

	if (ret == 0 && list == NULL)
		printf("%-40s %12s %12s\n", "DOMAIN", "QUOTA", "MAX MESSAGE");
	for (size_t i = 0; ret == 0 && i < domains.count; i++)
		print_domain(cli, &domains.items[i], list);
	cli_domains_free(&domains);
	return cli_list_done(cli, list, ret, error);
}

/* parse_limits - the options' limit texts into opts; EX_OK or EX_DATAERR */
static int parse_limits(struct cli *cli, const struct domain_options *o, struct cli_domain_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->set_quota = o->quota != NULL;
	opts->set_max_message = o->max_message != NULL;
	if (o->quota != NULL && cli_parse_limit(cli, "--quota", o->quota, &opts->quota_bytes) < 0)
		return EX_DATAERR;
	if (o->max_message != NULL &&
	    cli_parse_limit(cli, "--max-message-size", o->max_message, &opts->max_message_bytes) < 0)
		return EX_DATAERR;
	return EX_OK;
}

/* show_limits - `domain limits DOMAIN` without options: its line */
static int show_limits(struct cli *cli, const char *domain)
{
	struct mb_domain record;
	int ret = cli_domain_get(cli, domain, &record);

	if (ret != EX_OK)
		return ret;
	json_t *list = cli->json ? json_array() : NULL;
	if (list == NULL)
		printf("%-40s %12s %12s\n", "DOMAIN", "QUOTA", "MAX MESSAGE");
	print_domain(cli, &record, list);
	if (list != NULL) {
		json_dumpf(json_array_get(list, 0), stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(list);
	}
	return EX_OK;
}

static void print_done(const struct cli *cli, const char *verb, const char *domain)
{
	const char *done = strcmp(verb, "add") == 0 ? "added" :
			   strcmp(verb, "del") == 0 ? "deleted" : "limits set";
	if (!cli->json)
		printf("%s %s\n", done, domain);
	else
		printf("{\"domain\": \"%s\", \"%s\": true}\n", domain,
		       strcmp(verb, "limits") == 0 ? "limits_set" : done);
}

int cmd_domain(struct cli *cli, int argc, char **argv)
{
	static char command[32];
	char domain[MB_DOMAIN_MAX + 1];
	struct domain_options o;
	struct cli_domain_options limits;
	int ret, exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(domain_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0 && strcmp(verb, "list") != 0 &&
	    strcmp(verb, "limits") != 0) {
		fprintf(stderr, "mailbag: domain: unknown command '%s'\n", verb);
		fputs(domain_usage, stderr);
		return EX_USAGE;
	}
	snprintf(command, sizeof(command), "domain %s", verb);
	cli->command = command;
	if (parse_options(argc - 1, argv + 1, &o) < 0)
		return EX_USAGE;
	int rest = argc - 1 - optind;
	char **args = argv + 1 + optind;
	bool takes_limits = strcmp(verb, "add") == 0 || strcmp(verb, "limits") == 0;
	if ((o.force && strcmp(verb, "del") != 0) ||
	    ((o.quota != NULL || o.max_message != NULL) && !takes_limits) ||
	    rest != (strcmp(verb, "list") == 0 ? 0 : 1)) {
		fputs(domain_usage, stderr);
		return EX_USAGE;
	}
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (strcmp(verb, "list") == 0)
		return domain_list(cli);
	if (cli_parse_domain(cli, args[0], domain) < 0)
		return EX_DATAERR;
	if (strcmp(verb, "limits") == 0 && o.quota == NULL && o.max_message == NULL)
		return show_limits(cli, domain);
	if (strcmp(verb, "del") == 0)
		ret = cli_domain_del(cli, domain, o.force);
	else if ((ret = parse_limits(cli, &o, &limits)) == EX_OK)
		ret = strcmp(verb, "add") == 0 ? cli_domain_add(cli, domain, &limits) :
			cli_domain_set_limits(cli, domain, &limits);
	if (ret == EX_OK)
		print_done(cli, verb, domain);
	return ret;
}
