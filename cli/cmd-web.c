/* cmd-web.c - `mailbag web build DIR`: what mail clients and senders fetch by HTTP
 *
 * SUMMARY
 *	For each domain of the store (or the one given), under DIR, one
 *	document root per web host name that `mailbag dns records` points at
 *	this host:
 *	  autoconfig.DOMAIN/mail/config-v1.1.xml    Thunderbird autoconfig
 *	  autodiscover.DOMAIN/autodiscover/autodiscover.xml   Outlook (POX)
 *	  mta-sts.DOMAIN/.well-known/mta-sts.txt    the MTA-STS policy (RFC 8461)
 *	and DIR/nginx-mailbag.conf, an nginx server for all of them (HTTP
 *	for autoconfig and ACME challenges, HTTPS for all; MTA-STS needs
 *	HTTPS with a certificate covering mta-sts.DOMAIN). Server names are
 *	the context's hostname; ports and TLS modes its clients.*_port
 *	(implicit TLS first, as RFC 8314 asks). Files whose text would not
 *	change are left alone.
 */
#include "cli.h"
#include "commands.h"
#include "domain-list.h"
#include "files.h"
#include "mta-sts.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char web_usage[] =
	"usage: mailbag web build [--listen-http ADDR:PORT] [--listen-https ADDR:PORT] DIR [DOMAIN]\n"
	"\n"
	"Write, under DIR, the Thunderbird autoconfig and Outlook autodiscover\n"
	"files and the MTA-STS policy of DOMAIN (or every domain of the store),\n"
	"and DIR/nginx-mailbag.conf to serve them (include it in nginx's http\n"
	"block). The HTTPS certificate is tls.certificates' entry for\n"
	"mta-sts.DOMAIN, else the hostname's; it must cover the mta-sts,\n"
	"autoconfig and autodiscover names of every domain.\n"
	"  --listen-http   nginx listen address for HTTP (default 80)\n"
	"  --listen-https  nginx listen address for HTTPS (default 443)\n";

/* A way in for clients: one of the four client ports. */
struct service {
	const char *protocol;   /* "imap", "smtp" */
	uint64_t port;
	bool implicit_tls;      /* else STARTTLS */
};

static void services(const struct mb_context *ctx, struct service out[4])
{
	out[0] = (struct service){ "imap", ctx->clients.imaps_port, true };
	out[1] = (struct service){ "imap", ctx->clients.imap_port, false };
	out[2] = (struct service){ "smtp", ctx->clients.submissions_port, true };
	out[3] = (struct service){ "smtp", ctx->clients.submission_port, false };
}

/* Thunderbird's format: https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat */
static void autoconfig_xml(const struct mb_context *ctx, const char *domain, FILE *out)
{
	struct service s[4];

	services(ctx, s);
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		  "<!-- written by `mailbag web build`; do not edit -->\n"
		  "<clientConfig version=\"1.1\">\n"
		  "  <emailProvider id=\"%s\">\n"
		  "    <domain>%s</domain>\n"
		  "    <displayName>%s mail</displayName>\n"
		  "    <displayShortName>%s</displayShortName>\n", domain, domain, domain, domain);
	for (int i = 0; i < 4; i++) {
		if (s[i].port == 0)
			continue;
		const char *element = strcmp(s[i].protocol, "imap") == 0 ? "incomingServer" : "outgoingServer";
		fprintf(out, "    <%s type=\"%s\">\n"
			  "      <hostname>%s</hostname>\n"
			  "      <port>%llu</port>\n"
			  "      <socketType>%s</socketType>\n"
			  "      <authentication>password-cleartext</authentication>\n"
			  "      <username>%%EMAILADDRESS%%</username>\n"
			  "    </%s>\n", element, s[i].protocol, ctx->hostname,
		       (unsigned long long)s[i].port, s[i].implicit_tls ? "SSL" : "STARTTLS", element);
	}
	fprintf(out, "  </emailProvider>\n</clientConfig>\n");
}

/* the first offered service of protocol (implicit TLS preferred) */
static const struct service *first_service(const struct service s[4], const char *protocol)
{
	for (int i = 0; i < 4; i++) {
		if (s[i].port != 0 && strcmp(s[i].protocol, protocol) == 0)
			return &s[i];
	}
	return NULL;
}

/* Outlook's "POX" autodiscover answer (MS-OXDSCLI), one per domain: the
   same for every address, so a static file answers the POST */
static void autodiscover_xml(const struct mb_context *ctx, const char *domain, FILE *out)
{
	struct service s[4];
	const char *protocols[] = { "imap", "smtp" };

	services(ctx, s);
	fprintf(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		  "<!-- written by `mailbag web build`; do not edit -->\n"
		  "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
		  "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
		  "    <Account>\n"
		  "      <AccountType>email</AccountType>\n"
		  "      <Action>settings</Action>\n");
	for (int i = 0; i < 2; i++) {
		const struct service *svc = first_service(s, protocols[i]);
		if (svc == NULL)
			continue;
		fprintf(out, "      <Protocol>\n"
			  "        <Type>%s</Type>\n"
			  "        <Server>%s</Server>\n"
			  "        <Port>%llu</Port>\n"
			  "        <DomainRequired>off</DomainRequired>\n"
			  "        <SPA>off</SPA>\n"
			  "%s"
			  "        <AuthRequired>on</AuthRequired>\n"
			  "      </Protocol>\n", i == 0 ? "IMAP" : "SMTP", ctx->hostname,
		       (unsigned long long)svc->port,
		       svc->implicit_tls ? "        <SSL>on</SSL>\n"
					 : "        <SSL>on</SSL>\n        <Encryption>TLS</Encryption>\n");
	}
	fprintf(out, "    </Account>\n  </Response>\n</Autodiscover>\n");
}

static int write_under(struct cli *cli, const char *dir, const char *host, const char *file,
		       const char *text)
{
	char path[4096], parent[4096];
	bool changed;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, host, file);
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = '\0';
	if (cli_mkdir_p(parent, 0755) < 0)
		return cli_fail(cli, -1, "cannot create %s: %s", parent, strerror(errno));
	if (cli_write_file(cli, path, text, 0644, &changed) < 0)
		return -1;
	printf("%s %s\n", changed ? "wrote" : "unchanged", path);
	return 0;
}

/* as_text - what writer prints for ctx and domain, as a string (NULL
   when out of memory) */
static char *as_text(void (*writer)(const struct mb_context *, const char *, FILE *),
		     const struct mb_context *ctx, const char *domain)
{
	char *text = NULL;
	size_t size;
	FILE *out = open_memstream(&text, &size);

	if (out == NULL)
		return NULL;
	writer(ctx, domain, out);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int write_text(struct cli *cli, const char *dir, const char *host, const char *file, char *text)
{
	int ret = text != NULL ? write_under(cli, dir, host, file, text) : cli_fail(cli, -1, "out of memory");

	free(text);
	return ret;
}

static int domain_files(struct cli *cli, const char *dir, const char *domain)
{
	char host[MB_DOMAIN_MAX + 32], policy[512];

	snprintf(host, sizeof(host), "autoconfig.%s", domain);
	if (write_text(cli, dir, host, "mail/config-v1.1.xml", as_text(autoconfig_xml, cli->ctx, domain)) < 0)
		return -1;
	snprintf(host, sizeof(host), "autodiscover.%s", domain);
	if (write_text(cli, dir, host, "autodiscover/autodiscover.xml", as_text(autodiscover_xml, cli->ctx, domain)) < 0)
		return -1;
	cli_mta_sts_policy(cli->ctx->hostname, policy, sizeof(policy));
	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	return write_under(cli, dir, host, ".well-known/mta-sts.txt", policy);
}

struct web_build {
	struct cli *cli;
	const char *dir;
	struct cli_domains domains;
};

static void server_names(FILE *out, const struct web_build *w, bool with_mta_sts)
{
	static const char *const prefixes[] = { "autoconfig", "autodiscover", "mta-sts" };

	fprintf(out, "    server_name");
	for (size_t i = 0; i < w->domains.count; i++) {
		for (int p = 0; p < (with_mta_sts ? 3 : 2); p++)
			fprintf(out, " %s.%s", prefixes[p], w->domains.items[i].name);
	}
	fprintf(out, ";\n");
}

static void locations(FILE *out, const char *dir)
{
	fprintf(out, "    root %s/$host;\n"
		  "    location /.well-known/acme-challenge/ {\n"
		  "        root %s/acme;\n"
		  "    }\n"
		  "    location = /mail/config-v1.1.xml {\n"
		  "        default_type application/xml;\n"
		  "    }\n"
		  "    # Outlook POSTs its request; every address gets the same answer\n"
		  "    location ~* ^/autodiscover/autodiscover\\.xml$ {\n"
		  "        default_type application/xml;\n"
		  "        try_files /autodiscover/autodiscover.xml =404;\n"
		  "        error_page 405 =200 /autodiscover/autodiscover.xml;\n"
		  "    }\n"
		  "    location = /.well-known/mta-sts.txt {\n"
		  "        default_type text/plain;\n"
		  "    }\n"
		  "    location / {\n"
		  "        return 404;\n"
		  "    }\n", dir, dir);
}

/* the certificate nginx shows: mta-sts.FIRST's if named, else the host's */
static const struct mb_tls_certificate *web_certificate(const struct web_build *w)
{
	const struct mb_context *ctx = w->cli->ctx;

	for (size_t i = 0; i < w->domains.count; i++) {
		char name[MB_DOMAIN_MAX + 16];
		snprintf(name, sizeof(name), "mta-sts.%s", w->domains.items[i].name);
		if (mb_context_certificate(ctx, name) != NULL)
			return mb_context_certificate(ctx, name);
	}
	return mb_context_certificate(ctx, ctx->hostname);
}

static int nginx_conf(const struct web_build *w, const char *listen_http, const char *listen_https)
{
	const struct mb_tls_certificate *cert = web_certificate(w);
	bool changed;
	char path[4096], *text = NULL;
	size_t size;

	FILE *out = open_memstream(&text, &size);
	if (out == NULL)
		return cli_fail(w->cli, -1, "out of memory");

	fprintf(out, "# written by `mailbag web build`; do not edit. Include it in nginx's http\n"
		   "# block (a file in /etc/nginx/conf.d/ or a link in sites-enabled/).\n"
		   "# Thunderbird autoconfig, Outlook autodiscover and the MTA-STS policy\n"
		   "# for every domain of this host; ACME (certbot --webroot -w %s/acme)\n"
		   "# answers on HTTP.\n"
		   "server {\n"
		   "    listen %s;\n", w->dir, listen_http);
	server_names(out, w, true);
	locations(out, w->dir);
	fprintf(out, "}\n");
	if (cert == NULL) {
		fprintf(out, "# no HTTPS server: tls.certificates names no certificate for %s\n"
			   "# or mta-sts.DOMAIN, and MTA-STS is only fetched over HTTPS\n",
		       w->cli->ctx->hostname);
	} else {
		fprintf(out, "server {\n"
			   "    listen %s ssl;\n"
			   "    ssl_certificate %s;\n"
			   "    ssl_certificate_key %s;\n"
			   "    ssl_protocols TLSv1.2 TLSv1.3;\n", listen_https, cert->cert_file, cert->key_file);
		server_names(out, w, true);
		locations(out, w->dir);
		fprintf(out, "}\n");
	}
	snprintf(path, sizeof(path), "%s/nginx-mailbag.conf", w->dir);
	if (fclose(out) != 0) {
		free(text);
		return cli_fail(w->cli, -1, "out of memory");
	}
	int ret = cli_write_file(w->cli, path, text, 0644, &changed);
	free(text);
	if (ret == 0)
		printf("%s %s\n", changed ? "wrote" : "unchanged", path);
	return ret;
}

int cmd_web(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen-http", required_argument, NULL, 'l' },
		{ "listen-https", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_http = "80", *listen_https = "443";
	char domain[MB_DOMAIN_MAX + 1], acme[4096];
	int exit_code, opt;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(web_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "build") != 0) {
		fputs(web_usage, stderr);
		return EX_USAGE;
	}
	cli->command = "web build";
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (opt == 'l')
			listen_http = optarg;
		else if (opt == 's')
			listen_https = optarg;
		else
			return cli_fail(cli, EX_USAGE, "see 'mailbag web --help'");
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_fail(cli, EX_USAGE, "give the directory to build in (and a domain, or none for all)");
	const char *dir = argv[optind];
	if (dir[0] != '/')
		return cli_fail(cli, EX_USAGE, "'%s': give an absolute directory (nginx needs one)", dir);
	if (strpbrk(listen_http, ";{}\n ") != NULL || strpbrk(listen_https, ";{}\n ") != NULL)
		return cli_fail(cli, EX_USAGE, "a listen address is ADDR:PORT or PORT, nothing more");
	if (argc - optind == 2 && cli_parse_domain(cli, argv[optind + 1], domain) < 0)
		return EX_DATAERR;
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	struct web_build w = { cli, dir, { NULL, 0 } };
	if (cli_target_domains(cli, argc - optind == 2 ? domain : NULL, &w.domains, &exit_code) < 0)
		return exit_code;
	exit_code = EX_OK;
	if (w.domains.count == 0)
		exit_code = cli_fail(cli, EX_DATAERR, "the store has no domain yet ('mailbag domain add')");
	snprintf(acme, sizeof(acme), "%s/acme", dir);
	if (exit_code == EX_OK && cli_mkdir_p(acme, 0755) < 0)
		exit_code = cli_fail(cli, EX_CANTCREAT, "cannot create %s: %s", acme, strerror(errno));
	for (size_t i = 0; exit_code == EX_OK && i < w.domains.count; i++) {
		if (domain_files(cli, dir, w.domains.items[i].name) < 0)
			exit_code = EX_CANTCREAT;
	}
	if (exit_code == EX_OK && nginx_conf(&w, listen_http, listen_https) < 0)
		exit_code = EX_CANTCREAT;
	cli_domains_free(&w.domains);
	return exit_code;
}
