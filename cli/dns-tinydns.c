/* dns-tinydns.c - `mailbag dns records --format tinydns`: the records as
 *	the lines of tinydns-data's data file (djbdns)
 *
 * SUMMARY
 *	MX:	@fqdn::mx.host:dist:ttl (no address: tinydns-data makes no A)
 *	TXT:	'fqdn:text:ttl, with ':', '\\' and every byte outside
 *		printable ASCII written as tinydns-data's octal \\NNN;
 *		tinydns-data cuts long text into strings itself
 *	CNAME:	Cfqdn:target:ttl
 *	SRV, TLSA and anything else: the generic :fqdn:type:rdata:ttl, its
 *		rdata in wire form (RFC 2782, RFC 6698), every byte that is not
 *		a letter or digit written \\NNN
 *
 *	Names are written without the trailing dot. The formatter is pure:
 *	a record in, a line out.
 */
#include "dns-tinydns.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define RDATA_MAX 1024

static void put_escaped(FILE *out, const unsigned char *bytes, size_t len, int keep_printable)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = bytes[i];
		int plain = keep_printable ? (c >= 0x20 && c < 0x7f && c != ':' && c != '\\')
					   : (isalnum(c) != 0);
		if (plain)
			fputc(c, out);
		else
			fprintf(out, "\\%03o", c);
	}
}

/* without_dot - name into out without a trailing '.' */
static int without_dot(const char *name, char *out, size_t size)
{
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= size || memchr(name, ':', len) != NULL)
		return -1;
	memmove(out, name, len); /* out may be name */
	out[len] = '\0';
	return 0;
}

/* wire_name - a domain name in wire form (labels, then the root's 0) */
static int wire_name(const char *name, unsigned char *out, size_t size, size_t *len_r)
{
	size_t at = 0;
	const char *p = name;

	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t label = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (label == 0 || label > 63 || at + label + 2 > size)
			return -1;
		out[at++] = (unsigned char)label;
		memcpy(out + at, p, label);
		at += label;
		p += label + (dot != NULL);
	}
	if (at + 1 > size)
		return -1;
	out[at++] = 0;
	*len_r = at;
	return 0;
}

static int srv_rdata(const char *value, unsigned char *out, size_t *len_r)
{
	unsigned prio, weight, port;
	char target[300];
	size_t name_len;

	if (sscanf(value, "%u %u %u %299s", &prio, &weight, &port, target) != 4 || prio > 65535 ||
	    weight > 65535 || port > 65535 || wire_name(target, out + 6, RDATA_MAX - 6, &name_len) < 0)
		return -1;
	const unsigned fields[3] = { prio, weight, port };
	for (size_t i = 0; i < 3; i++) {
		out[2 * i] = (unsigned char)(fields[i] >> 8);
		out[2 * i + 1] = (unsigned char)(fields[i] & 0xff);
	}
	*len_r = 6 + name_len;
	return 0;
}

static int tlsa_rdata(const char *value, unsigned char *out, size_t *len_r)
{
	unsigned usage, selector, mtype;
	char hex[2 * (RDATA_MAX - 3) + 1];

	if (sscanf(value, "%u %u %u %2041s", &usage, &selector, &mtype, hex) != 4 || usage > 255 ||
	    selector > 255 || mtype > 255)
		return -1;
	size_t hex_len = strlen(hex);
	if (hex_len % 2 != 0 || hex_len / 2 > RDATA_MAX - 3)
		return -1;
	out[0] = (unsigned char)usage;
	out[1] = (unsigned char)selector;
	out[2] = (unsigned char)mtype;
	for (size_t i = 0; i < hex_len / 2; i++) {
		char pair[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
		char *end;
		if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
			return -1;
		out[3 + i] = (unsigned char)strtoul(pair, &end, 16);
	}
	*len_r = 3 + hex_len / 2;
	return 0;
}

int dns_tinydns_line(FILE *out, const char *name, const char *type, const char *value,
		     unsigned ttl, const char **error_r)
{
	char fqdn[300], host[300];
	unsigned char rdata[RDATA_MAX];
	size_t rdata_len;
	unsigned dist;

	if (without_dot(name, fqdn, sizeof(fqdn)) < 0) {
		*error_r = "the name is too long or holds ':'";
		return -1;
	}
	if (strcmp(type, "MX") == 0) {
		if (sscanf(value, "%u %299s", &dist, host) != 2 || dist > 65535 ||
		    without_dot(host, host, sizeof(host)) < 0) {
			*error_r = "an MX value is \"DIST HOST.\"";
			return -1;
		}
		fprintf(out, "@%s::%s:%u:%u\n", fqdn, host, dist, ttl);
	} else if (strcmp(type, "TXT") == 0) {
		fprintf(out, "'%s:", fqdn);
		put_escaped(out, (const unsigned char *)value, strlen(value), 1);
		fprintf(out, ":%u\n", ttl);
	} else if (strcmp(type, "CNAME") == 0) {
		if (without_dot(value, host, sizeof(host)) < 0) {
			*error_r = "a CNAME value is a host name";
			return -1;
		}
		fprintf(out, "C%s:%s:%u\n", fqdn, host, ttl);
	} else if (strcmp(type, "SRV") == 0 || strcmp(type, "TLSA") == 0) {
		int srv = strcmp(type, "SRV") == 0;
		if ((srv ? srv_rdata(value, rdata, &rdata_len) : tlsa_rdata(value, rdata, &rdata_len)) < 0) {
			*error_r = srv ? "an SRV value is \"PRIO WEIGHT PORT TARGET.\""
				       : "a TLSA value is \"USAGE SELECTOR TYPE HEX\"";
			return -1;
		}
		fprintf(out, ":%s:%u:", fqdn, srv ? 33 : 52);
		put_escaped(out, rdata, rdata_len, 0);
		fprintf(out, ":%u\n", ttl);
	} else {
		*error_r = "no tinydns-data form for this record type";
		return -1;
	}
	return 0;
}
