/* node-route.h - which node answers a login or a mailbox lookup (see node-route.c). */
#ifndef MAILBAG_NODE_ROUTE_H
#define MAILBAG_NODE_ROUTE_H

#include "context.h"

/* what is being looked up: a login's password, or the mailbox */
enum mb_node_lookup {
	MB_NODE_LOOKUP_PASSDB,
	MB_NODE_LOOKUP_USERDB,
};

enum mb_node_answer {
	MB_NODE_SERVE_HERE, /* answer as a single node would */
	MB_NODE_PROXY,      /* send the login on to route->node */
	MB_NODE_TEMPFAIL,   /* a temporary failure: route->reason says why */
};

struct mb_node_route {
	enum mb_node_answer answer;
	const struct mb_node *node; /* MB_NODE_PROXY: where to */
	unsigned int port;          /* MB_NODE_PROXY: that node's port for the service */
	enum mb_node_ssl ssl;       /* MB_NODE_PROXY: TLS to it for the service */
	char reason[160];           /* MB_NODE_TEMPFAIL, for the log */
};

/* Which node answers lookup for a user whose record names user_node
   ("" this node) when the request came in for Dovecot's service
   ("imap", "pop3", "sieve", "smtp", "submission", "lmtp", "doveadm",
   ...). Pure: reads only ctx. */
void mb_node_route(const struct mb_context *ctx, const char *user_node, const char *service,
		   enum mb_node_lookup lookup, struct mb_node_route *route_r);

#endif
