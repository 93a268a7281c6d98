/* cmd-tls.c - `mailbag tls status|apply`: the certificates of each host name
 *
 * SUMMARY
 *	tls.certificates in the context names, per host name, a certificate
 *	chain and its key (certbot's fullchain.pem and privkey.pem, or the
 *	self-signed pair `mailbag setup` makes). `status` reads each one and
 *	says which names it covers, how many days it has left, and what is
 *	wrong: unreadable, expired, not covering its host name, a key that
 *	is not its own or that others may read (tls-check.c). `apply`
 *	(tls-apply.c) writes what Postfix
 *	and Dovecot need to serve each certificate by SNI: the source of
 *	Postfix's tls_server_sni_maps (loaded with `postmap -F`, which copies
 *	the PEM files into the table) and a Dovecot conf.d file with one
 *	local_name block per name. It writes nothing while any certificate
 *	is wrong, so a failed renewal never breaks a working configuration,
 *	and nothing that would not change, so the certbot deploy hook
 *	(deploy/certbot-deploy-hook) may run it at every renewal.
 */
#include "cli.h"
#include "commands.h"
#include "tls-apply.h"
#include "tls-check.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const char tls_usage[] =
	"usage: mailbag tls status\n"
	"       mailbag tls apply\n"
	"\n"
	"status  each certificate of tls.certificates: the names it covers, the days\n"
	"        it has left and what is wrong with it (exit 65 when anything is)\n"
	"apply   write Postfix's SNI table (tls.postfix_sni_map, then postmap -F) and\n"
	"        Dovecot's local_name blocks (tls.dovecot_conf) from tls.certificates;\n"
	"        writes nothing while a certificate is wrong, nothing that is unchanged.\n"
	"        Reload Postfix and Dovecot after (the certbot deploy hook does).\n";

static void print_report(const struct cert_report *r)
{
	printf("%s  %s\n", r->entry->hostname, r->entry->cert_file);
	if (json_array_size(r->names) > 0) {
		size_t i;
		json_t *name;
		printf("  names: ");
		json_array_foreach(r->names, i, name)
			printf("%s%s", i > 0 ? ", " : "", json_string_value(name));
		putchar('\n');
	}
	if (r->not_after[0] != '\0')
		printf("  valid until %s (%d days left)\n", r->not_after, r->days_left);
	if (r->warning[0] != '\0')
		printf("  warning: %s\n", r->warning);
	printf("  %s%s\n", r->problems[0] != '\0' ? "WRONG: " : "ok", r->problems);
}

static int tls_status(struct cli *cli)
{
	struct cert_report *reports;
	size_t count = cli->ctx->tls.certificates.count;
	int bad = cli_tls_check_all(cli, &reports);

	if (bad < 0)
		return cli_fail(cli, EX_OSERR, "out of memory");
	bool hostname_covered = mb_context_certificate(cli->ctx, cli->ctx->hostname) != NULL;
	if (cli->json) {
		json_t *list = json_array();
		for (size_t i = 0; i < count; i++) {
			struct cert_report *r = &reports[i];
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:O, s:s, s:i, s:b, s:s, s:s}",
				"hostname", r->entry->hostname, "cert", r->entry->cert_file,
				"key", r->entry->key_file, "names", r->names, "not_after", r->not_after,
				"days_left", r->days_left, "ok", r->problems[0] == '\0',
				"problems", r->problems, "warning", r->warning));
		}
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(list);
	} else {
		for (size_t i = 0; i < count; i++)
			print_report(&reports[i]);
	}
	cli_tls_reports_free(reports, count);
	if (!hostname_covered) {
		cli_fail(cli, EX_DATAERR, "no certificate names %s (the context's hostname): add it to tls.certificates",
			 cli->ctx->hostname);
		return EX_DATAERR;
	}
	return bad > 0 ? EX_DATAERR : EX_OK;
}

int cmd_tls(struct cli *cli, int argc, char **argv)
{
	int exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(tls_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (argc != 2 || (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "apply") != 0)) {
		fputs(tls_usage, stderr);
		return EX_USAGE;
	}
	cli->command = strcmp(argv[1], "status") == 0 ? "tls status" : "tls apply";
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	return strcmp(argv[1], "status") == 0 ? tls_status(cli) : cli_tls_apply(cli, cli_tls_print_file, NULL);
}
