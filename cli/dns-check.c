/* dns-check.c - `mailbag dns check [--server IP[:PORT]] [DOMAIN]`
 *
 * SUMMARY
 *	Asks DNS (the system resolver, or one server) for what `mailbag dns
 *	records` says should be published, and reports record by record:
 *	  ok        present and right
 *	  missing   needed and absent
 *	  wrong     present but not what works (and why)
 *	  error     DNS did not answer: nothing can be said
 *	  optional  absent, and mail works without it
 *	For this host: A/AAAA of the hostname, a PTR naming the hostname for
 *	each address, DANE TLSA against the certificate's key. For each
 *	domain: MX pointing here, one SPF record that lets this host's
 *	addresses send (evaluated: ip4, ip6, a, mx, include, redirect, all),
 *	each DKIM key that signs or will, one DMARC record, and the optional
 *	MTA-STS id, TLS-RPT, SRV and web names. Exit 0 when nothing is
 *	missing, wrong or unanswered, else 1.
 */
#include "dns-check.h"
#include "cli.h"
#include "dkim-keys.h"
#include "dns-query.h"
#include "domain-list.h"
#include "mta-sts.h"
#include "tls-check.h"
#include "network.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#define HOST_ADDRESSES_MAX 16
/* RFC 7208 4.6.4: at most 10 mechanisms that query DNS */
#define SPF_LOOKUPS_MAX 10

struct check {
	struct cli *cli;
	struct cli_dns *dns;
	json_t *list;            /* --json */
	int failures;
	char addresses[HOST_ADDRESSES_MAX][INET6_ADDRSTRLEN];
	size_t address_count;
	const char *domain;      /* while checking a domain's DKIM keys */
};

static void report(struct check *c, const char *status, const char *type, const char *name,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct check *c, const char *status, const char *type, const char *name,
		   const char *fmt, ...)
{
	char detail[2048];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	if (strcmp(status, "ok") != 0 && strcmp(status, "optional") != 0)
		c->failures++;
	if (c->list != NULL) {
		json_array_append_new(c->list, json_pack("{s:s, s:s, s:s, s:s}", "status", status,
							 "type", type, "name", name, "detail", detail));
		return;
	}
	printf("%-8s %-6s %s: %s\n", status, type, name, detail);
}

/* lookup - answers, or -1 reported as "error" for type/name */
static int lookup(struct check *c, const char *name, int type, const char *type_name,
		  struct cli_dns_answers *answers)
{
	char error[512];
	int n = cli_dns_lookup(c->dns, name, type, answers, error, sizeof(error));

	if (n < 0)
		report(c, "error", type_name, name, "%s", error);
	return n;
}

static void join(const struct cli_dns_answers *a, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->count && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "", a->items[i]);
}

/* --- this host ----------------------------------------------------------- */

static void reverse_name(const char *address, char *out, size_t size)
{
	unsigned char bytes[16];
	size_t used = 0;

	if (inet_pton(AF_INET, address, bytes) == 1) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", bytes[3], bytes[2], bytes[1], bytes[0]);
		return;
	}
	inet_pton(AF_INET6, address, bytes);
	for (int i = 15; i >= 0 && used < size; i--)
		used += (size_t)snprintf(out + used, size - used, "%x.%x.", bytes[i] & 0xf, bytes[i] >> 4);
	snprintf(out + used, size > used ? size - used : 0, "ip6.arpa");
}

static void check_addresses(struct check *c, const char *host)
{
	static const struct { int type; const char *name; } types[] = {
		{ ns_t_a, "A" }, { ns_t_aaaa, "AAAA" },
	};
	char found[1024];
	int failed = 0;

	for (size_t t = 0; t < 2; t++) {
		struct cli_dns_answers a;
		int n = lookup(c, host, types[t].type, types[t].name, &a);
		failed += n < 0;
		for (size_t i = 0; n > 0 && i < a.count && c->address_count < HOST_ADDRESSES_MAX; i++)
			snprintf(c->addresses[c->address_count++], INET6_ADDRSTRLEN, "%s", a.items[i]);
		cli_dns_answers_free(&a);
	}
	if (c->address_count == 0 && failed == 0) {
		report(c, "missing", "A", host, "no A or AAAA record: no one can reach this host");
		return;
	}
	found[0] = '\0';
	for (size_t i = 0, used = 0; i < c->address_count; i++)
		used += (size_t)snprintf(found + used, sizeof(found) - used, "%s%s", i > 0 ? ", " : "",
					 c->addresses[i]);
	if (c->address_count > 0)
		report(c, "ok", "A", host, "%s", found);
}

static void check_ptr(struct check *c, const char *host)
{
	for (size_t i = 0; i < c->address_count; i++) {
		char name[128], found[2048];
		struct cli_dns_answers a;
		reverse_name(c->addresses[i], name, sizeof(name));
		int n = lookup(c, name, ns_t_ptr, "PTR", &a);
		if (n == 0)
			report(c, "missing", "PTR", name, "%s has no PTR record; receivers distrust mail from it: ask its provider for PTR %s",
			       c->addresses[i], host);
		bool right = false;
		for (size_t k = 0; n > 0 && k < a.count; k++)
			right = right || strcasecmp(a.items[k], host) == 0;
		join(&a, found, sizeof(found));
		if (n > 0 && right)
			report(c, "ok", "PTR", name, "%s", host);
		else if (n > 0)
			report(c, "wrong", "PTR", name, "names %s, not %s; receivers distrust the mismatch", found, host);
		cli_dns_answers_free(&a);
	}
}

static void check_tlsa(struct check *c, const char *host)
{
	const struct mb_tls_certificate *cert = mb_context_certificate(c->cli->ctx, host);
	char name[300], want[80], hex[65], error[512], found[2048];
	struct cli_dns_answers a;

	if (cert == NULL) {
		report(c, "optional", "TLSA", host, "tls.certificates names no certificate for it: no TLSA to check");
		return;
	}
	if (cli_tls_spki_sha256(cert->cert_file, hex, error, sizeof(error)) < 0) {
		report(c, "error", "TLSA", host, "%s", error);
		return;
	}
	snprintf(name, sizeof(name), "_25._tcp.%s", host);
	snprintf(want, sizeof(want), "3 1 1 %s", hex);
	int n = lookup(c, name, CLI_DNS_TYPE_TLSA, "TLSA", &a);
	bool right = false;
	for (size_t i = 0; n > 0 && i < a.count; i++)
		right = right || strcasecmp(a.items[i], want) == 0;
	join(&a, found, sizeof(found));
	if (n == 0)
		report(c, "optional", "TLSA", name, "none (DANE not in use; publish %s only in a DNSSEC-signed zone)", want);
	else if (n > 0 && right)
		report(c, "ok", "TLSA", name, "%s", want);
	else if (n > 0)
		report(c, "wrong", "TLSA", name, "%s does not match the certificate's key (want %s): senders that use DANE will not deliver",
		       found, want);
	cli_dns_answers_free(&a);
}

/* --- SPF ----------------------------------------------------------------- */

/* same_prefix - whether address b lies in the network of a's first bits
   (len4 when a is IPv4, len6 when IPv6; out of range: all of a) */
static bool same_prefix(const char *a, const char *b, int len4, int len6)
{
	struct mb_network net;
	const char *error;

	if (mb_network_parse(a, &net, &error) < 0)
		return false;
	int bits = net.family == AF_INET ? len4 : len6;
	if (bits >= 0)
		mb_network_widen(&net, (unsigned int)bits);
	return mb_network_contains(&net, b);
}

/* split_cidr - "domain/24//64" into domain and its prefix lengths */
static void split_cidr(char *spec, int *len4, int *len6)
{
	char *slash = strchr(spec, '/');

	*len4 = 32;
	*len6 = 128;
	if (slash == NULL)
		return;
	*slash = '\0';
	if (slash[1] == '/') {
		*len6 = atoi(slash + 2);
		return;
	}
	*len4 = atoi(slash + 1);
	char *second = strstr(slash + 1, "//");
	if (second != NULL)
		*len6 = atoi(second + 2);
	if (*len4 < 0 || *len4 > 32)
		*len4 = 32;
	if (*len6 < 0 || *len6 > 128)
		*len6 = 128;
}

/* host_has - whether name's A/AAAA include an address sharing the prefix
   with addr; -1 when DNS failed */
static int host_has(struct check *c, const char *name, const char *addr, int len4, int len6)
{
	char error[512];
	struct cli_dns_answers a;
	int type = strchr(addr, ':') != NULL ? ns_t_aaaa : ns_t_a;
	int n = cli_dns_lookup(c->dns, name, type, &a, error, sizeof(error));
	bool found = false;

	for (size_t i = 0; n > 0 && i < a.count; i++)
		found = found || same_prefix(a.items[i], addr, len4, len6);
	cli_dns_answers_free(&a);
	return n < 0 ? -1 : found;
}

/* spf_record - the one v=spf1 TXT record of domain into out: 1, 0 none,
   -1 DNS failed, -2 more than one */
static int spf_record(struct check *c, const char *domain, char *out, size_t size)
{
	char error[512];
	struct cli_dns_answers a;
	int n = cli_dns_lookup(c->dns, domain, ns_t_txt, &a, error, sizeof(error)), found = 0;

	for (size_t i = 0; n > 0 && i < a.count; i++) {
		const char *t = a.items[i];
		if (strncasecmp(t, "v=spf1", 6) != 0 || (t[6] != '\0' && t[6] != ' '))
			continue;
		if (found++ == 0)
			snprintf(out, size, "%s", t);
	}
	cli_dns_answers_free(&a);
	if (n < 0)
		return -1;
	return found > 1 ? -2 : found;
}

static int spf_eval(struct check *c, const char *domain, const char *record, const char *addr,
		    int *lookups, int depth);

/* spf_include - the result of include:/redirect= target for addr: 1 pass,
   0 anything else, -1 DNS failed or too deep */
static int spf_target(struct check *c, const char *target, const char *addr, int *lookups, int depth)
{
	char record[4096];

	if (depth >= 10)
		return -1;
	int n = spf_record(c, target, record, sizeof(record));
	if (n < 0 && n != -2)
		return -1;
	if (n != 1)
		return 0;
	return spf_eval(c, target, record, addr, lookups, depth + 1);
}

/* spf_mx - whether an MX host of target has addr */
static int spf_mx(struct check *c, const char *target, const char *addr, int len4, int len6)
{
	char error[512];
	struct cli_dns_answers mx;
	int n = cli_dns_lookup(c->dns, target, ns_t_mx, &mx, error, sizeof(error)), found = 0;

	for (size_t i = 0; n > 0 && i < mx.count && found == 0; i++) {
		const char *host = strchr(mx.items[i], ' ');
		found = host != NULL ? host_has(c, host + 1, addr, len4, len6) : 0;
	}
	cli_dns_answers_free(&mx);
	return n < 0 ? -1 : found;
}

/* spf_mechanism - whether one mechanism (qualifier stripped) matches
   addr: 1, 0, or -1 (DNS failed, or a mechanism this check cannot judge) */
static int spf_mechanism(struct check *c, const char *domain, char *mech, const char *addr,
			 int *lookups, int depth)
{
	int len4, len6;

	if (strcasecmp(mech, "all") == 0)
		return 1;
	if (strncasecmp(mech, "ip4:", 4) == 0 || strncasecmp(mech, "ip6:", 4) == 0) {
		/* here the one "/N" is the length of the mechanism's own family */
		char *slash = strchr(mech + 4, '/');
		int len = slash != NULL ? atoi(slash + 1) : (mech[2] == '4' ? 32 : 128);
		if (slash != NULL)
			*slash = '\0';
		return same_prefix(mech + 4, addr, len, len);
	}
	bool is_a = strncasecmp(mech, "a", 1) == 0 && (mech[1] == '\0' || mech[1] == ':' || mech[1] == '/');
	bool is_mx = strncasecmp(mech, "mx", 2) == 0 && (mech[2] == '\0' || mech[2] == ':' || mech[2] == '/');
	if (is_a || is_mx || strncasecmp(mech, "include:", 8) == 0) {
		if (++*lookups > SPF_LOOKUPS_MAX)
			return -1;
	}
	if (is_a || is_mx) {
		char *spec = mech + (is_a ? 1 : 2);
		split_cidr(spec, &len4, &len6);
		const char *target = spec[0] == ':' ? spec + 1 : domain;
		return is_a ? host_has(c, target, addr, len4, len6) : spf_mx(c, target, addr, len4, len6);
	}
	if (strncasecmp(mech, "include:", 8) == 0)
		return spf_target(c, mech + 8, addr, lookups, depth);
	return strncasecmp(mech, "exists:", 7) == 0 || strcasecmp(mech, "ptr") == 0 ||
	       strncasecmp(mech, "ptr:", 4) == 0 ? -1 : 0;
}

/* spf_eval - 1 when record gives addr "pass", 0 when another result,
   -1 when it cannot be told */
static int spf_eval(struct check *c, const char *domain, const char *record, const char *addr,
		    int *lookups, int depth)
{
	char copy[4096], *save = NULL, redirect[300] = "";

	snprintf(copy, sizeof(copy), "%s", record);
	strtok_r(copy, " ", &save);                 /* v=spf1 */
	for (char *term = strtok_r(NULL, " ", &save); term != NULL; term = strtok_r(NULL, " ", &save)) {
		if (strncasecmp(term, "redirect=", 9) == 0) {
			snprintf(redirect, sizeof(redirect), "%s", term + 9);
			continue;
		}
		if (strchr(term, '=') != NULL && strchr(term, ':') == NULL)
			continue;                           /* exp= and unknown modifiers */
		char qualifier = '+';
		if (strchr("+-~?", term[0]) != NULL) {
			qualifier = term[0];
			term++;
		}
		int match = spf_mechanism(c, domain, term, addr, lookups, depth);
		if (match != 0)
			return match < 0 ? -1 : qualifier == '+';
	}
	if (redirect[0] != '\0') {
		if (++*lookups > SPF_LOOKUPS_MAX)
			return -1;
		return spf_target(c, redirect, addr, lookups, depth);
	}
	return 0;
}

static void check_spf(struct check *c, const char *domain)
{
	char record[4096], refused[1024] = "";
	int n = spf_record(c, domain, record, sizeof(record)), unsure = 0;
	size_t used = 0;

	if (n == -1) {
		report(c, "error", "SPF", domain, "the TXT lookup failed: DNS did not answer");
		return;
	}
	if (n == 0) {
		report(c, "missing", "SPF", domain, "no v=spf1 record; publish \"v=spf1 mx -all\"");
		return;
	}
	if (n == -2) {
		report(c, "wrong", "SPF", domain, "more than one v=spf1 record: receivers take that as a permanent error; keep one");
		return;
	}
	if (c->address_count == 0) {
		report(c, "error", "SPF", domain, "\"%s\": cannot tell whether it covers this host, which has no address", record);
		return;
	}
	for (size_t i = 0; i < c->address_count; i++) {
		int lookups = 0;
		int pass = spf_eval(c, domain, record, c->addresses[i], &lookups, 0);
		if (pass < 0)
			unsure++;
		if (pass <= 0)
			used += (size_t)snprintf(refused + used, sizeof(refused) - used, "%s%s", used > 0 ? ", " : "",
						 c->addresses[i]);
	}
	if (used == 0)
		report(c, "ok", "SPF", domain, "%s", record);
	else if (unsure > 0)
		report(c, "error", "SPF", domain, "\"%s\": cannot tell whether it lets %s send (a lookup failed, more than 10 lookups, or exists/ptr)",
		       record, refused);
	else
		report(c, "wrong", "SPF", domain, "\"%s\" does not let this host's %s send; allow it (\"mx\" with the MX pointing here, or \"a:%s\")",
		       record, refused, c->cli->ctx->hostname);
}

/* --- the rest of a domain ------------------------------------------------- */

static void check_mx(struct check *c, const char *domain)
{
	const char *host = c->cli->ctx->hostname;
	char found[2048];
	struct cli_dns_answers a;
	int n = lookup(c, domain, ns_t_mx, "MX", &a);
	bool here = false;

	for (size_t i = 0; n > 0 && i < a.count; i++) {
		const char *exchange = strchr(a.items[i], ' ');
		here = here || (exchange != NULL && strcasecmp(exchange + 1, host) == 0);
	}
	join(&a, found, sizeof(found));
	if (n == 0)
		report(c, "missing", "MX", domain, "no MX record; publish \"MX 10 %s.\"", host);
	else if (n > 0 && here)
		report(c, "ok", "MX", domain, "%s", found);
	else if (n > 0)
		report(c, "wrong", "MX", domain, "%s: none is %s, so mail for the domain does not come here", found, host);
	cli_dns_answers_free(&a);
}

/* check_txt - the one TXT record of name beginning with tag ("v=DMARC1");
   want NULL: any is right; missing_status "missing" or "optional" */
static void check_txt(struct check *c, const char *type, const char *name, const char *tag,
		      const char *want, const char *missing_status, const char *advice)
{
	struct cli_dns_answers a;
	int n = lookup(c, name, ns_t_txt, type, &a), found = 0;
	const char *record = NULL;
	size_t tag_len = strlen(tag);

	for (size_t i = 0; n > 0 && i < a.count; i++) {
		if (strncasecmp(a.items[i], tag, tag_len) == 0 &&
		    (a.items[i][tag_len] == ';' || a.items[i][tag_len] == ' ' || a.items[i][tag_len] == '\0')) {
			found++;
			record = record != NULL ? record : a.items[i];
		}
	}
	if (n >= 0 && found == 0)
		report(c, missing_status, type, name, "no %s record; %s", tag, advice);
	else if (found > 1)
		report(c, "wrong", type, name, "more than one %s record: receivers ignore them all; keep one", tag);
	else if (found == 1 && want != NULL && !cli_same_record(record, want))
		report(c, "wrong", type, name, "\"%s\", want \"%s\"", record, want);
	else if (found == 1)
		report(c, "ok", type, name, "%s", record);
	cli_dns_answers_free(&a);
}

static void check_dkim_record(const char *selector, const char *value, const char *state, void *context)
{
	struct check *c = context;
	char name[600], found[64];
	struct cli_dns_answers a;

	snprintf(name, sizeof(name), "%s._domainkey.%s", selector, c->domain);
	int n = lookup(c, name, ns_t_txt, "DKIM", &a);
	bool right = false;
	for (size_t i = 0; n > 0 && i < a.count; i++)
		right = right || cli_same_record(a.items[i], value);
	snprintf(found, sizeof(found), "key %s", state);
	if (n == 0)
		report(c, "missing", "DKIM", name, "no TXT record for the %s; publish \"%s\"", found, value);
	else if (n > 0 && right)
		report(c, "ok", "DKIM", name, "the %s", found);
	else if (n > 0)
		report(c, "wrong", "DKIM", name, "the TXT record is not the %s: signatures will fail; publish \"%s\"",
		       found, value);
	cli_dns_answers_free(&a);
}

static void check_srv(struct check *c, const char *domain)
{
	const struct mb_context *ctx = c->cli->ctx;
	const struct { const char *service; uint64_t port; } srv[] = {
		{ "_submission._tcp", ctx->submission_port }, { "_submissions._tcp", ctx->submissions_port },
		{ "_imap._tcp", ctx->imap_port }, { "_imaps._tcp", ctx->imaps_port },
	};

	for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++) {
		char name[600], want[300], found[2048];
		struct cli_dns_answers a;
		snprintf(name, sizeof(name), "%s.%s", srv[i].service, domain);
		if (srv[i].port == 0)
			snprintf(want, sizeof(want), "0 .");
		else
			snprintf(want, sizeof(want), "%llu %s", (unsigned long long)srv[i].port, ctx->hostname);
		int n = lookup(c, name, ns_t_srv, "SRV", &a);
		bool right = false;
		for (size_t k = 0; n > 0 && k < a.count; k++) {
			/* "PRIO WEIGHT PORT TARGET": compare port and target */
			const char *p = strchr(a.items[k], ' ');
			p = p != NULL ? strchr(p + 1, ' ') : NULL;
			right = right || (p != NULL && strcasecmp(p + 1, want) == 0);
		}
		join(&a, found, sizeof(found));
		if (n == 0)
			report(c, "optional", "SRV", name, "none; mail clients then guess the server");
		else if (n > 0 && right)
			report(c, "ok", "SRV", name, "%s", found);
		else if (n > 0)
			report(c, "wrong", "SRV", name, "%s; want port and target \"%s\"", found, want);
		cli_dns_answers_free(&a);
	}
}

/* check_web_name - autoconfig.DOMAIN etc.: a CNAME to this host, or an
   address of this host */
static void check_web_name(struct check *c, const char *prefix, const char *domain, const char *what)
{
	const char *host = c->cli->ctx->hostname;
	char name[600], found[2048];
	struct cli_dns_answers a;

	snprintf(name, sizeof(name), "%s.%s", prefix, domain);
	int n = lookup(c, name, ns_t_cname, "CNAME", &a);
	if (n > 0) {
		bool here = strcasecmp(a.items[0], host) == 0;
		join(&a, found, sizeof(found));
		report(c, here ? "ok" : "wrong", "CNAME", name, here ? "%s" : "%s, not this host", found);
		cli_dns_answers_free(&a);
		return;
	}
	if (n < 0)
		return;
	n = lookup(c, name, ns_t_a, "A", &a);
	bool here = false;
	for (size_t i = 0; n > 0 && i < a.count; i++) {
		for (size_t k = 0; k < c->address_count; k++)
			here = here || strcmp(a.items[i], c->addresses[k]) == 0;
	}
	join(&a, found, sizeof(found));
	if (n == 0)
		report(c, "optional", "CNAME", name, "none; %s cannot find this host", what);
	else if (n > 0)
		report(c, here ? "ok" : "wrong", "A", name, here ? "%s" : "%s, not this host's address", found);
	cli_dns_answers_free(&a);
}

static void check_domain(struct check *c, const char *domain)
{
	const char *host = c->cli->ctx->hostname;
	char name[600], want[600], policy[512], id[17];

	c->domain = domain;
	check_mx(c, domain);
	check_spf(c, domain);
	if (cli_dkim_published(c->cli, domain, check_dkim_record, c) == 0)
		report(c, "missing", "DKIM", domain, "no DKIM key: make one with 'mailbag dkim keygen %s'", domain);
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(want, sizeof(want), "publish \"v=DMARC1; p=reject; rua=mailto:postmaster@%s\"", domain);
	check_txt(c, "DMARC", name, "v=DMARC1", NULL, "missing", want);
	cli_mta_sts_policy(host, policy, sizeof(policy));
	cli_mta_sts_id(policy, id);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	snprintf(want, sizeof(want), "v=STSv1; id=%s", id);
	check_txt(c, "MTA-STS", name, "v=STSv1", want, "optional", "senders cannot insist on TLS");
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	check_txt(c, "TLSRPT", name, "v=TLSRPTv1", NULL, "optional", "no one reports TLS failures to you");
	check_srv(c, domain);
	check_web_name(c, "mta-sts", domain, "MTA-STS senders");
	check_web_name(c, "autoconfig", domain, "Thunderbird");
	check_web_name(c, "autodiscover", domain, "Outlook");
}

int cli_dns_check(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "server", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL;
	char domain[MB_DOMAIN_MAX + 1], error[1024];
	struct cli_domains domains;
	int exit_code, opt;

	cli->command = "dns check";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (opt != 's')
			return cli_fail(cli, EX_USAGE, "see 'mailbag dns --help'");
		server = optarg;
	}
	if (argc - optind > 1)
		return cli_fail(cli, EX_USAGE, "give one domain, or none for every domain of the store");
	if (argc - optind == 1 && cli_parse_domain(cli, argv[optind], domain) < 0)
		return EX_DATAERR;
	if (cli_context(cli, &exit_code) < 0)
		return exit_code;
	if (cli_target_domains(cli, argc - optind == 1 ? domain : NULL, &domains, &exit_code) < 0)
		return exit_code;
	struct check c = { .cli = cli, .list = cli->json ? json_array() : NULL };
	c.dns = cli_dns_open(server, error, sizeof(error));
	if (c.dns == NULL) {
		json_decref(c.list);
		cli_domains_free(&domains);
		return cli_fail(cli, EX_USAGE, "%s", error);
	}
	const char *host = cli->ctx->hostname;
	check_addresses(&c, host);
	check_ptr(&c, host);
	check_tlsa(&c, host);
	for (size_t i = 0; i < domains.count; i++)
		check_domain(&c, domains.items[i].name);
	cli_domains_free(&domains);
	cli_dns_close(c.dns);
	if (c.list != NULL) {
		json_dumpf(c.list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(c.list);
	} else {
		printf("%d problem%s\n", c.failures, c.failures == 1 ? "" : "s");
	}
	return c.failures > 0 ? 1 : EX_OK;
}
