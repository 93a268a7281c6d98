/* network.h - IP addresses, CIDR networks and client networks (see network.c). */
#ifndef MAILBAG_NETWORK_H
#define MAILBAG_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_network {
	int family;           /* AF_INET or AF_INET6 */
	uint8_t address[16];  /* network order, host bits cleared */
	unsigned int prefix;  /* 0..32 or 0..128 */
};

/* "192.0.2.0/24", "2001:db8::/32", or a single address ("192.0.2.7" is
   /32). Host bits set past the prefix are refused, so a typo such as
   "192.0.2.7/24" is not silently widened. 0, or -1 with *error_r. */
int mb_network_parse(const char *text, struct mb_network *net, const char **error_r);

/* Whether the textual address (as Postfix's client_address gives it)
   lies in net. An unparsable address is in no network. */
bool mb_network_contains(const struct mb_network *net, const char *address);

/* net widened to its first prefix bits, host bits cleared: SPF's
   "ip4:192.0.2.7/24" is 192.0.2.7 widened to 192.0.2.0/24. A prefix
   at or past net's own leaves net as it is. */
void mb_network_widen(struct mb_network *net, unsigned int prefix);

/* The network a client counts in: its /24 for IPv4, its /64 for IPv6
   (an IPv4-mapped IPv6 address counts as IPv4), written "192.0.2.0/24".
   0, or -1 for an unparsable address. */
int mb_client_network(const char *address, char *out, size_t out_size);

#endif
