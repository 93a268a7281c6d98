/* context-nodes.c - the context file's node maps: node, nodes, lmtpd.nodes
 *
 * SUMMARY
 *	Several nodes share one store; each user's record names the node
 *	that holds her mailbox ("" for this one). The context says which
 *	node this is (`node`) and where the others are: `nodes` gives, per
 *	node, the host the other nodes reach it at, its Dovecot LMTP
 *	address, its IMAP, POP3, ManageSieve and doveadm ports and the TLS
 *	the proxy speaks to it; the older `lmtpd.nodes` names only an LMTP
 *	address per node and keeps working for delivery. This module reads
 *	both maps, each entry checked and the whole map refused for one bad
 *	entry, and answers which node a name means.
 *
 * DIAGNOSTICS
 *	"FILE: key 'nodes.b.imap_port': expected a port number from 1 to 65535"
 */
#include "context-internal.h"
#include "address.h"
#include "sockaddr.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mb_node_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= MB_NODE_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* node_address_valid - "/path", "IPv4:PORT" or "[IPv6]:PORT" */
bool context_node_address_valid(const char *address)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return mb_sockaddr_parse(address, &ss, &len) == 0;
}

/* context_check_node_name - the `node` key: "" or a node name */
int context_check_node_name(struct parse_state *st, const char *key, const struct field *f,
			    const char *value)
{
	if (value[0] == '\0' || (mb_node_name_valid(value) && strcmp(value, "local") != 0))
		return 0;
	return context_fail(st, key, "expected %s (got \"%.40s\")", f->help, value);
}

int context_set_nodes(struct parse_state *st, const char *key, const struct field *f,
		     json_t *value, struct mb_lmtp_nodes *list)
{
	const char *name;
	json_t *address;
	size_t count = 0;

	if (!json_is_object(value) || json_object_size(value) > MB_NODES_MAX)
		return context_fail(st, key, "expected %s (at most %d)", f->help, MB_NODES_MAX);
	struct mb_lmtp_node *nodes = calloc(json_object_size(value) + 1, sizeof(*nodes));
	if (nodes == NULL)
		return context_fail(st, key, "out of memory");
	json_object_foreach(value, name, address) {
		const char *text = json_is_string(address) ? json_string_value(address) : "";
		if (!mb_node_name_valid(name) || strcmp(name, "local") == 0) {
			free(nodes);
			return context_fail(st, key, "node name \"%.40s\": use 1 to 32 of a-z 0-9 . _ - (\"local\" is the local Dovecot)", name);
		}
		if (strlen(text) > MB_NODE_ADDRESS_MAX || !context_node_address_valid(text)) {
			free(nodes);
			return context_fail(st, key, "node %s: \"%.60s\" is not \"/unix/socket\", \"IP:PORT\" or \"[IPv6]:PORT\"", name, text);
		}
		snprintf(nodes[count].name, sizeof(nodes[count].name), "%s", name);
		snprintf(nodes[count].address, sizeof(nodes[count].address), "%s", text);
		count++;
	}
	free(list->items);
	list->items = nodes;
	list->count = count;
	return 0;
}

static const char *const node_members[] = {
	"host", "lmtp", "imap_port", "pop3_port", "sieve_port", "doveadm_port", "ssl", NULL
};
static const char *const node_ssl_words[] = { "no", "starttls", "yes", NULL };

/* node_member_known - whether name is one of node_members */
static bool node_member_known(const char *name)
{
	for (size_t i = 0; node_members[i] != NULL; i++) {
		if (strcmp(node_members[i], name) == 0)
			return true;
	}
	return false;
}

/* host_is_ip - an IPv4 or IPv6 literal (without brackets) */
static bool host_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* node_host - "host": an IP address or a fully qualified name */
static int node_host(struct parse_state *st, const char *key, json_t *entry, struct mb_node *node)
{
	json_t *value = json_object_get(entry, "host");
	const char *text = json_is_string(value) ? json_string_value(value) : NULL;
	const char *error;

	if (value == NULL)
		return context_fail(st, key, "\"host\" is missing: the IP address or name the other nodes reach this node at");
	if (text == NULL || strlen(text) != json_string_length(value))
		return context_fail(st, key, "expected a string: an IP address or a fully qualified host name");
	if (host_is_ip(text)) {
		snprintf(node->host, sizeof(node->host), "%s", text);
		return 0;
	}
	if (mb_domain_parse(text, node->host, &error) < 0)
		return context_fail(st, key, "expected an IP address or a fully qualified host name: %s (got \"%.80s\")",
			    error, text);
	return 0;
}

/* node_lmtp - "lmtp": Dovecot's LMTP address, by default HOST:24 */
static int node_lmtp(struct parse_state *st, const char *key, json_t *entry, struct mb_node *node)
{
	json_t *value = json_object_get(entry, "lmtp");
	struct mb_lmtp_node *lmtp = &node->lmtp;

	if (value == NULL) {
		if (!host_is_ip(node->host))
			return context_fail(st, key, "\"host\" is a name, so give the LMTP address as \"IP:PORT\" (nothing is resolved)");
		snprintf(lmtp->address, sizeof(lmtp->address), strchr(node->host, ':') != NULL ?
			 "[%s]:24" : "%s:24", node->host);
		return 0;
	}
	const char *text = json_is_string(value) ? json_string_value(value) : "";
	if (strlen(text) > MB_NODE_ADDRESS_MAX || !context_node_address_valid(text))
		return context_fail(st, key, "expected \"/unix/socket\", \"IP:PORT\" or \"[IPv6]:PORT\" (got \"%.60s\")", text);
	snprintf(lmtp->address, sizeof(lmtp->address), "%s", text);
	return 0;
}

/* node_port - a port member, from 1 to 65535, or its default */
static int node_port(struct parse_state *st, const char *key, json_t *entry, const char *name,
		     unsigned int default_port, unsigned int *port_r)
{
	json_t *value = json_object_get(entry, name);

	if (value == NULL) {
		*port_r = default_port;
		return 0;
	}
	if (!json_is_integer(value) || json_integer_value(value) < 1 || json_integer_value(value) > 65535)
		return context_fail(st, key, "expected a port number from 1 to 65535");
	*port_r = (unsigned int)json_integer_value(value);
	return 0;
}

/* node_ssl - "ssl": no, starttls or yes (default no) */
static int node_ssl(struct parse_state *st, const char *key, json_t *entry, struct mb_node *node)
{
	json_t *value = json_object_get(entry, "ssl");
	const char *text = json_is_string(value) ? json_string_value(value) : "";

	if (value == NULL) {
		node->ssl = MB_NODE_SSL_NO;
		return 0;
	}
	for (int i = 0; node_ssl_words[i] != NULL; i++) {
		if (strcmp(node_ssl_words[i], text) == 0) {
			node->ssl = (enum mb_node_ssl)i;
			return 0;
		}
	}
	return context_fail(st, key, "expected \"no\", \"starttls\" or \"yes\" (TLS from the proxy to this node)");
}

/* the port members, their defaults (with "ssl": "yes", implicit TLS:
   IMAPS and POP3S) and where they go */
static const struct {
	const char *name;
	unsigned int default_port;
	unsigned int default_tls_port;
	size_t offset;
} ports[] = {
	{ "imap_port", 143, 993, offsetof(struct mb_node, imap_port) },
	{ "pop3_port", 110, 995, offsetof(struct mb_node, pop3_port) },
	{ "sieve_port", 4190, 4190, offsetof(struct mb_node, sieve_port) },
	{ "doveadm_port", 2425, 2425, offsetof(struct mb_node, doveadm_port) },
};

#define MEMBER_KEY_MAX 160

/* member_key - "nodes.NAME.MEMBER" into buf, for messages */
static const char *member_key(char buf[MEMBER_KEY_MAX], const char *node_key, const char *member)
{
	snprintf(buf, MEMBER_KEY_MAX, "%s.%s", node_key, member);
	return buf;
}

/* check_node - one entry of nodes into node; member errors name
   "nodes.NAME.MEMBER" */
static int check_node(struct parse_state *st, const char *key, const char *name,
		      json_t *entry, struct mb_node *node)
{
	char node_key[128], member_key_buf[MEMBER_KEY_MAX];
	const char *member;
	json_t *item;

	if (!mb_node_name_valid(name) || strcmp(name, "local") == 0)
		return context_fail(st, key, "node name \"%.40s\": use 1 to 32 of a-z 0-9 . _ - (\"local\" is reserved)", name);
	snprintf(node_key, sizeof(node_key), "%.60s.%s", key, name);
	if (!json_is_object(entry))
		return context_fail(st, node_key, "expected an object: {\"host\": \"10.0.0.2\", \"lmtp\": ..., \"imap_port\": ..., \"ssl\": ...}");
	json_object_foreach(entry, member, item) {
		if (!node_member_known(member))
			return context_fail(st, node_key, "unknown key '%.40s'; allowed: host, lmtp, imap_port, pop3_port, sieve_port, doveadm_port, ssl", member);
	}
	snprintf(node->lmtp.name, sizeof(node->lmtp.name), "%s", name);
	if (node_host(st, member_key(member_key_buf, node_key, "host"), entry, node) < 0 ||
	    node_lmtp(st, member_key(member_key_buf, node_key, "lmtp"), entry, node) < 0 ||
	    node_ssl(st, member_key(member_key_buf, node_key, "ssl"), entry, node) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		unsigned int *port = (unsigned int *)((char *)node + ports[i].offset);
		unsigned int default_port = node->ssl == MB_NODE_SSL_YES ?
			ports[i].default_tls_port : ports[i].default_port;
		if (node_port(st, member_key(member_key_buf, node_key, ports[i].name), entry,
			      ports[i].name, default_port, port) < 0)
			return -1;
	}
	return 0;
}

/* context_set_node_map - `nodes`: node name -> {host, lmtp, ports, ssl} */
int context_set_node_map(struct parse_state *st, const char *key, const struct field *f,
			 json_t *value, struct mb_nodes *list)
{
	const char *name;
	json_t *entry;
	size_t count = 0;

	if (!json_is_object(value) || json_object_size(value) > MB_NODES_MAX)
		return context_fail(st, key, "expected %s (at most %d)", f->help, MB_NODES_MAX);
	struct mb_node *nodes = calloc(json_object_size(value) + 1, sizeof(*nodes));
	if (nodes == NULL)
		return context_fail(st, key, "out of memory");
	json_object_foreach(value, name, entry) {
		if (check_node(st, key, name, entry, &nodes[count]) < 0) {
			free(nodes);
			return -1;
		}
		count++;
	}
	free(list->items);
	list->items = nodes;
	list->count = count;
	return 0;
}

/* context_check_node_maps - a node named in both maps must have one
   LMTP address, or delivery would depend on which map is read first */
int context_check_node_maps(struct parse_state *st, const struct mb_context *ctx)
{
	const struct mb_lmtp_nodes *old = &ctx->lmtpd.nodes;

	for (size_t i = 0; i < old->count; i++) {
		const struct mb_node *node = mb_context_node_entry(ctx, old->items[i].name);
		if (node != NULL && strcmp(node->lmtp.address, old->items[i].address) != 0)
			return context_fail(st, "lmtpd.nodes", "node %s is in nodes too, with the LMTP address \"%s\" (here \"%s\"); keep it in nodes only",
				    old->items[i].name, node->lmtp.address, old->items[i].address);
	}
	return 0;
}

const struct mb_node *mb_context_node_entry(const struct mb_context *ctx, const char *name)
{
	const struct mb_nodes *nodes = &ctx->nodes;

	for (size_t i = 0; i < nodes->count; i++) {
		if (strcmp(nodes->items[i].lmtp.name, name) == 0)
			return &nodes->items[i];
	}
	return NULL;
}

const struct mb_lmtp_node *mb_context_node(const struct mb_context *ctx, const char *name)
{
	const struct mb_node *node = mb_context_node_entry(ctx, name);
	const struct mb_lmtp_nodes *old = &ctx->lmtpd.nodes;

	if (node != NULL)
		return &node->lmtp;
	for (size_t i = 0; i < old->count; i++) {
		if (strcmp(old->items[i].name, name) == 0)
			return &old->items[i];
	}
	return NULL;
}

bool mb_context_node_is_local(const struct mb_context *ctx, const char *name)
{
	return name[0] == '\0' || strcmp(name, "local") == 0 ||
		(ctx->node[0] != '\0' && strcmp(name, ctx->node) == 0);
}

const char *mb_node_ssl_name(enum mb_node_ssl ssl)
{
	return ssl <= MB_NODE_SSL_YES ? node_ssl_words[ssl] : "?";
}
