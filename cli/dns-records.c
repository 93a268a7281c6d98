/* dns-records.c - the DNS records the domains need for mail here
 *
 * SUMMARY
 *	For each domain (the one given, or every domain of the store): MX
 *	to this host, SPF allowing the MX, the DKIM keys that sign or will
 *	(dkim-keys.c), DMARC, MTA-STS (the _mta-sts TXT whose id follows the
 *	policy text, and mta-sts.DOMAIN for the policy's web host), TLS-RPT,
 *	the RFC 6186 / RFC 8314 SRV records for submission, submissions, imap
 *	and imaps, and the autoconfig and autodiscover names. As zone-file
 *	lines (TXT split into strings of 250 characters), tinydns-data lines
 *	(--format tinydns, dns-tinydns.c), or --json.
 *	Once for the host: DANE TLSA "3 1 1" for the certificate that
 *	tls.certificates names for the context's hostname. The SRV ports
 *	are the context's clients.*_port (0: published as not offered).
 *	`mailbag dns records` and the end of `mailbag setup` print them.
 */
#include "dns-records.h"
#include "dkim-keys.h"
#include "dns-tinydns.h"
#include "mta-sts.h"
#include "tls-check.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

struct printer {
	struct cli *cli;
	json_t *list;
	bool tinydns;  /* tinydns-data lines instead of zone-file lines */
	bool failed;   /* a record had no tinydns-data form (said) */
};

/* section - a comment line naming what follows (not in --json) */
static void section(struct printer *p, const char *name)
{
	if (p->list == NULL)
		printf("%s %s\n", p->tinydns ? "#" : ";", name);
}

static void emit(struct printer *p, const char *name, const char *type, const char *value,
		 const char *purpose)
{
	if (p->list != NULL) {
		json_array_append_new(p->list, json_pack("{s:s, s:s, s:s, s:s}", "name", name, "type", type,
							 "value", value, "purpose", purpose));
		return;
	}
	if (p->tinydns) {
		const char *why;
		printf("# %s %s: %s\n", name, type, purpose);
		if (dns_tinydns_line(stdout, name, type, value, DNS_TINYDNS_TTL, &why) < 0) {
			cli_fail(p->cli, EX_SOFTWARE, "%s %s %s: %s", name, type, value, why);
			p->failed = true;
		}
		return;
	}
	if (strcmp(type, "TXT") == 0) {
		printf("%s. IN TXT (", name);
		for (size_t off = 0, len = strlen(value); off < len; off += 250)
			printf(" \"%.250s\"", value + off);
		printf(" ) ; %s\n", purpose);
	} else {
		printf("%s. IN %s %s ; %s\n", name, type, value, purpose);
	}
}

struct dkim_emit {
	struct printer *p;
	const char *domain;
};

static void emit_dkim(const char *selector, const char *value, const char *state, void *context)
{
	struct dkim_emit *d = context;
	char name[600], purpose[300];

	snprintf(name, sizeof(name), "%s._domainkey.%s", selector, d->domain);
	snprintf(purpose, sizeof(purpose), "DKIM key, %s", state);
	emit(d->p, name, "TXT", value, purpose);
}

static int domain_records(struct printer *p, const char *domain)
{
	const char *host = p->cli->ctx->hostname;
	char name[600], value[1200], policy[512], id[17];

	snprintf(value, sizeof(value), "10 %s.", host);
	emit(p, domain, "MX", value, "mail for the domain comes here");
	emit(p, domain, "TXT", "v=spf1 mx -all", "SPF: the MX hosts send the domain's mail");
	struct dkim_emit d = { p, domain };
	if (cli_dkim_published(p->cli, domain, emit_dkim, &d) < 0)
		return -1;
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(value, sizeof(value), "v=DMARC1; p=reject; rua=mailto:postmaster@%s", domain);
	emit(p, name, "TXT", value, "DMARC: refuse mail that fails SPF and DKIM alignment");
	cli_mta_sts_policy(host, policy, sizeof(policy));
	cli_mta_sts_id(policy, id);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	snprintf(value, sizeof(value), "v=STSv1; id=%s", id);
	emit(p, name, "TXT", value, "MTA-STS: a policy is served at mta-sts.DOMAIN");
	snprintf(name, sizeof(name), "mta-sts.%s", domain);
	snprintf(value, sizeof(value), "%s.", host);
	emit(p, name, "CNAME", value, "MTA-STS policy web host");
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	snprintf(value, sizeof(value), "v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
	emit(p, name, "TXT", value, "TLS-RPT: where senders report TLS failures");
	const struct mb_context *ctx = p->cli->ctx;
	const struct { const char *service; uint64_t port; const char *what; } srv[] = {
		{ "_submission._tcp", ctx->clients.submission_port, "mail submission, STARTTLS (RFC 6186)" },
		{ "_submissions._tcp", ctx->clients.submissions_port, "mail submission, implicit TLS (RFC 8314)" },
		{ "_imap._tcp", ctx->clients.imap_port, "IMAP, STARTTLS (RFC 6186)" },
		{ "_imaps._tcp", ctx->clients.imaps_port, "IMAP, implicit TLS (RFC 6186)" },
	};
	for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++) {
		snprintf(name, sizeof(name), "%s.%s", srv[i].service, domain);
		/* RFC 6186 3.1 (RFC 2782): target "." says "not offered here" */
		if (srv[i].port == 0)
			snprintf(value, sizeof(value), "0 0 0 .");
		else
			snprintf(value, sizeof(value), "0 1 %llu %s.", (unsigned long long)srv[i].port, host);
		emit(p, name, "SRV", value, srv[i].port == 0 ? "not offered (clients.*_port is 0)" : srv[i].what);
	}
	snprintf(value, sizeof(value), "%s.", host);
	snprintf(name, sizeof(name), "autoconfig.%s", domain);
	emit(p, name, "CNAME", value, "Thunderbird autoconfig web host");
	snprintf(name, sizeof(name), "autodiscover.%s", domain);
	emit(p, name, "CNAME", value, "Outlook autodiscover web host");
	return 0;
}

/* host_records - what belongs to this host rather than a domain: DANE
   TLSA for its SMTP certificate (RFC 7672), when the context names one */
static int host_records(struct printer *p)
{
	const struct mb_context *ctx = p->cli->ctx;
	const struct mb_tls_certificate *cert = mb_context_certificate(ctx, ctx->hostname);
	char name[300], value[80], hex[65], error[512];

	if (cert == NULL)
		return 0;
	if (cli_tls_spki_sha256(cert->cert_file, hex, error, sizeof(error)) < 0) {
		cli_fail(p->cli, EX_DATAERR, "%s", error);
		return -1;
	}
	section(p, ctx->hostname);
	snprintf(name, sizeof(name), "_25._tcp.%s", ctx->hostname);
	snprintf(value, sizeof(value), "3 1 1 %s", hex);
	emit(p, name, "TLSA", value, "DANE: the key of this host's certificate (publish only with DNSSEC)");
	return 0;
}

struct domain_walk {
	struct printer *p;
	int failed;
};

static int each_domain(const char *domain, void *context)
{
	struct domain_walk *w = context;

	section(w->p, domain);
	if (domain_records(w->p, domain) < 0)
		w->failed = 1;
	return 0;
}

int cli_dns_records(struct cli *cli, const char *domain)
{
	return cli_dns_records_as(cli, domain, false);
}

/* cli_dns_records_as - the host's records, then the domain's (or each domain's) */
int cli_dns_records_as(struct cli *cli, const char *domain, bool tinydns)
{
	char error[1024];
	int exit_code;

	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	struct printer p = { cli, cli->json ? json_array() : NULL, tinydns && !cli->json, false };
	int ret = EX_OK;
	if (host_records(&p) < 0)
		ret = EX_DATAERR;
	if (domain != NULL) {
		if (domain_records(&p, domain) < 0)
			ret = EX_DATAERR;
	} else {
		if (cli_store(cli, &exit_code) < 0) {
			json_decref(p.list);
			return exit_code;
		}
		struct domain_walk w = { &p, 0 };
		if (mb_store_domains_foreach(cli->store, each_domain, &w, error, sizeof(error)) < 0)
			ret = cli_fail(cli, EX_TEMPFAIL, "%s", error);
		else if (w.failed)
			ret = EX_DATAERR;
	}
	if (p.failed)
		ret = EX_SOFTWARE;
	if (p.list != NULL) {
		json_dumpf(p.list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(p.list);
	}
	return ret;
}
