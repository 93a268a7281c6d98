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
 *	addresses send (evaluated by libspf2: every mechanism and macro,
 *	asking the same DNS server as the other checks, within
 *	SPF_CHECK_SECONDS; a permanent error is "wrong", a temporary one
 *	"error"), each DKIM key that signs or will, one DMARC record, and
 *	the optional MTA-STS id, TLS-RPT, SRV and web names. Exit 0 when nothing is
 *	missing, wrong or unanswered, else 1.
 */
#include "dns-check.h"
#include "cli.h"
#include "dkim-keys.h"
#include "dns-query.h"
#include "domain-list.h"
#include "mta-sts.h"
#include "tls-check.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spf2/spf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#define HOST_ADDRESSES_MAX 16
/* the SPF evaluation of one domain, for all of this host's addresses:
   past it, the lookups left are temporary errors */
#define SPF_CHECK_SECONDS 20

/* libspf2 asks DNS through this layer, which calls dns-query.c: SPF then
   asks the server every other check asks (--server, or the system's),
   with the same timeouts, and a failed lookup is a temporary error, not
   "no record". libspf2's own resolver (SPF_dns_resolv) cannot be given
   a server or a port: it runs res_ninit on /etc/resolv.conf. */
struct spf_dns {
	SPF_dns_server_t layer;       /* hook points back to this struct */
	struct cli_dns *dns;
	struct timespec deadline;     /* of the current domain's evaluation */
	char error[512];              /* the first lookup that failed, or "" */
};

struct check {
	struct cli *cli;
	struct cli_dns *dns;
	struct spf_dns spf;
	SPF_server_t *spf_server;
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

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* spf_rr_set - answer idx of rr from dns-query.c's text: 1 set, 0 not a
   usable answer, -1 out of memory */
static int spf_rr_set(SPF_dns_rr_t *rr, int idx, const char *text)
{
	const char *name = text;

	switch (rr->rr_type) {
	case ns_t_a: case ns_t_aaaa: {
		unsigned char bytes[sizeof(struct in6_addr)];
		int family = rr->rr_type == ns_t_a ? AF_INET : AF_INET6;
		if (inet_pton(family, text, bytes) != 1)
			return 0;
		if (SPF_dns_rr_buf_realloc(rr, idx, sizeof(bytes)) != SPF_E_SUCCESS)
			return -1;
		if (family == AF_INET)
			memcpy(&rr->rr[idx]->a, bytes, sizeof(rr->rr[idx]->a));
		else
			memcpy(&rr->rr[idx]->aaaa, bytes, sizeof(rr->rr[idx]->aaaa));
		return 1;
	}
	case ns_t_mx:                 /* "PREF HOST": the host */
		name = strchr(text, ' ');
		if (name == NULL || name[1] == '\0')
			return 0;     /* "0 .": the null MX names no host */
		name++;
		/* fall through */
	case ns_t_txt: case ns_t_ptr:
		if (SPF_dns_rr_buf_realloc(rr, idx, strlen(name) + 1) != SPF_E_SUCCESS)
			return -1;
		memcpy(rr->rr[idx]->txt, name, strlen(name) + 1);
		return 1;
	default:
		return 0;
	}
}

/* spf_dns_answer - a libspf2 answer for what cli_dns_lookup said */
static SPF_dns_rr_t *spf_dns_answer(SPF_dns_server_t *layer, const char *domain, ns_type type,
				    int n, const struct cli_dns_answers *answers)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(layer, domain, type, 0,
					      n < 0 ? TRY_AGAIN : n == 0 ? HOST_NOT_FOUND : NETDB_SUCCESS);
	int count = 0;

	for (size_t i = 0; rr != NULL && n > 0 && i < answers->count; i++) {
		int set = spf_rr_set(rr, count, answers->items[i]);
		if (set < 0) {
			SPF_dns_rr_free(rr);
			return NULL;  /* libspf2 takes NULL for out of memory */
		}
		count += set;
	}
	if (rr != NULL && n > 0) {
		rr->num_rr = count;
		rr->herrno = count > 0 ? NETDB_SUCCESS : NO_DATA;
	}
	return rr;
}

static SPF_dns_rr_t *spf_dns_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
				    int should_cache)
{
	struct spf_dns *spf = layer->hook;
	struct cli_dns_answers answers = { NULL, 0, 0 };
	char error[512];
	int n;

	(void)should_cache;
	/* RFC 7208 3.1: the SPF type (99) is gone; the record is the TXT one */
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	if (past(&spf->deadline)) {
		n = -1;
		snprintf(error, sizeof(error), "the evaluation took longer than %d seconds",
			 SPF_CHECK_SECONDS);
	} else {
		n = cli_dns_lookup(spf->dns, domain, type, &answers, error, sizeof(error));
	}
	if (n < 0 && spf->error[0] == '\0')
		snprintf(spf->error, sizeof(spf->error), "%s", error);
	SPF_dns_rr_t *rr = spf_dns_answer(layer, domain, type, n, &answers);
	cli_dns_answers_free(&answers);
	return rr;
}

/* spf_open - a libspf2 server asking DNS through dns; NULL when out of
   memory (libspf2 aborts on its other failures) */
static SPF_server_t *spf_open(struct spf_dns *spf, struct cli_dns *dns)
{
	/* libspf2 prints its warnings on stderr; the report says what matters */
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	*spf = (struct spf_dns){
		.layer = { .lookup = spf_dns_lookup, .name = "mailbag dns check", .hook = spf },
		.dns = dns,
	};
	return SPF_server_new_dns(&spf->layer, 0);
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

/* spf_query - libspf2's result for mail from postmaster@domain sent by
   address (this host, which says HELO hostname); why_r the error code
   behind a permerror or temperror */
static SPF_result_t spf_query(struct check *c, const char *domain, const char *address,
			      SPF_errcode_t *why_r)
{
	SPF_request_t *request = SPF_request_new(c->spf_server);
	SPF_response_t *response = NULL;
	SPF_result_t result = SPF_RESULT_TEMPERROR;
	char sender[MB_ADDRESS_MAX + 1];

	*why_r = SPF_E_NO_MEMORY;
	if (request == NULL)
		return result;
	bool set = strchr(address, ':') != NULL ?
		SPF_request_set_ipv6_str(request, address) == SPF_E_SUCCESS :
		SPF_request_set_ipv4_str(request, address) == SPF_E_SUCCESS;
	snprintf(sender, sizeof(sender), "postmaster@%s", domain);
	if (set && SPF_request_set_helo_dom(request, c->cli->ctx->hostname) == SPF_E_SUCCESS &&
	    SPF_request_set_env_from(request, sender) == 0) {
		SPF_request_query_mailfrom(request, &response);
		if (response != NULL) {
			result = SPF_response_result(response);
			*why_r = SPF_response_errcode(response);
		}
	}
	SPF_response_free(response);
	SPF_request_free(request);
	return result;
}

/* append_address - "a, b" in list, which holds size bytes */
static void append_address(char *list, size_t size, const char *address)
{
	size_t used = strlen(list);

	snprintf(list + used, size - used, "%s%s", used > 0 ? ", " : "", address);
}

static void check_spf(struct check *c, const char *domain)
{
	char record[4096], refused[1024] = "", broken[256] = "";
	int n = spf_record(c, domain, record, sizeof(record)), unsure = 0;

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
	c->spf.error[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &c->spf.deadline);
	c->spf.deadline.tv_sec += SPF_CHECK_SECONDS;
	for (size_t i = 0; i < c->address_count; i++) {
		SPF_errcode_t why;
		SPF_result_t result = spf_query(c, domain, c->addresses[i], &why);
		if (result == SPF_RESULT_PASS)
			continue;
		append_address(refused, sizeof(refused), c->addresses[i]);
		if (result == SPF_RESULT_TEMPERROR && unsure++ == 0 && c->spf.error[0] == '\0')
			snprintf(c->spf.error, sizeof(c->spf.error), "%s", SPF_strerror(why));
		if (result == SPF_RESULT_PERMERROR && broken[0] == '\0')
			snprintf(broken, sizeof(broken), "%s", SPF_strerror(why));
	}
	if (refused[0] == '\0')
		report(c, "ok", "SPF", domain, "%s", record);
	else if (unsure > 0)
		report(c, "error", "SPF", domain, "\"%s\": cannot tell whether it lets %s send (%s)",
		       record, refused, c->spf.error);
	else if (broken[0] != '\0')
		report(c, "wrong", "SPF", domain, "\"%s\" is a permanent error for this host's %s (%s): receivers take it as a failure; fix the record",
		       record, refused, broken);
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
		{ "_submission._tcp", ctx->clients.submission_port }, { "_submissions._tcp", ctx->clients.submissions_port },
		{ "_imap._tcp", ctx->clients.imap_port }, { "_imaps._tcp", ctx->clients.imaps_port },
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
	c.spf_server = spf_open(&c.spf, c.dns);
	if (c.spf_server == NULL) {
		cli_dns_close(c.dns);
		json_decref(c.list);
		cli_domains_free(&domains);
		return cli_fail(cli, EX_OSERR, "out of memory setting up libspf2");
	}
	const char *host = cli->ctx->hostname;
	check_addresses(&c, host);
	check_ptr(&c, host);
	check_tlsa(&c, host);
	for (size_t i = 0; i < domains.count; i++)
		check_domain(&c, domains.items[i].name);
	cli_domains_free(&domains);
	SPF_server_free(c.spf_server);
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
