/* cmd-relay.c - `mailbag relay domain|network add|del|list`
 *
 * SUMMARY
 *	Relaying without a login, kept in the store (live at once):
 *	  relay domain   a domain we are backup MX for: mail to it is
 *	                 accepted from anyone (only for its listed
 *	                 recipients, when it has a list), queued and sent on
 *	                 to its primary (its DNS MX, or --next-hop), never
 *	                 delivered here
 *	  relay network  clients (the host's own containers) that may send
 *	                 anywhere without logging in; their mail is signed
 *	                 like a submission
 *	This file parses the arguments and lists; the changes are relay.c's.
 */
#include "relay.h"
#include "cli.h"
#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char relay_usage[] =
	"usage: mailbag relay domain add DOMAIN [--recipient ADDRESS]... [--next-hop HOST[:PORT]]\n"
	"       mailbag relay domain del DOMAIN [--recipient ADDRESS]...\n"
	"       mailbag relay domain list\n"
	"       mailbag relay network add|del NETWORK\n"
	"       mailbag relay network list\n"
	"\n"
	"A relay domain is one we are backup MX for: mail to it is accepted from\n"
	"anyone, queued and sent on to its primary MX (found in DNS, or the\n"
	"--next-hop given: HOST, HOST:PORT or [IP]:PORT; --next-hop \"\" goes back\n"
	"to DNS), never delivered here. With --recipient only the listed\n"
	"addresses are accepted (others get 550 at RCPT); add adds to the list,\n"
	"del takes the given ones off, or with none the whole relay domain. A\n"
	"domain served here cannot be a relay domain, nor the other way round.\n"
	"A relay network (\"10.0.0.0/8\", \"192.0.2.1\", \"2001:db8::/32\") is one\n"
	"whose clients send anywhere without logging in; their mail is\n"
	"DKIM-signed like a submission.\n";

struct relay_list {
	json_t *list; /* NULL: print lines */
};

static int print_relay(const struct mb_relay_domain *relay, void *context)
{
	struct relay_list *rl = context;

	if (rl->list == NULL) {
		printf("%s -> %s", relay->name, relay->next_hop[0] != '\0' ? relay->next_hop : "(its MX)");
		if (relay->recipient_count == 0)
			printf(", any recipient\n");
		for (size_t i = 0; i < relay->recipient_count; i++)
			printf("%s %s", i == 0 ? ", only" : ",", relay->recipients[i]);
		if (relay->recipient_count > 0)
			putchar('\n');
		return 0;
	}
	json_t *recipients = json_array();
	for (size_t i = 0; i < relay->recipient_count; i++)
		json_array_append_new(recipients, json_string(relay->recipients[i]));
	json_array_append_new(rl->list, json_pack("{s:s, s:s, s:o}", "domain", relay->name, "next_hop",
						  relay->next_hop, "recipients", recipients));
	return 0;
}

static int relay_domain_list(struct cli *cli)
{
	char error[1024];
	struct relay_list rl = { cli->json ? json_array() : NULL };
	int ret = mb_store_relay_domains_foreach(cli->store, print_relay, &rl, error, sizeof(error));

	return cli_list_done(cli, rl.list, ret, error);
}

static int relay_network_list(struct cli *cli)
{
	char error[1024];
	struct mb_alias list;
	json_t *json = cli->json ? json_array() : NULL;
	int ret = mb_store_relay_networks_get(cli->store, &list, error, sizeof(error));

	for (size_t i = 0; ret > 0 && i < list.target_count; i++) {
		if (json != NULL)
			json_array_append_new(json, json_string(list.targets[i]));
		else
			printf("%s\n", list.targets[i]);
	}
	if (ret > 0)
		mb_alias_clear(&list);
	return cli_list_done(cli, json, ret < 0 ? -1 : 0, error);
}

/* take_option - remove "--NAME VALUE" at argv[i]; its value, or NULL */
static const char *take_option(int *argc, char **argv, int i)
{
	const char *value = argv[i + 1];

	memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof(char *));
	*argc -= 2;
	return value;
}

static int relay_domain(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 2 ? argv[2] : "", *next_hop = NULL;
	const char **recipients = calloc((size_t)argc + 1, sizeof(char *));
	size_t count = 0;
	int ret;

	if (recipients == NULL)
		return cli_fail(cli, EX_OSERR, "out of memory");
	bool adding = strcmp(verb, "add") == 0, listing = strcmp(verb, "list") == 0;
	cli->command = adding ? "relay domain add" : listing ? "relay domain list" : "relay domain del";
	for (int i = 3; i < argc;) {
		bool recipient = strcmp(argv[i], "--recipient") == 0, hop = strcmp(argv[i], "--next-hop") == 0;
		if (!recipient && !hop) {
			i++;
			continue;
		}
		if (i + 1 >= argc || (hop && !adding)) {
			free(recipients);
			fputs(relay_usage, stderr);
			return EX_USAGE;
		}
		const char *value = take_option(&argc, argv, i);
		if (recipient)
			recipients[count++] = value;
		else
			next_hop = value;
	}
	if ((!adding && !listing && strcmp(verb, "del") != 0) || (listing ? argc != 3 : argc != 4)) {
		free(recipients);
		fputs(relay_usage, stderr);
		return EX_USAGE;
	}
	if (cli_store(cli, &ret) < 0) {
		free(recipients);
		return ret;
	}
	if (listing)
		ret = relay_domain_list(cli);
	else if (adding)
		ret = cli_relay_domain_add(cli, argv[3], recipients, count, next_hop);
	else
		ret = cli_relay_domain_del(cli, argv[3], recipients, count);
	if (ret == EX_OK && !listing)
		printf(cli->json ? "{\"relay_domain\": \"%s\", \"ok\": true}\n" : "updated relay domain %s\n", argv[3]);
	free(recipients);
	return ret;
}

static int relay_network(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 2 ? argv[2] : "";
	bool adding = strcmp(verb, "add") == 0, listing = strcmp(verb, "list") == 0;
	int ret;

	cli->command = adding ? "relay network add" : listing ? "relay network list" : "relay network del";
	if ((!adding && !listing && strcmp(verb, "del") != 0) || (listing ? argc != 3 : argc != 4)) {
		fputs(relay_usage, stderr);
		return EX_USAGE;
	}
	if (cli_store(cli, &ret) < 0)
		return ret;
	if (listing)
		return relay_network_list(cli);
	ret = adding ? cli_relay_network_add(cli, argv[3]) : cli_relay_network_del(cli, argv[3]);
	if (ret == EX_OK)
		printf(cli->json ? "{\"relay_network\": \"%s\", \"ok\": true}\n" : "updated relay network %s\n", argv[3]);
	return ret;
}

int cmd_relay(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(relay_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "domain") == 0)
		return relay_domain(cli, argc, argv);
	if (strcmp(argv[1], "network") == 0)
		return relay_network(cli, argc, argv);
	fputs(relay_usage, stderr);
	return EX_USAGE;
}
