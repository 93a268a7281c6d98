/* network.c - IP addresses, CIDR networks and client networks
 *
 * SUMMARY
 *	What policyd needs to reason about SMTP clients: allowlist entries
 *	("192.0.2.0/24", "2001:db8::/32"), whether a client_address lies in
 *	one, and the network a client is counted in for greylisting and
 *	rate limits (IPv4 /24, IPv6 /64: one host's neighbours share a
 *	server farm, and an IPv6 host owns a whole /64). Parsing is
 *	inet_pton's; only the prefix arithmetic is ours.
 */
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* parse_address - text to family and 16 bytes; IPv4-mapped IPv6 becomes IPv4 */
static int parse_address(const char *text, int *family_r, uint8_t address[16])
{
	static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(address, 0, 16);
	if (inet_pton(AF_INET, text, address) == 1) {
		*family_r = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, address) == 1) {
		if (memcmp(address, mapped_prefix, sizeof(mapped_prefix)) == 0) {
			memmove(address, address + 12, 4);
			memset(address + 4, 0, 12);
			*family_r = AF_INET;
		} else {
			*family_r = AF_INET6;
		}
		return 0;
	}
	return -1;
}

static void clear_host_bits(uint8_t address[16], unsigned int prefix, unsigned int bits)
{
	for (unsigned int bit = prefix; bit < bits; bit++)
		address[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

int mb_network_parse(const char *text, struct mb_network *net, const char **error_r)
{
	char address_text[64];
	const char *slash = strchr(text, '/');
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);

	if (len == 0 || len >= sizeof(address_text)) {
		*error_r = "not an IP address";
		return -1;
	}
	memcpy(address_text, text, len);
	address_text[len] = '\0';
	if (parse_address(address_text, &net->family, net->address) < 0) {
		*error_r = "not an IP address";
		return -1;
	}
	unsigned int bits = net->family == AF_INET ? 32 : 128;
	net->prefix = bits;
	if (slash != NULL) {
		char *end;
		errno = 0;
		unsigned long prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0 || prefix > bits) {
			*error_r = net->family == AF_INET ? "the prefix length must be 0 to 32" :
				"the prefix length must be 0 to 128";
			return -1;
		}
		net->prefix = (unsigned int)prefix;
	}
	uint8_t cleared[16];
	memcpy(cleared, net->address, sizeof(cleared));
	clear_host_bits(cleared, net->prefix, bits);
	if (memcmp(cleared, net->address, sizeof(cleared)) != 0) {
		*error_r = "host bits are set past the prefix length (write the network address)";
		return -1;
	}
	return 0;
}

bool mb_network_contains(const struct mb_network *net, const char *address)
{
	uint8_t bytes[16];
	int family;

	if (parse_address(address, &family, bytes) < 0 || family != net->family)
		return false;
	clear_host_bits(bytes, net->prefix, family == AF_INET ? 32 : 128);
	return memcmp(bytes, net->address, sizeof(bytes)) == 0;
}

void mb_network_widen(struct mb_network *net, unsigned int prefix)
{
	if (prefix >= net->prefix)
		return;
	clear_host_bits(net->address, prefix, net->prefix);
	net->prefix = prefix;
}

int mb_client_network(const char *address, char *out, size_t out_size)
{
	uint8_t bytes[16];
	char text[INET6_ADDRSTRLEN];
	int family;

	if (parse_address(address, &family, bytes) < 0)
		return -1;
	unsigned int prefix = family == AF_INET ? 24 : 64;
	clear_host_bits(bytes, prefix, family == AF_INET ? 32 : 128);
	if (inet_ntop(family, bytes, text, sizeof(text)) == NULL)
		return -1;
	int n = snprintf(out, out_size, "%s/%u", text, prefix);
	return n < 0 || (size_t)n >= out_size ? -1 : 0;
}
