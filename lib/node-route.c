/* node-route.c - which node answers a login or a mailbox lookup
 *
 * SUMMARY
 *	Each user's mailbox is on one node (her record's node; "" is the
 *	node reading it). The Dovecot driver asks here, per passdb or
 *	userdb lookup, whether this node answers it, whether the login is
 *	proxied to the node holding the mailbox (with that node's port for
 *	the service and the TLS its `nodes` entry asks for), or whether the
 *	answer is a temporary failure. The rules, in order:
 *
 *	- a context without `node` is a single node: every lookup is
 *	  answered here, as before nodes existed;
 *	- a user on this node ("", "local" or the context's `node`) is
 *	  answered here;
 *	- SMTP AUTH and submission logins (services smtp, submission) are
 *	  answered on any node: sending mail needs no mailbox;
 *	- a userdb lookup for doveadm is answered here (the admin's tools
 *	  and `mailbag user move`'s dsync work on any node's copy); any
 *	  other userdb lookup (lmtp, imap, pop3, sieve, ...) for a mailbox
 *	  on another node is a temporary failure, so a misrouted delivery
 *	  stays queued and no session opens an empty mailbox;
 *	- a login (passdb) for imap, pop3 or sieve names the node to proxy
 *	  to; a node the context's `nodes` does not have is a temporary
 *	  failure; other services' passdb lookups only check the password
 *	  and are answered here (their userdb lookup decides).
 */
#include "node-route.h"

#include <stdio.h>
#include <string.h>

/* service_port - the port of node for a proxied service, 0 for none */
static unsigned int service_port(const struct mb_node *node, const char *service)
{
	if (strcmp(service, "imap") == 0)
		return node->imap_port;
	if (strcmp(service, "pop3") == 0)
		return node->pop3_port;
	if (strcmp(service, "sieve") == 0)
		return node->sieve_port;
	return 0;
}

/* service_ssl - the TLS for service: ManageSieve has no implicit-TLS
   port, so a node with ssl "yes" gets STARTTLS on its sieve port */
static enum mb_node_ssl service_ssl(const struct mb_node *node, const char *service)
{
	if (node->ssl == MB_NODE_SSL_YES && strcmp(service, "sieve") == 0)
		return MB_NODE_SSL_STARTTLS;
	return node->ssl;
}

static bool service_sends_mail_only(const char *service)
{
	return strcmp(service, "smtp") == 0 || strcmp(service, "submission") == 0;
}

void mb_node_route(const struct mb_context *ctx, const char *user_node, const char *service,
		   enum mb_node_lookup lookup, struct mb_node_route *route_r)
{
	const struct mb_node *node;

	memset(route_r, 0, sizeof(*route_r));
	route_r->answer = MB_NODE_SERVE_HERE;
	if (ctx->node[0] == '\0' || mb_context_node_is_local(ctx, user_node) ||
	    service_sends_mail_only(service))
		return;
	if (lookup == MB_NODE_LOOKUP_USERDB) {
		if (strcmp(service, "doveadm") != 0) {
			route_r->answer = MB_NODE_TEMPFAIL;
			snprintf(route_r->reason, sizeof(route_r->reason),
				 "the mailbox is on node %s, not here (%s)", user_node, ctx->node);
		}
		return;
	}
	node = mb_context_node_entry(ctx, user_node);
	if (node == NULL) {
		route_r->answer = MB_NODE_TEMPFAIL;
		snprintf(route_r->reason, sizeof(route_r->reason),
			 "the record names node %s, which the context's nodes does not have%s",
			 user_node, mb_context_node(ctx, user_node) != NULL ?
			 " (lmtpd.nodes has only its LMTP address)" : "");
		return;
	}
	route_r->port = service_port(node, service);
	if (route_r->port == 0)
		return;
	route_r->answer = MB_NODE_PROXY;
	route_r->node = node;
	route_r->ssl = service_ssl(node, service);
}
