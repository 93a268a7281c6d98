/* test-node-route.c - which node answers a login or a mailbox lookup, table-driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "context.h"
#include "node-route.h"

static const char context_json[] =
	"{\"node\": \"a\", \"nodes\": {"
	"\"a\": {\"host\": \"10.77.19.11\"}, "
	"\"b\": {\"host\": \"10.77.19.12\", \"imap_port\": 1143, \"pop3_port\": 1110, \"sieve_port\": 14190}, "
	"\"s\": {\"host\": \"s.example.org\", \"lmtp\": \"10.77.19.14:24\", \"ssl\": \"starttls\"}, "
	"\"t\": {\"host\": \"10.77.19.15\", \"ssl\": \"yes\"}}, "
	"\"lmtpd\": {\"nodes\": {\"old\": \"10.77.19.20:24\"}}}";

struct route_case {
	const char *user_node;
	const char *service;
	enum mb_node_lookup lookup;
	enum mb_node_answer want;
	const char *want_node;     /* MB_NODE_PROXY */
	unsigned int want_port;
	enum mb_node_ssl want_ssl;
	const char *want_reason;   /* MB_NODE_TEMPFAIL: a part of it */
};

#define PASS MB_NODE_LOOKUP_PASSDB
#define USER MB_NODE_LOOKUP_USERDB

static const struct route_case cases[] = {
	/* this node's users: served here, whatever the service */
	{ "", "imap", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "a", "imap", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "local", "pop3", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "a", "lmtp", USER, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "", "imap", USER, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	/* another node's: logins proxied with that node's port and TLS */
	{ "b", "imap", PASS, MB_NODE_PROXY, "b", 1143, MB_NODE_SSL_NO, NULL },
	{ "b", "pop3", PASS, MB_NODE_PROXY, "b", 1110, MB_NODE_SSL_NO, NULL },
	{ "b", "sieve", PASS, MB_NODE_PROXY, "b", 14190, MB_NODE_SSL_NO, NULL },
	{ "s", "imap", PASS, MB_NODE_PROXY, "s", 143, MB_NODE_SSL_STARTTLS, NULL },
	{ "t", "imap", PASS, MB_NODE_PROXY, "t", 993, MB_NODE_SSL_YES, NULL },
	{ "t", "pop3", PASS, MB_NODE_PROXY, "t", 995, MB_NODE_SSL_YES, NULL },
	{ "t", "sieve", PASS, MB_NODE_PROXY, "t", 4190, MB_NODE_SSL_STARTTLS, NULL },
	/* sending mail needs no mailbox: any node */
	{ "b", "smtp", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "b", "submission", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "b", "submission", USER, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	/* other services' passwords are checked here; the userdb decides */
	{ "b", "doveadm", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	/* the mailbox is elsewhere: only doveadm sees this node's copy */
	{ "b", "doveadm", USER, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
	{ "b", "lmtp", USER, MB_NODE_TEMPFAIL, NULL, 0, 0, "the mailbox is on node b, not here (a)" },
	{ "b", "imap", USER, MB_NODE_TEMPFAIL, NULL, 0, 0, "node b" },
	{ "b", "indexer-worker", USER, MB_NODE_TEMPFAIL, NULL, 0, 0, "node b" },
	{ "zz", "lmtp", USER, MB_NODE_TEMPFAIL, NULL, 0, 0, "node zz" },
	/* a node the map does not have */
	{ "zz", "imap", PASS, MB_NODE_TEMPFAIL, NULL, 0, 0, "names node zz, which the context's nodes does not have" },
	{ "old", "imap", PASS, MB_NODE_TEMPFAIL, NULL, 0, 0, "lmtpd.nodes has only its LMTP address" },
	{ "zz", "smtp", PASS, MB_NODE_SERVE_HERE, NULL, 0, 0, NULL },
};

static void test_route_table(void **state)
{
	struct mb_context *ctx = NULL;
	char error[512];

	(void)state;
	if (mb_context_parse("c", context_json, strlen(context_json), &ctx, error, sizeof(error)) != 0)
		fail_msg("context: %s", error);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		struct mb_node_route route;

		mb_node_route(ctx, c->user_node, c->service, c->lookup, &route);
		if (route.answer != c->want)
			fail_msg("case %zu (%s, %s): got answer %d, want %d (%s)", i, c->user_node,
				 c->service, route.answer, c->want, route.reason);
		if (c->want == MB_NODE_PROXY &&
		    (route.node == NULL || strcmp(route.node->lmtp.name, c->want_node) != 0 ||
		     route.port != c->want_port || route.ssl != c->want_ssl))
			fail_msg("case %zu: got node %s port %u ssl %d, want %s %u %d", i,
				 route.node != NULL ? route.node->lmtp.name : "(none)", route.port,
				 route.ssl, c->want_node, c->want_port, c->want_ssl);
		if (c->want == MB_NODE_TEMPFAIL && strstr(route.reason, c->want_reason) == NULL)
			fail_msg("case %zu: reason '%s' lacks '%s'", i, route.reason, c->want_reason);
	}
	mb_context_free(&ctx);
}

/* a context without `node` is one node: everything is served here,
   as before nodes existed (lmtpd.nodes routes deliveries, not logins) */
static void test_single_node_serves_all(void **state)
{
	const char *json = "{\"nodes\": {\"b\": {\"host\": \"10.77.19.12\"}}, "
		"\"lmtpd\": {\"nodes\": {\"n2\": \"10.77.19.13:24\"}}}";
	struct mb_context *ctx = NULL;
	struct mb_node_route route;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	mb_node_route(ctx, "b", "imap", MB_NODE_LOOKUP_PASSDB, &route);
	assert_int_equal(route.answer, MB_NODE_SERVE_HERE);
	mb_node_route(ctx, "n2", "lmtp", MB_NODE_LOOKUP_USERDB, &route);
	assert_int_equal(route.answer, MB_NODE_SERVE_HERE);
	mb_node_route(ctx, "zz", "imap", MB_NODE_LOOKUP_USERDB, &route);
	assert_int_equal(route.answer, MB_NODE_SERVE_HERE);
	mb_context_free(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_table),
		cmocka_unit_test(test_single_node_serves_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
