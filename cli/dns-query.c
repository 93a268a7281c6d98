/* dns-query.c - DNS lookups for `mailbag dns check` and `dkim activate`
 *
 * SUMMARY
 *	One resolver (libresolv's res_n* on a private state): the system's
 *	(/etc/resolv.conf) or one server given as IPv4[:PORT]. A lookup
 *	gives every answer of one type as text, in the form zone files use:
 *	A/AAAA as addresses, MX "PREF HOST", TXT its strings joined, PTR and
 *	CNAME a name, SRV "PRIO WEIGHT PORT TARGET", TLSA "U S M HEX"; names
 *	in lower case without the final dot. "No such name" and "no record
 *	of that type" are an empty answer; anything else (timeout, SERVFAIL)
 *	is a failure, never taken for "missing".
 */
#include "dns-query.h"
#include "grow.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_dns {
	struct __res_state state;
};

struct cli_dns *cli_dns_open(const char *server, char *error, size_t error_size)
{
	struct cli_dns *dns = calloc(1, sizeof(*dns));

	if (dns == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	if (res_ninit(&dns->state) < 0) {
		snprintf(error, error_size, "cannot set up the resolver (/etc/resolv.conf)");
		free(dns);
		return NULL;
	}
	dns->state.options |= RES_USE_EDNS0;
	if (server == NULL)
		return dns;
	char host[64];
	unsigned long port = 53;
	const char *colon = strchr(server, ':');
	size_t host_len = colon != NULL ? (size_t)(colon - server) : strlen(server);
	struct in_addr addr;
	if (host_len >= sizeof(host))
		host_len = sizeof(host) - 1;
	memcpy(host, server, host_len);
	host[host_len] = '\0';
	if (colon != NULL) {
		char *end;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || end == colon + 1 || port == 0 || port > 65535)
			port = 0;
	}
	if (inet_pton(AF_INET, host, &addr) != 1 || port == 0) {
		snprintf(error, error_size, "--server '%.80s': give an IPv4 address, optionally with :PORT", server);
		cli_dns_close(dns);
		return NULL;
	}
	/* one server: no waiting out the system's timeouts for it */
	dns->state.retrans = 2;
	dns->state.retry = 2;
	dns->state.nscount = 1;
	dns->state.nsaddr_list[0].sin_family = AF_INET;
	dns->state.nsaddr_list[0].sin_addr = addr;
	dns->state.nsaddr_list[0].sin_port = htons((uint16_t)port);
	return dns;
}

void cli_dns_close(struct cli_dns *dns)
{
	if (dns == NULL)
		return;
	res_nclose(&dns->state);
	free(dns);
}

void cli_dns_answers_free(struct cli_dns_answers *answers)
{
	for (size_t i = 0; i < answers->count; i++)
		free(answers->items[i]);
	free(answers->items);
	answers->items = NULL;
	answers->count = 0;
	answers->capacity = 0;
}

static int add_answer(struct cli_dns_answers *answers, const char *text)
{
	char **grown = mb_grow(answers->items, &answers->capacity, answers->count + 1, sizeof(*grown), 0);

	if (grown == NULL)
		return -1;
	answers->items = grown;
	answers->items[answers->count] = strdup(text);
	if (answers->items[answers->count] == NULL)
		return -1;
	answers->count++;
	return 0;
}

static void lower_name(char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		name[len - 1] = '\0';
	for (char *p = name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* format_rdata - one answer's data as zone-file text; -1 if malformed */
static int format_rdata(const ns_msg *msg, const ns_rr *rr, char *out, size_t size)
{
	const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
	const unsigned char *eom = ns_msg_end(*msg);
	char name[NS_MAXDNAME];

	switch (ns_rr_type(*rr)) {
	case ns_t_a:
		return end - p == 4 && inet_ntop(AF_INET, p, out, (socklen_t)size) != NULL ? 0 : -1;
	case ns_t_aaaa:
		return end - p == 16 && inet_ntop(AF_INET6, p, out, (socklen_t)size) != NULL ? 0 : -1;
	case ns_t_txt: {
		size_t n = 0;
		while (p < end) {
			size_t piece = *p++;
			if (piece > (size_t)(end - p) || n + piece >= size)
				return -1;
			memcpy(out + n, p, piece);
			n += piece;
			p += piece;
		}
		out[n] = '\0';
		return 0;
	}
	case ns_t_mx:
		if (end - p < 3 || ns_name_uncompress(ns_msg_base(*msg), eom, p + 2, name, sizeof(name)) < 0)
			return -1;
		lower_name(name);
		snprintf(out, size, "%u %s", (unsigned)ns_get16(p), name);
		return 0;
	case ns_t_ptr: case ns_t_cname:
		if (ns_name_uncompress(ns_msg_base(*msg), eom, p, name, sizeof(name)) < 0)
			return -1;
		lower_name(name);
		snprintf(out, size, "%s", name);
		return 0;
	case ns_t_srv:
		if (end - p < 7 || ns_name_uncompress(ns_msg_base(*msg), eom, p + 6, name, sizeof(name)) < 0)
			return -1;
		lower_name(name);
		snprintf(out, size, "%u %u %u %s", (unsigned)ns_get16(p), (unsigned)ns_get16(p + 2),
			 (unsigned)ns_get16(p + 4), name[0] != '\0' ? name : ".");
		return 0;
	case CLI_DNS_TYPE_TLSA: {
		if (end - p < 4 || (size_t)(end - p) * 2 + 16 > size)
			return -1;
		size_t n = (size_t)snprintf(out, size, "%u %u %u ", p[0], p[1], p[2]);
		for (const unsigned char *d = p + 3; d < end; d++, n += 2)
			snprintf(out + n, size - n, "%02x", *d);
		return 0;
	}
	default:
		return -1;
	}
}

int cli_dns_parse_answer(const unsigned char *packet, int len, int type,
			 struct cli_dns_answers *answers)
{
	ns_msg msg;
	ns_rr rr;

	answers->items = NULL;
	answers->count = 0;
	answers->capacity = 0;
	if (len < 0 || ns_initparse(packet, len, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		char text[8192];
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || (int)ns_rr_type(rr) != type ||
		    format_rdata(&msg, &rr, text, sizeof(text)) < 0)
			continue;
		if (add_answer(answers, text) < 0) {
			cli_dns_answers_free(answers);
			return -1;
		}
	}
	return (int)answers->count;
}

int cli_dns_lookup(struct cli_dns *dns, const char *name, int type,
		   struct cli_dns_answers *answers, char *error, size_t error_size)
{
	unsigned char packet[16384];

	answers->items = NULL;
	answers->count = 0;
	answers->capacity = 0;
	int len = res_nquery(&dns->state, name, ns_c_in, type, packet, sizeof(packet));
	if (len < 0) {
		int why = dns->state.res_h_errno;
		if (why == HOST_NOT_FOUND || why == NO_DATA)
			return 0;
		snprintf(error, error_size, "the lookup of %s failed (%s): DNS did not answer",
			 name, why == TRY_AGAIN ? "timeout or server failure" : "refused or malformed");
		return -1;
	}
	/* res_nquery gives the full length even when the answer was cut */
	if (len > (int)sizeof(packet))
		len = (int)sizeof(packet);
	int n = cli_dns_parse_answer(packet, len, type, answers);
	if (n < 0)
		snprintf(error, error_size, "the answer for %s cannot be read", name);
	return n;
}

bool cli_same_record(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t')
			a++;
		while (*b == ' ' || *b == '\t')
			b++;
		if (*a != *b)
			return false;
		if (*a == '\0')
			return true;
		a++;
		b++;
	}
}
