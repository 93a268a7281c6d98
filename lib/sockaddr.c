/* sockaddr.c - the socket addresses the context names
 *
 * SUMMARY
 *	Dovecot nodes (lmtpd.nodes) and mailbag-lmtpd's optional TCP
 *	listener are written "/unix/socket", "IPv4:PORT" or "[IPv6]:PORT".
 *	Only IP literals: a daemon on an event loop must not block on a
 *	name lookup, and a mail server's own addresses are known.
 */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int parse_port(const char *text, uint16_t *port_r)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	unsigned long port = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return -1;
	*port_r = (uint16_t)port;
	return 0;
}

int mb_sockaddr_parse(const char *address, struct sockaddr_storage *ss, socklen_t *len_r)
{
	char host[64];
	const char *colon;
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (address[0] == '/') {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t len = strlen(address);
		if (len >= sizeof(sun->sun_path) || strstr(address, "/../") != NULL)
			return -1;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, address, len + 1);
		*len_r = sizeof(*sun);
		return 0;
	}
	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - address - 1) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(close - address - 1), address + 1);
		colon = close + 1;
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL || (size_t)(colon - address) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - address), address);
	}
	if (parse_port(colon + 1, &port) < 0)
		return -1;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (address[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len_r = sizeof(*sin);
		return 0;
	}
	if (address[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len_r = sizeof(*sin6);
		return 0;
	}
	return -1;
}
