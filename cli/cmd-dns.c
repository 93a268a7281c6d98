/* cmd-dns.c - `mailbag dns records [DOMAIN]`: what to publish in DNS
 *	(and `dns check`, in dns-check.c: whether it is published)
 *
 * SUMMARY
 *	The argv wrapper: records are printed by cli_dns_records()
 *	(dns-records.c), which `mailbag setup` calls too; `dns check` is
 *	handed on to cli_dns_check() (dns-check.c).
 */
#include "cli.h"
#include "commands.h"
#include "dns-check.h"
#include "dns-records.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const char dns_usage[] =
	"usage: mailbag dns records [--format bind|tinydns] [DOMAIN]\n"
	"       mailbag dns check [--server IPv4[:PORT]] [DOMAIN]\n"
	"\n"
	"records  the DNS records DOMAIN (or every domain of the store) needs for\n"
	"         mail here: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV (RFC 6186),\n"
	"         autoconfig/autodiscover, and TLSA for this host's certificate;\n"
	"         zone-file lines (--format bind, the default), tinydns-data lines\n"
	"         (--format tinydns: djbdns's data file), or --json\n"
	"check    ask DNS (the system resolver, or --server) for them, record by\n"
	"         record: ok, missing, wrong (and why), error (no answer), optional;\n"
	"         also A/AAAA and PTR of this host, SPF evaluated for its addresses.\n"
	"         Exit 1 when anything is missing, wrong or unanswered\n";

int cmd_dns(struct cli *cli, int argc, char **argv)
{
	char domain[MB_DOMAIN_MAX + 1];

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(dns_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "check") == 0)
		return cli_dns_check(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "records") != 0) {
		fputs(dns_usage, stderr);
		return EX_USAGE;
	}
	cli->command = "dns records";
	bool tinydns = false;
	int at = 2;
	if (at < argc && strcmp(argv[at], "--format") == 0) {
		if (at + 1 >= argc || (strcmp(argv[at + 1], "bind") != 0 && strcmp(argv[at + 1], "tinydns") != 0))
			return cli_fail(cli, EX_USAGE, "--format takes bind or tinydns");
		tinydns = strcmp(argv[at + 1], "tinydns") == 0;
		at += 2;
	}
	if (tinydns && cli->json)
		return cli_fail(cli, EX_USAGE, "--json and --format tinydns: choose one");
	if (argc - at > 1) {
		fputs(dns_usage, stderr);
		return EX_USAGE;
	}
	if (at < argc && cli_parse_domain(cli, argv[at], domain) < 0)
		return EX_DATAERR;
	return cli_dns_records_as(cli, at < argc ? domain : NULL, tinydns);
}
