/* test-context.c - the context file's schema checks, table-driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"

#include <jansson.h>
#include "redis-location.h"

struct context_case {
	const char *json;
	const char *want_error; /* NULL: must load */
};

static const struct context_case cases[] = {
	{ "{}", NULL },
	{ "{\"hostname\": \"mx.example.org\", \"store\": \"lmdb:/var/lib/mailbag/store\"}", NULL },
	{ "{\"policyd\": {\"socket_mode\": \"0600\"}, \"defaults\": {\"quota\": \"2G\"}}", NULL },
	{ "{\"defaults\": {\"quota\": 1048576, \"max_message_size\": \"10M\"}}", NULL },
	{ "{\"recipient_delimiter\": \"\"}", NULL },
	{ "", "line 1" },
	{ "[]", "top level must be a JSON object" },
	{ "{\"hostnme\": \"x.example\"}", "unknown key 'hostnme'; allowed here: hostname, store" },
	{ "{\"policyd\": {\"socket\": \"/x\"}}", "unknown key 'policyd.socket'; allowed here: socketmap_socket" },
	{ "{\"hostname\": 5}", "key 'hostname': expected a string" },
	{ "{\"hostname\": \"nodot\"}", "key 'hostname': expected a fully qualified host name" },
	{ "{\"store\": \"mysql://x\"}", "key 'store': expected \"lmdb:/absolute/dir\"" },
	{ "{\"store\": \"redis://127.0.0.1\"}", NULL },
	{ "{\"store\": \"redis://redis.example.org:6380/2\"}", NULL },
	{ "{\"store\": \"redis://[::1]:6379\"}", NULL },
	{ "{\"store\": \"unix:/run/redis/redis.sock?db=3\"}", NULL },
	{ "{\"store\": \"sentinel://10.0.0.1,10.0.0.2,10.0.0.3/mymaster/1\"}", NULL },
	{ "{\"store\": \"sentinel://10.0.0.1:26379\"}", "the master's name is missing" },
	{ "{\"store\": \"redis://\"}", "the host is a name or an address" },
	{ "{\"store\": \"redis://h:99999\"}", "the port is a number from 1 to 65535" },
	{ "{\"store\": \"redis://h/300\"}", "the database after '/' is a number from 0 to 255" },
	{ "{\"store\": \"redis://pw@h\"}", "[USER]:PASSWORD" },
	{ "{\"store\": \"unix:run/redis.sock\"}", "absolute path" },
	{ "{\"store\": \"unix:/run/redis.sock?dbx=1\"}", "only db=N and password=P" },
	{ "{\"store\": \"lmdb:relative\"}", "key 'store'" },
	{ "{\"mail_root\": \"vmail\"}", "key 'mail_root': expected an absolute path" },
	{ "{\"mail_root\": \"/a/../etc\"}", "key 'mail_root'" },
	{ "{\"vmail_uid\": 0}", "key 'vmail_uid': expected a number from 1" },
	{ "{\"vmail_uid\": true}", "key 'vmail_uid'" },
	{ "{\"policyd\": {\"socket_mode\": \"0777\"}}", "key 'policyd.socket_mode'" },
	{ "{\"policyd\": {\"socket_mode\": 432}}", "key 'policyd.socket_mode'" },
	{ "{\"policyd\": {\"socket_mode\": \"0066\"}}", "key 'policyd.socket_mode'" },
	{ "{\"policyd\": 5}", "key 'policyd': expected an object" },
	{ "{\"defaults\": {\"quota\": \"lots\"}}", "key 'defaults.quota'" },
	{ "{\"defaults\": {\"quota\": -1}}", "negative" },
	{ "{\"recipient_delimiter\": \"+@\"}", "key 'recipient_delimiter'" },
	{ "{\"daemon_user\": \"Root User\"}", "key 'daemon_user'" },
	{ "{\"hostname\": \"a.example\", \"hostname\": \"b.example\"}", "duplicate" },
	{ "{\"checks\": {\"message_size\": false, \"sender_login\": true}}", NULL },
	{ "{\"checks\": {\"message_size\": \"false\"}}", "key 'checks.message_size': expected true or false" },
	{ "{\"checks\": {\"sender_login\": 1}}", "key 'checks.sender_login': expected true or false" },
	{ "{\"checks\": {\"max_recipients_per_message\": 50}}", NULL },
	{ "{\"checks\": {\"max_recipients_per_message\": -1}}", "key 'checks.max_recipients_per_message'" },
	{ "{\"rate_limits\": [{\"key\": \"sasl_username\", \"count\": \"messages\", \"per\": \"hour\", \"limit\": 500}]}", NULL },
	{ "{\"rate_limits\": [{\"key\": \"sasl\", \"count\": \"messages\", \"per\": \"hour\", \"limit\": 5}]}",
	  "key 'rate_limits[0]': \"key\" must be one of sasl_username" },
	{ "{\"rate_limits\": [{\"key\": \"recipient\", \"count\": \"messages\", \"per\": \"day\", \"limit\": 5}]}",
	  "counts recipients" },
	{ "{\"rate_limits\": [{\"key\": \"client_network\", \"count\": \"recipients\", \"per\": \"week\", \"limit\": 5}]}",
	  "\"per\" must be one of minute, hour, day" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\"}]}",
	  "\"limit\" must be a number of at least 1" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 0}]}",
	  "at least 1" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"per\": \"day\", \"limit\": 3}]}",
	  "\"count\" is missing" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 3, \"burst\": 1}]}",
	  "unknown member \"burst\"" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 3, \"name\": \"a b\"}]}",
	  "\"name\" must be" },
	{ "{\"rate_limits\": [{\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 3},"
	  " {\"key\": \"client_address\", \"count\": \"recipients\", \"per\": \"day\", \"limit\": 9}]}",
	  "key 'rate_limits[1]': a second limit named \"client_address-recipients-per-day\"" },
	{ "{\"rate_limits\": {}}", "key 'rate_limits': expected a list" },
	{ "{\"rate_limits\": [5]}", "key 'rate_limits[0]': expected an object" },
	{ "{\"greylisting\": {\"enabled\": true, \"delay\": \"90s\", \"lifetime\": 86400, "
	  "\"allowlist\": [\"192.0.2.0/24\", \"2001:db8::/32\", \"Mail.Example.org\"]}}", NULL },
	{ "{\"greylisting\": {\"delay\": \"5 minutes\"}}", "key 'greylisting.delay': expected a duration" },
	{ "{\"greylisting\": {\"delay\": -5}}", "key 'greylisting.delay'" },
	{ "{\"greylisting\": {\"delay\": \"m\"}}", "key 'greylisting.delay'" },
	{ "{\"greylisting\": {\"lifetime\": \"99999d\"}}", "3650 days" },
	{ "{\"greylisting\": {\"allowlist\": [\"192.0.2.1/24\"]}}", "host bits" },
	{ "{\"greylisting\": {\"allowlist\": [\"10.0.0.300\"]}}", "entry \"10.0.0.300\": not an IP address" },
	{ "{\"greylisting\": {\"allowlist\": [\"bad domain\"]}}", "neither a network nor a domain" },
	{ "{\"greylisting\": {\"allowlist\": [7]}}", "entry 0 is not a string" },
	{ "{\"greylisting\": {\"delay\": \"10m\", \"retry_window\": \"5m\"}}",
	  "key 'greylisting.retry_window': must be longer than greylisting.delay (600 s)" },
	{ "{\"auth\": {\"lockout\": \"1h\", \"lockout_max\": \"10m\"}}",
	  "key 'auth.lockout_max': must not be shorter than auth.lockout" },
	{ "{\"auth\": {\"failures_per_ip\": -3}}", "key 'auth.failures_per_ip'" },
	{ "{\"expire\": {\"after\": \"soon\"}}", "key 'expire.after'" },
	{ "{\"auto_create\": {\"domains\": [\"no domain\"]}}", "key 'auto_create.domains': entry 0 is not a domain name" },
	/* found by fuzz-context: a newline in a key or value must not
	   break the one-line error */
	{ "{\"hos\\nname\": \"x\"}", "unknown key 'hos\\x0aname'" },
	{ "{\"hostname\": \"a\\nb.example\"}", "\\x0a" },
	/* TLS certificates and client ports (issue 7) */
	{ "{\"tls\": {\"certificates\": {\"mx.example.org\": {\"cert\": \"/c.pem\", \"key\": \"/k.pem\"}}}}", NULL },
	{ "{\"tls\": {\"certificates\": {\"not a host\": {\"cert\": \"/c\", \"key\": \"/k\"}}}}", "\"not a host\" is not a host name" },
	{ "{\"tls\": {\"certificates\": {\"mx.example.org\": {\"cert\": \"c.pem\", \"key\": \"/k\"}}}}", "mx.example.org: \"cert\" must be an absolute path" },
	{ "{\"tls\": {\"certificates\": {\"mx.example.org\": {\"cert\": \"/c\"}}}}", "mx.example.org: \"key\" must be an absolute path" },
	{ "{\"tls\": {\"certificates\": {\"mx.example.org\": {\"cert\": \"/c\", \"key\": \"/k\", \"chain\": \"/x\"}}}}", "unknown key 'chain'" },
	{ "{\"tls\": {\"certificates\": {\"MX.example.org\": {\"cert\": \"/c\", \"key\": \"/k\"}, \"mx.example.org\": {\"cert\": \"/c\", \"key\": \"/k\"}}}}", "mx.example.org is named twice" },
	{ "{\"tls\": {\"certificates\": [\"/c\"]}}", "key 'tls.certificates': expected an object" },
	{ "{\"clients\": {\"imap_port\": 0, \"submission_port\": 2587}}", NULL },
	{ "{\"clients\": {\"imaps_port\": 70000}}", "key 'clients.imaps_port': expected a port number" },
	{ "{\"clients\": {\"imaps_port\": \"993\"}}", "key 'clients.imaps_port'" },
	/* Sieve (issue 21) */
	{ "{\"clients\": {\"sieve_port\": 0}, \"sieve\": {\"before_dir\": \"/srv/sieve/before\"}}", NULL },
	{ "{\"clients\": {\"sieve_port\": 65536}}", "key 'clients.sieve_port': expected a port number" },
	{ "{\"sieve\": {\"before_dir\": \"sieve/before\"}}", "key 'sieve.before_dir'" },
	{ "{\"sieve\": {\"after_dir\": 4}}", "key 'sieve.after_dir'" },
	{ "{\"sieve\": {\"discard_dir\": \"/x\"}}", "unknown key" },
	{ "{\"sieve\": \"/etc/mailbag/sieve\"}", "key 'sieve'" },
	/* mailbag-lmtpd */
	{ "{\"lmtpd\": {\"nodes\": {\"node2\": \"/run/dovecot2/lmtp\", \"b\": \"10.0.0.2:24\", \"c\": \"[2001:db8::2]:24\"}}}", NULL },
	{ "{\"lmtpd\": {\"nodes\": {\"local\": \"/x\"}}}", "node name \"local\"" },
	{ "{\"lmtpd\": {\"nodes\": {\"Bad Name\": \"/x\"}}}", "node name \"Bad Name\"" },
	{ "{\"lmtpd\": {\"nodes\": {\"b\": \"mx2.example:24\"}}}", "node b: \"mx2.example:24\" is not" },
	{ "{\"lmtpd\": {\"nodes\": {\"b\": \"10.0.0.2:99999\"}}}", "node b:" },
	{ "{\"lmtpd\": {\"nodes\": {\"b\": \"2001:db8::2:24\"}}}", "node b:" },
	{ "{\"lmtpd\": {\"nodes\": {\"b\": 7}}}", "node b:" },
	{ "{\"lmtpd\": {\"nodes\": []}}", "key 'lmtpd.nodes'" },
	{ "{\"lmtpd\": {\"listen_tcp\": \"127.0.0.1:2424\", \"notify_socket\": \"/run/push\"}}", NULL },
	{ "{\"lmtpd\": {\"listen_tcp\": \"/run/x\"}}", "key 'lmtpd.listen_tcp'" },
	{ "{\"lmtpd\": {\"listen_tcp\": \"localhost:24\"}}", "key 'lmtpd.listen_tcp'" },
	{ "{\"lmtpd\": {\"notify_socket\": \"relative\"}}", "key 'lmtpd.notify_socket'" },
	{ "{\"lmtpd\": {\"dedupe_window\": \"forever\"}}", "key 'lmtpd.dedupe_window'" },
	/* the node map (issue 19) */
	{ "{\"node\": \"a\", \"nodes\": {\"a\": {\"host\": \"10.77.19.11\"}, \"b\": {\"host\": \"10.77.19.12\", \"lmtp\": \"10.77.19.12:24\", "
	  "\"imap_port\": 143, \"pop3_port\": 110, \"sieve_port\": 4190, \"doveadm_port\": 2425, \"ssl\": \"no\"}}}", NULL },
	{ "{\"nodes\": {\"b\": {\"host\": \"2001:db8::2\", \"ssl\": \"starttls\"}, \"c\": {\"host\": \"c.example.org\", \"lmtp\": \"/run/c/lmtp\", \"ssl\": \"yes\"}}}", NULL },
	{ "{\"node\": \"\"}", NULL },
	{ "{\"node\": \"Node A\"}", "key 'node': expected" },
	{ "{\"node\": \"local\"}", "key 'node': expected" },
	{ "{\"node\": 3}", "key 'node': expected a string" },
	{ "{\"node\": \"abcdefghijklmnopqrstuvwxyz0123456\"}", "key 'node'" },
	{ "{\"nodes\": []}", "key 'nodes': expected an object" },
	{ "{\"nodes\": {\"B\": {\"host\": \"10.0.0.2\"}}}", "key 'nodes': node name \"B\"" },
	{ "{\"nodes\": {\"local\": {\"host\": \"10.0.0.2\"}}}", "node name \"local\"" },
	{ "{\"nodes\": {\"b\": \"10.0.0.2:24\"}}", "key 'nodes.b': expected an object" },
	{ "{\"nodes\": {\"b\": {}}}", "key 'nodes.b.host': \"host\" is missing" },
	{ "{\"nodes\": {\"b\": {\"host\": 10}}}", "key 'nodes.b.host': expected a string" },
	{ "{\"nodes\": {\"b\": {\"host\": \"no host\"}}}", "key 'nodes.b.host': expected an IP address or a fully qualified host name" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"imap\": 143}}}", "key 'nodes.b': unknown key 'imap'" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"imap_port\": 0}}}", "key 'nodes.b.imap_port': expected a port number from 1 to 65535" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"pop3_port\": 65536}}}", "key 'nodes.b.pop3_port'" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"sieve_port\": \"4190\"}}}", "key 'nodes.b.sieve_port'" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"doveadm_port\": -1}}}", "key 'nodes.b.doveadm_port'" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"ssl\": \"maybe\"}}}", "key 'nodes.b.ssl': expected \"no\", \"starttls\" or \"yes\"" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"ssl\": true}}}", "key 'nodes.b.ssl'" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\", \"lmtp\": \"10.0.0.2\"}}}", "key 'nodes.b.lmtp': expected" },
	{ "{\"nodes\": {\"b\": {\"host\": \"b.example.org\"}}}", "key 'nodes.b.lmtp': \"host\" is a name" },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\"}}, \"lmtpd\": {\"nodes\": {\"b\": \"10.0.0.2:24\", \"c\": \"10.0.0.3:24\"}}}", NULL },
	{ "{\"nodes\": {\"b\": {\"host\": \"10.0.0.2\"}}, \"lmtpd\": {\"nodes\": {\"b\": \"10.0.0.9:24\"}}}", "key 'lmtpd.nodes': node b is in nodes too" },
	{ "{\"dkim\": {\"key_dir\": \"keys\"}}", "key 'dkim.key_dir'" },
	{ "{\"dkim\": {\"key_dir\": \"/etc/mailbag/dkim\"}}", NULL },
	/* encryption-only passthrough (issue 16): addresses and @domain */
	{ "{\"milter\": {\"encryption_passthrough_senders\": [\"news@example.org\", \"@Lists.Example.org\"], "
	  "\"encryption_passthrough_recipients\": [\"@example.net\"], \"encryption_passthrough\": [\"@x.example\"]}}", NULL },
	{ "{\"milter\": {\"encryption_passthrough_senders\": [\"@\"]}}", "key 'milter.encryption_passthrough_senders': entry 0 (\"@\")" },
	{ "{\"milter\": {\"encryption_passthrough_senders\": [\"@no domain\"]}}", "entry 0 (\"@no domain\")" },
	{ "{\"milter\": {\"encryption_passthrough_recipients\": [\"a@b@example.org\"]}}", "key 'milter.encryption_passthrough_recipients': entry 0" },
	{ "{\"milter\": {\"encryption_passthrough_recipients\": [\"x@example.org\", 7]}}", "entry 1" },
	{ "{\"milter\": {\"encryption_passthrough_recipients\": \"x@example.org\"}}", "key 'milter.encryption_passthrough_recipients': expected a list" },
	{ "{\"milter\": {\"encryption_passthrough\": [\"@@example.org\"]}}", "key 'milter.encryption_passthrough': entry 0" },
};

static void test_context_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct context_case *c = &cases[i];
		struct mb_context *ctx = NULL;
		char error[1024] = "";
		int ret = mb_context_parse("context.json", c->json, strlen(c->json), &ctx,
					   error, sizeof(error));
		if (c->want_error == NULL && ret != 0)
			fail_msg("case %zu %s: want success, got '%s'", i, c->json, error);
		if (c->want_error != NULL && (ret != -1 || strstr(error, c->want_error) == NULL))
			fail_msg("case %zu %s: want error with '%s', got %d '%s'", i, c->json,
				 c->want_error, ret, error);
		if (c->want_error != NULL && ctx != NULL)
			fail_msg("case %zu: a context was returned with an error", i);
		if (c->want_error != NULL && strchr(error, '\n') != NULL)
			fail_msg("case %zu: error is more than one line", i);
		mb_context_free(&ctx);
	}
}

static void test_passthrough_lists(void **state)
{
	const char *json = "{\"milter\": {\"encryption_passthrough_senders\": [\"News@Example.org\", \"@Lists.Example.org\"], "
		"\"encryption_passthrough_recipients\": [\"@example.net\"]}}";
	struct mb_context *ctx = NULL;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_parse("context.json", json, strlen(json), &ctx, error, sizeof(error)), 0);
	assert_true(mb_address_list_contains(&ctx->milter.encryption_passthrough_senders, "news@example.org"));
	assert_true(mb_address_list_contains(&ctx->milter.encryption_passthrough_senders, "any@lists.example.ORG"));
	assert_false(mb_address_list_contains(&ctx->milter.encryption_passthrough_senders, "other@example.org"));
	assert_false(mb_address_list_contains(&ctx->milter.encryption_passthrough_senders, "x@sub.lists.example.org"));
	assert_false(mb_address_list_contains(&ctx->milter.encryption_passthrough_senders, "lists.example.org"));
	assert_true(mb_address_list_contains(&ctx->milter.encryption_passthrough_recipients, "a@example.net"));
	assert_false(mb_address_list_contains(&ctx->milter.encryption_passthrough_recipients, "a@example.org"));
	assert_int_equal(ctx->milter.encryption_passthrough.count, 0);
	mb_context_free(&ctx);
}

/* Each list key is read into the (items, count) pair its schema row
   names, and the lookups find its entries. */
static void test_list_keys_land_at_their_rows(void **state)
{
	const char *json = "{\"auto_create\": {\"domains\": [\"Example.org\", \"example.net\"]}, "
		"\"lmtpd\": {\"nodes\": {\"n1\": \"/run/n1/lmtp\", \"n2\": \"192.0.2.7:24\"}}, "
		"\"tls\": {\"certificates\": {\"mx.example.org\": {\"cert\": \"/c.pem\", \"key\": \"/k.pem\"}}}}";
	struct mb_context *ctx = NULL;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	assert_int_equal(ctx->auto_create.domains.count, 2);
	assert_string_equal(ctx->auto_create.domains.items[0], "example.org");
	assert_int_equal(ctx->lmtpd.nodes.count, 2);
	assert_non_null(mb_context_node(ctx, "n2"));
	assert_string_equal(mb_context_node(ctx, "n2")->address, "192.0.2.7:24");
	assert_null(mb_context_node(ctx, "n3"));
	assert_int_equal(ctx->tls.certificates.count, 1);
	assert_non_null(mb_context_certificate(ctx, "MX.example.org"));
	assert_string_equal(mb_context_certificate(ctx, "mx.example.org")->key_file, "/k.pem");
	assert_null(mb_context_certificate(ctx, "other.example.org"));
	/* the defaults: empty lists */
	mb_context_free(&ctx);
	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	assert_int_equal(ctx->auto_create.domains.count, 0);
	assert_int_equal(ctx->lmtpd.nodes.count, 0);
	assert_int_equal(ctx->tls.certificates.count, 0);
	mb_context_free(&ctx);
}

/* nodes: defaults filled in; mb_context_node finds either map's
   LMTP address, mb_context_node_entry only nodes */
static void test_node_map(void **state)
{
	const char *json = "{\"node\": \"a\", \"nodes\": {"
		"\"a\": {\"host\": \"10.77.19.11\"}, "
		"\"b\": {\"host\": \"10.77.19.12\", \"imap_port\": 1143, \"ssl\": \"starttls\"}, "
		"\"v6\": {\"host\": \"2001:db8::6\", \"ssl\": \"yes\", \"doveadm_port\": 12425}, "
		"\"named\": {\"host\": \"Node.Example.org\", \"lmtp\": \"192.0.2.9:2424\"}}, "
		"\"lmtpd\": {\"nodes\": {\"old\": \"/run/old/lmtp\"}}}";
	struct mb_context *ctx = NULL;
	const struct mb_node *n;
	char error[512];

	(void)state;
	if (mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)) != 0)
		fail_msg("want success, got '%s'", error);
	assert_string_equal(ctx->node, "a");
	assert_int_equal(ctx->nodes.count, 4);
	n = mb_context_node_entry(ctx, "b");
	assert_non_null(n);
	assert_string_equal(n->host, "10.77.19.12");
	assert_string_equal(n->lmtp.address, "10.77.19.12:24");
	assert_int_equal(n->imap_port, 1143);
	assert_int_equal(n->pop3_port, 110);
	assert_int_equal(n->sieve_port, 4190);
	assert_int_equal(n->doveadm_port, 2425);
	assert_int_equal(n->ssl, MB_NODE_SSL_STARTTLS);
	assert_string_equal(mb_node_ssl_name(n->ssl), "starttls");
	n = mb_context_node_entry(ctx, "v6");
	assert_string_equal(n->lmtp.address, "[2001:db8::6]:24");
	assert_int_equal(n->doveadm_port, 12425);
	assert_int_equal(n->ssl, MB_NODE_SSL_YES);
	assert_int_equal(n->imap_port, 993);
	assert_int_equal(n->pop3_port, 995);
	assert_int_equal(n->sieve_port, 4190);
	n = mb_context_node_entry(ctx, "named");
	assert_string_equal(n->host, "node.example.org");
	assert_int_equal(mb_context_node_entry(ctx, "a")->ssl, MB_NODE_SSL_NO);
	/* delivery: either map */
	assert_string_equal(mb_context_node(ctx, "b")->address, "10.77.19.12:24");
	assert_string_equal(mb_context_node(ctx, "named")->address, "192.0.2.9:2424");
	assert_string_equal(mb_context_node(ctx, "old")->address, "/run/old/lmtp");
	assert_null(mb_context_node_entry(ctx, "old"));
	assert_null(mb_context_node(ctx, "c"));
	assert_null(mb_context_node_entry(ctx, "c"));
	/* which record node names mean this one */
	assert_true(mb_context_node_is_local(ctx, ""));
	assert_true(mb_context_node_is_local(ctx, "local"));
	assert_true(mb_context_node_is_local(ctx, "a"));
	assert_false(mb_context_node_is_local(ctx, "b"));
	mb_context_free(&ctx);

	/* the default: a single node, no map */
	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	assert_string_equal(ctx->node, "");
	assert_int_equal(ctx->nodes.count, 0);
	assert_true(mb_context_node_is_local(ctx, ""));
	assert_false(mb_context_node_is_local(ctx, "b"));
	mb_context_free(&ctx);
}

static void test_schema_defaults(void **state)
{
	(void)state;
	assert_string_equal(mb_context_default("policyd.usage_socket"), "/run/mailbag/usage");
	assert_string_equal(mb_context_default("lmtpd.spool_dir"), "/var/spool/mailbag");
	assert_string_equal(mb_context_default("mail_root"), "/var/vmail");
	assert_null(mb_context_default("policyd"));
	assert_null(mb_context_default("policyd.nothing"));
	assert_null(mb_context_default("mail_root.x"));
	assert_null(mb_context_default(""));
}

/* `mailbag setup --root DIR`: every path key below DIR, a context the
   reader takes */
static void test_path_defaults_below_root(void **state)
{
	json_t *root = json_object();
	struct mb_context *ctx;
	char error[512];

	(void)state;
	json_object_set_new(root, "hostname", json_string("mx.example.org"));
	assert_int_equal(mb_context_put_path_defaults(root, "/tmp/r"), 0);
	/* no section without a path key */
	assert_null(json_object_get(root, "checks"));
	char *text = json_dumps(root, 0);
	json_decref(root);
	assert_int_equal(mb_context_parse("c", text, strlen(text), &ctx, error, sizeof(error)), 0);
	free(text);
	assert_string_equal(ctx->store, "lmdb:/tmp/r/var/lib/mailbag/store");
	assert_string_equal(ctx->mail_root, "/tmp/r/var/vmail");
	assert_string_equal(ctx->policyd.usage_socket, "/tmp/r/run/mailbag/usage");
	assert_string_equal(ctx->lmtpd.spool_dir, "/tmp/r/var/spool/mailbag");
	assert_string_equal(ctx->lmtpd.dovecot_lmtp, "/tmp/r/run/dovecot/mailbag-lmtp");
	assert_string_equal(ctx->milter.socket, "/tmp/r/var/spool/postfix/private/mailbag-milter");
	assert_string_equal(ctx->dkim.key_dir, "/tmp/r/etc/mailbag/dkim");
	assert_string_equal(ctx->tls.dovecot_conf, "/tmp/r/etc/dovecot/conf.d/91-mailbag-tls.conf");
	assert_string_equal(ctx->sieve.before_dir, "/tmp/r/etc/mailbag/sieve/before");
	assert_string_equal(ctx->sieve.after_dir, "/tmp/r/etc/mailbag/sieve/after");
	assert_int_equal(ctx->clients.sieve_port, 4190);
	/* optional paths stay off */
	assert_string_equal(ctx->lmtpd.notify_socket, "");
	mb_context_free(&ctx);
}

static void test_defaults_and_values(void **state)
{
	const char *json = "{\"defaults\": {\"quota\": \"2G\"}, \"policyd\": {\"socket_mode\": \"0600\"}}";
	struct mb_context *ctx;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	assert_string_equal(ctx->store, "lmdb:/var/lib/mailbag/store");
	assert_string_equal(ctx->recipient_delimiter, "+");
	assert_int_equal(ctx->defaults.quota_bytes, 2ULL << 30);
	assert_int_equal(ctx->defaults.max_message_bytes, 50ULL << 20);
	assert_int_equal(ctx->policyd.socket_mode, 0600);
	assert_string_equal(ctx->policyd.socket_group, "postfix");
	assert_int_equal(ctx->checks.message_size, 1);
	assert_int_equal(ctx->checks.sender_login, 1);
	mb_context_free(&ctx);
	json = "{\"checks\": {\"message_size\": false}}";
	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	assert_int_equal(ctx->checks.message_size, 0);
	assert_int_equal(ctx->checks.sender_login, 1);
	mb_context_free(&ctx);
	assert_null(ctx);
}

static void test_policy_settings(void **state)
{
	const char *json =
		"{\"rate_limits\": [{\"key\": \"sender_domain\", \"count\": \"messages\", \"per\": \"day\", \"limit\": 7},"
		" {\"name\": \"per-ip\", \"key\": \"client_network\", \"count\": \"recipients\", \"per\": \"minute\", \"limit\": 30}],"
		" \"greylisting\": {\"enabled\": true, \"delay\": \"2m\", \"allowlist\": [\"192.0.2.0/24\", \"Relay.Example.org\"]}}";
	struct mb_context *ctx;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_parse("c", "{}", 2, &ctx, error, sizeof(error)), 0);
	assert_int_equal(ctx->rate_limits.count, 0);
	assert_int_equal(ctx->greylisting.enabled, 0);
	assert_int_equal(ctx->greylisting.delay, 300);
	assert_int_equal(ctx->greylisting.retry_window, 2 * 86400);
	assert_int_equal(ctx->greylisting.lifetime, 35 * 86400);
	assert_int_equal(ctx->greylisting.auto_allow_after, 5);
	assert_int_equal(ctx->checks.max_recipients_per_message, 0);
	/* loopback is never greylisted unless the allowlist is replaced */
	assert_int_equal(ctx->greylisting.allowlist.count, 2);
	assert_true(mb_network_contains(&ctx->greylisting.allowlist.items[0].network, "127.0.0.1"));
	assert_true(mb_network_contains(&ctx->greylisting.allowlist.items[1].network, "::1"));
	mb_context_free(&ctx);

	assert_int_equal(mb_context_parse("c", json, strlen(json), &ctx, error, sizeof(error)), 0);
	assert_int_equal(ctx->rate_limits.count, 2);
	assert_string_equal(ctx->rate_limits.items[0].name, "sender_domain-messages-per-day");
	assert_int_equal(ctx->rate_limits.items[0].subject, MB_RATE_SENDER_DOMAIN);
	assert_int_equal(ctx->rate_limits.items[0].unit, MB_RATE_MESSAGES);
	assert_int_equal(ctx->rate_limits.items[0].window_seconds, 86400);
	assert_int_equal(ctx->rate_limits.items[0].limit, 7);
	assert_string_equal(ctx->rate_limits.items[1].name, "per-ip");
	assert_int_equal(ctx->rate_limits.items[1].window_seconds, 60);
	assert_int_equal(ctx->greylisting.enabled, 1);
	assert_int_equal(ctx->greylisting.delay, 120);
	assert_int_equal(ctx->greylisting.allowlist.count, 2);
	assert_true(ctx->greylisting.allowlist.items[0].is_network);
	assert_false(ctx->greylisting.allowlist.items[1].is_network);
	assert_string_equal(ctx->greylisting.allowlist.items[1].domain, "relay.example.org");
	mb_context_free(&ctx);
}

/* A password in the store location never appears in a message, and a
   file holding one may not be readable by others. */
static void test_store_password_is_kept_secret(void **state)
{
	const char *bad = "{\"store\": \"redis://:s3cret-pw@host:bad\"}";
	const char *good = "{\"store\": \"redis://:s3cret-pw@127.0.0.1:6379/1\"}";
	char path[] = "/tmp/mailbag-context-XXXXXX", error[1024];
	struct mb_context *ctx;
	FILE *f;

	(void)state;
	assert_int_equal(mb_context_parse("c", bad, strlen(bad), &ctx, error, sizeof(error)), -1);
	assert_null(strstr(error, "s3cret"));
	/* nor in a scheme this build does not know (a typo, or an older build) */
	static const char *const unknown[] = {
		"{\"store\": \"rediss://:s3cret-pw@host\"}",
		"{\"store\": \"sentinel2://:s3cret-pw@h1,h2/m\"}",
		"{\"store\": \"s3cret-pw-pasted-here\"}",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(mb_context_parse("c", unknown[i], strlen(unknown[i]), &ctx, error,
						  sizeof(error)), -1);
		assert_non_null(strstr(error, "key 'store'"));
		if (strstr(error, "s3cret-pw") != NULL)
			fail_msg("%s: the error shows the password: %s", unknown[i], error);
	}
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(good, f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mb_context_load(path, &ctx, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "chmod o-rwx"));
	assert_null(strstr(error, "s3cret"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(mb_context_load(path, &ctx, error, sizeof(error)), 0);
	mb_context_free(&ctx);
	/* without a password the file may stay world-readable */
	f = fopen(path, "w");
	fputs("{\"store\": \"redis://127.0.0.1\"}", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mb_context_load(path, &ctx, error, sizeof(error)), 0);
	mb_context_free(&ctx);
	unlink(path);
}

static void write_context(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A reload takes the new values except those fixed at start, and a bad
   file changes nothing. */
static void test_reload_keeps_fixed_keys(void **state)
{
	char path[] = "/tmp/mailbag-context-XXXXXX", error[1024];
	struct mb_error_text reload_error;
	struct mb_context *ctx;

	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_context(path, "{\"store\": \"lmdb:/var/lib/a\", \"greylisting\": {\"delay\": 60},"
		      " \"lmtpd\": {\"spool_dir\": \"/var/spool/a\"}}");
	assert_int_equal(mb_context_load(path, &ctx, error, sizeof(error)), 0);
	write_context(path, "{\"store\": \"lmdb:/var/lib/b\", \"greylisting\": {\"delay\": 120},"
		      " \"lmtpd\": {\"spool_dir\": \"/var/spool/b\", \"timeout\": 7},"
		      " \"policyd\": {\"policy_socket\": \"/run/b\"}}");
	assert_int_equal(mb_context_reload(&ctx, path, &reload_error), 0);
	assert_int_equal(ctx->greylisting.delay, 120);
	assert_int_equal(ctx->lmtpd.timeout, 7);
	assert_string_equal(ctx->store, "lmdb:/var/lib/a");
	assert_string_equal(ctx->lmtpd.spool_dir, "/var/spool/a");
	assert_string_equal(ctx->policyd.policy_socket, "/var/spool/postfix/private/mailbag-policy");
	write_context(path, "{\"greylisting\": {\"delay\": \"soon\"}}");
	assert_int_equal(mb_context_reload(&ctx, path, &reload_error), -1);
	assert_non_null(strstr(reload_error.text, "greylisting.delay"));
	assert_int_equal(ctx->greylisting.delay, 120);
	mb_context_free(&ctx);
	unlink(path);
}

static void test_redact_store_location(void **state)
{
	static const char *const redact_cases[][2] = {
		{ "redis://:pw@host:6379/1", "redis://:***@host:6379/1" },
		{ "redis://user:p:w@host", "redis://user:***@host" },
		{ "redis://host:6379", "redis://host:6379" },
		/* an item the parser does not know is hidden whole */
		{ "unix:/run/r.sock?db=1&password=pw&x", "unix:/run/r.sock?db=1&password=***&***" },
		{ "unix:/run/r.sock?password=pw", "unix:/run/r.sock?password=***" },
		{ "lmdb:/var/lib/mailbag/store", "lmdb:/var/lib/mailbag/store" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof(redact_cases) / sizeof(redact_cases[0]); i++) {
		mb_store_location_redact(redact_cases[i][0], out, sizeof(out));
		assert_string_equal(out, redact_cases[i][1]);
	}
}

static void test_missing_file_says_what_to_do(void **state)
{
	struct mb_context *ctx;
	char error[512];

	(void)state;
	assert_int_equal(mb_context_load("/nonexistent/context.json", &ctx, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "/nonexistent/context.json"));
	/* both ways to an existing server's file, then how to make one */
	assert_non_null(strstr(error, "--context"));
	assert_non_null(strstr(error, "MAILBAG_CONTEXT"));
	assert_non_null(strstr(error, "mailbag setup"));
}

static void test_parse_size(void **state)
{
	uint64_t bytes;
	const char *error;

	(void)state;
	assert_int_equal(mb_parse_size("512K", &bytes, &error), 0);
	assert_int_equal(bytes, 512 * 1024);
	assert_int_equal(mb_parse_size("1TB", &bytes, &error), 0);
	assert_int_equal(bytes, 1ULL << 40);
	assert_int_equal(mb_parse_size("0", &bytes, &error), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(mb_parse_size("1.5G", &bytes, &error), -1);
	assert_int_equal(mb_parse_size("99999999999999999999", &bytes, &error), -1);
	assert_int_equal(mb_parse_size("17179869184T", &bytes, &error), -1);
	assert_int_equal(mb_parse_size("", &bytes, &error), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_context_table),
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_passthrough_lists),
		cmocka_unit_test(test_node_map),
		cmocka_unit_test(test_schema_defaults),
		cmocka_unit_test(test_path_defaults_below_root),
		cmocka_unit_test(test_list_keys_land_at_their_rows),
		cmocka_unit_test(test_policy_settings),
		cmocka_unit_test(test_missing_file_says_what_to_do),
		cmocka_unit_test(test_store_password_is_kept_secret),
		cmocka_unit_test(test_reload_keeps_fixed_keys),
		cmocka_unit_test(test_redact_store_location),
		cmocka_unit_test(test_parse_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
