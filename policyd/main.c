/* main.c - mailbag-policyd: Postfix's window onto the mailbag store
 *
 * SUMMARY
 *	mailbag-policyd [-c context.json] [-d]
 *
 * DESCRIPTION
 *	Serves Postfix's socketmap protocol on the unix socket named by
 *	policyd.socketmap_socket in the context file, answering the maps
 *	listed in socketmap.c from the store, and Postfix's policy
 *	delegation protocol on policyd.policy_socket (policy.c), both from
 *	one event loop, and takes Dovecot's mailbox usage reports (quota_clone
 *	over the dict protocol, usage.c) on policyd.usage_socket. SIGHUP reads the context file again (checks,
 *	limits, greylisting; not sockets or the store). It runs in the foreground
 *	(systemd or the test fixture supervise it) and logs to stderr. The
 *	options, the context, the sockets, the privileges, the signals and
 *	the reload are the service skeleton's (lib/service.c); this file
 *	fills it in with the three protocols.
 *
 * SECURITY
 *	Started as root, it creates the socket (owner root, group
 *	policyd.socket_group, mode policyd.socket_mode), then drops to
 *	daemon_user before opening the store or reading any request.
 *	It refuses to run as root when daemon_user cannot be found.
 *
 * DIAGNOSTICS
 *	A store it cannot open makes every lookup TEMP (Postfix answers
 *	4xx), and opening is retried at most once a second; a record it
 *	cannot read makes that lookup TEMP. It never answers NOTFOUND for a
 *	lookup it could not make.
 */
#include "context.h"
#include "daemon.h"
#include "log.h"
#include "netstring.h"
#include "policy.h"
#include "redis-location.h"
#include "server.h"
#include "service.h"
#include "socketmap.h"
#include "srs-map.h"
#include "system-alias-map.h"
#include "store.h"
#include "decision.h"
#include "redis-location.h"
#include "usage.h"

#include "mailbag-config.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

struct policyd {
	struct mb_service_run *service; /* the skeleton running it (lib/service.c) */
	struct mb_context *ctx;         /* service->ctx, taken again after a reload */
	struct mb_store *store;
	time_t last_open_attempt;
	char store_error[512];
	char reply[SOCKETMAP_MAX_REPLY]; /* one request's answer */
	struct policy_request policy_request; /* the one being decided */
	struct policy_scratch *policy_scratch;
	struct decisions *decisions; /* on Redis: decisions that do not block (decision.c) */
};

/* what a policy connection keeps: the decision it waits for */
struct policy_connection {
	struct decision *pending;
};

/* current_store - the open store, opening it if needed (once a second) */
static struct mb_store *current_store(struct policyd *pd)
{
	struct mb_store *store = mb_daemon_store_cached(pd->ctx->store, pd->ctx->store_cache_entries, &pd->store,
							&pd->last_open_attempt, pd->store_error, sizeof(pd->store_error));
	/* the running context's (a reload may have changed it) */
	if (store != NULL)
		mb_store_set_postmaster(store, pd->ctx->postmaster.items, pd->ctx->postmaster.count);
	return store;
}

static size_t reply_netstring(struct server_output *out, const char *reply, size_t len)
{
	char framed[SOCKETMAP_MAX_REPLY + 16];
	size_t n = mb_netstring_format(framed, sizeof(framed), reply, len);

	return server_output(out, framed, n) < 0 ? 0 : n;
}

/* socketmap_process - the reactor's hook: every complete netstring */
static size_t socketmap_process(void *context, void *connection_state, const char *in,
				size_t len, struct server_output *out, bool *close_r)
{
	struct policyd *pd = context;
	(void)connection_state;
	char *reply = pd->reply;
	size_t used = 0;

	while (used < len) {
		const char *payload;
		size_t payload_len, consumed, reply_len;
		enum mb_netstring_result r =
			mb_netstring_parse(in + used, len - used, SOCKETMAP_MAX_REQUEST,
					   &payload, &payload_len, &consumed);
		if (r == MB_NETSTRING_NEED_MORE)
			break;
		if (r != MB_NETSTRING_OK) {
			char why[64];
			if (r == MB_NETSTRING_TOO_LONG)
				snprintf(why, sizeof(why), "PERM request longer than %d bytes", SOCKETMAP_MAX_REQUEST);
			else
				snprintf(why, sizeof(why), "PERM malformed netstring");
			mb_warning("socketmap: %s, closing connection", why + 5);
			reply_netstring(out, why, strlen(why));
			*close_r = true;
			return len;
		}
		struct mb_store *store = current_store(pd);
		if (store == NULL) {
			reply_len = (size_t)snprintf(reply, sizeof(pd->reply),
				"TEMP store unavailable: %.400s", pd->store_error);
		} else {
			reply_len = socketmap_answer(store, pd->ctx->recipient_delimiter,
						     payload, payload_len,
						     reply, sizeof(pd->reply));
			/* the store stays open: one unreadable record must not
			   fail the lookups of everyone else */
			if (strncmp(reply, "TEMP ", 5) == 0)
				mb_error("socketmap: %.*s", (int)reply_len, reply);
		}
		if (strncmp(reply, "PERM ", 5) != 0) {
			char safe[256];
			mb_debug("socketmap: '%s' -> %.*s",
				 mb_log_sanitize(payload, payload_len, safe, sizeof(safe)),
				 (int)(reply_len > 200 ? 200 : reply_len), reply);
		} else {
			char safe[256];
			mb_warning("socketmap: %.*s for request '%s'", (int)reply_len, reply,
				   mb_log_sanitize(payload, payload_len, safe, sizeof(safe)));
		}
		reply_netstring(out, reply, reply_len);
		used += consumed;
	}
	return used;
}

/* run_decision - one run of a decision on the current context and
   store; its state calls go to journal when one is given (decision.c) */
static size_t run_decision(void *context, struct mb_state_journal *journal, const struct policy_request *req,
			   int64_t now, char *reply, size_t size)
{
	struct policyd *pd = context;
	struct mb_store *store = current_store(pd);

	if (store == NULL)
		return (size_t)snprintf(reply, size, "action=DEFER_IF_PERMIT 4.3.0 mailbag store unavailable\n\n");
	mb_store_set_journal(store, journal);
	size_t len = policy_decide(req, pd->ctx, store, pd->policy_scratch, now, reply, size);
	mb_store_set_journal(store, NULL);
	return len;
}

/* policy_process - the reactor's hook for policy delegation requests */
static size_t policy_process(void *context, void *connection_state, const char *in,
			     size_t len, struct server_output *out, bool *close_r)
{
	struct policyd *pd = context;
	struct policy_connection *conn = connection_state;
	char reply[POLICY_MAX_ACTION + 64];
	size_t used = 0, consumed, reply_len;
	/* on Redis the request is parsed into the decision that keeps it */
	struct decision *decision = NULL;

	while (used < len) {
		if (pd->decisions != NULL && decision == NULL && (decision = decision_take(pd->decisions)) == NULL) {
			mb_error("policy: out of memory for a decision");
			return used;
		}
		struct policy_request *req = decision != NULL ? decision_request(decision) : &pd->policy_request;
		enum policy_parse_result r = policy_request_parse(in + used, len - used, req, &consumed);
		if (r == POLICY_PARSE_NEED_MORE)
			break;
		if (r == POLICY_PARSE_TOO_LARGE) {
			static const char refuse[] =
				"action=DEFER_IF_PERMIT 4.7.1 policy request too large\n\n";
			mb_warning("policy: request with a line over %d bytes or over %d attributes, closing connection",
				   POLICY_MAX_LINE, POLICY_MAX_ATTRIBUTES);
			server_output(out, refuse, sizeof(refuse) - 1);
			*close_r = true;
			if (decision != NULL)
				decision_drop(decision);
			return len;
		}
		if (req->malformed_lines > 0)
			mb_warning("policy: %zu malformed line(s) skipped in a request", req->malformed_lines);
		used += consumed;
		if (decision != NULL) {
			reply_len = decision_start(decision, (int64_t)time(NULL), pd->ctx->policyd.store_timeout * 1000,
						   out, &conn->pending, reply, sizeof(reply));
			decision = NULL; /* answered (given back) or held */
			if (reply_len == 0)
				return used; /* held: answered later, nothing more read till then */
		} else {
			reply_len = run_decision(pd, NULL, req, (int64_t)time(NULL), reply, sizeof(reply));
		}
		decision_log_reply(req, reply, reply_len);
		if (server_output(out, reply, reply_len) < 0)
			break;
	}
	if (decision != NULL)
		decision_drop(decision);
	return used;
}

/* policy_closed - a connection goes: a decision it waits for is dropped */
static void policy_closed(void *context, void *connection_state)
{
	struct policy_connection *conn = connection_state;

	(void)context;
	if (conn->pending != NULL)
		decision_abandon(conn->pending);
	conn->pending = NULL;
}

/* maintain - once a second: a requested reload (the skeleton's: the
   store, the sockets and the daemon user stay), then expire and flush
   the store's state */
static void maintain(void *context, time_t now)
{
	struct policyd *pd = context;
	char error[512];

	mb_service_reload_if_requested(pd->service);
	if (pd->store != NULL && mb_state_maintain(pd->store, (int64_t)now, error, sizeof(error)) < 0)
		mb_error("state housekeeping: %s", error);
}

/* usage_protocol_process - the reactor's hook for Dovecot's dict client
   (quota_clone reporting mailbox usage, usage.c) */
static size_t usage_protocol_process(void *context, void *connection_state, const char *in,
				     size_t len, struct server_output *out, bool *close_r)
{
	struct policyd *pd = context;
	char reply[512], error[256];
	size_t reply_len, used;
	struct mb_store *store = current_store(pd);

	if (store == NULL) {
		/* nothing to write into: Dovecot's commit fails and it logs */
		mb_warning("usage: store unavailable, closing the dict connection");
		*close_r = true;
		return len;
	}
	used = usage_process(connection_state, store, pd->ctx->recipient_delimiter, (int64_t)time(NULL),
			     in, len, reply, sizeof(reply), &reply_len, close_r, error, sizeof(error));
	if (error[0] != '\0') {
		char safe[300];
		mb_warning("usage: %s%s", mb_log_sanitize(error, strlen(error), safe, sizeof(safe)),
			   *close_r ? ", closing connection" : "");
	}
	if (reply_len > 0)
		server_output(out, reply, reply_len);
	return used;
}

static const char usage_text[] =
	"usage: mailbag-policyd [-c CONTEXT] [-d]\n"
	"\n"
	"Serve Postfix's socketmap lookups (virtual_mailbox_domains,\n"
	"virtual_alias_domains, virtual_mailbox_maps, virtual_alias_maps,\n"
	"smtpd_sender_login_maps) from the mailbag store, and Postfix's policy\n"
	"delegation (message size, sender login, recipient cap, greylisting,\n"
	"rate limits; configured in the context file).\n"
	"\n"
	"  -c, --context PATH  context file (default: $MAILBAG_CONTEXT or " MAILBAG_DEFAULT_CONTEXT ")\n"
	"  -d, --debug         log every lookup\n"
	"  -h, --help          this text\n"
	"  -V, --version       print the version\n"
	"\n"
	"Runs in the foreground and logs to stderr; SIGHUP rereads the context.\n"
	"See mailbag-policyd(8).\n";

/* The listeners, in the order of the protocols in policyd_run */
static const struct mb_service_listener policyd_listeners[] = {
	{ .kind = MB_SERVICE_UNIX,
	  .address = { "policyd.socketmap_socket", offsetof(struct mb_context, policyd.socketmap_socket) },
	  .group = { "policyd.socket_group", offsetof(struct mb_context, policyd.socket_group) },
	  .mode = { "policyd.socket_mode", offsetof(struct mb_context, policyd.socket_mode) } },
	{ .kind = MB_SERVICE_UNIX,
	  .address = { "policyd.policy_socket", offsetof(struct mb_context, policyd.policy_socket) },
	  .group = { "policyd.socket_group", offsetof(struct mb_context, policyd.socket_group) },
	  .mode = { "policyd.socket_mode", offsetof(struct mb_context, policyd.socket_mode) } },
	/* the usage socket is for Dovecot's mail processes: the vmail group */
	{ .kind = MB_SERVICE_UNIX,
	  .address = { "policyd.usage_socket", offsetof(struct mb_context, policyd.usage_socket) },
	  .group_id = { "vmail_gid", offsetof(struct mb_context, vmail_gid) },
	  .mode = { "policyd.socket_mode", offsetof(struct mb_context, policyd.socket_mode) },
	  .make_directory = true },
};

/* policyd_setup - as root, before the sockets: libsodium, the scratch
   memory of policy decisions */
static int policyd_setup(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct policyd *pd = run->daemon;

	pd->service = run;
	pd->ctx = run->ctx;
	if (sodium_init() < 0) {
		mb_set_error(error_r, "libsodium could not initialise");
		return EX_SOFTWARE;
	}
	pd->policy_scratch = policy_scratch_new();
	if (pd->policy_scratch == NULL) {
		mb_set_error(error_r, "out of memory");
		return EX_OSERR;
	}
	return 0;
}

/* policyd_init - as daemon_user: the store, so that a missing one is
   logged now */
static int policyd_init(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct policyd *pd = run->daemon;

	(void)error_r;
	current_store(pd);
	srs_map_configure(pd->ctx);
	system_alias_map_configure(run->ctx);
	return 0;
}

/* policyd_reloaded - the new context in place of the old (freed) one */
static void policyd_reloaded(struct mb_service_run *run)
{
	struct policyd *pd = run->daemon;

	pd->ctx = run->ctx;
	srs_map_configure(pd->ctx);
	system_alias_map_configure(pd->ctx);
}

/* start_decisions - on a Redis store, decisions on the event loop;
   without (out of memory), they are made synchronously as on LMDB */
static int start_decisions(void *context, struct mb_reactor *reactor)
{
	struct policyd *pd = context;
	struct mb_error_text error;

	if (!mb_redis_location_is(pd->ctx->store))
		return 0;
	pd->decisions = decisions_new(reactor, pd->ctx->store, run_decision, pd, &error);
	if (pd->decisions == NULL)
		mb_error("policy decisions will wait for Redis: %s", error.text);
	return 0;
}

static void stop_decisions(void *context)
{
	struct policyd *pd = context;

	decisions_free(&pd->decisions);
}

/* policyd_run - the three protocols on the skeleton's listeners, until
   SIGTERM or SIGINT */
static int policyd_run(struct mb_service_run *run)
{
	struct policyd *pd = run->daemon;
	const struct mb_context *ctx = pd->ctx;

	struct server_protocol socketmap = {
		.name = "socketmap",
		.max_input = SOCKETMAP_MAX_REQUEST + 16,
		.process = socketmap_process,
		.context = pd,
	};
	struct server_protocol policy = {
		.name = "policy",
		.max_input = POLICY_MAX_REQUEST + 1,
		.state_size = sizeof(struct policy_connection),
		.process = policy_process,
		.closed = policy_closed,
		.context = pd,
	};
	struct server_protocol usage = {
		.name = "usage",
		.max_input = USAGE_MAX_LINE + 1,
		.state_size = sizeof(struct usage_connection),
		.process = usage_protocol_process,
		.context = pd,
	};
	const struct server_protocol *protocols[] = { &socketmap, &policy, &usage };
	mb_info("serving socketmap on %s, policy delegation on %s, usage reports on %s",
		ctx->policyd.socketmap_socket, ctx->policyd.policy_socket, ctx->policyd.usage_socket);
	int ret = server_run(run->listen_fds, protocols, 3, maintain, start_decisions, stop_decisions, pd);
	/* a reload replaced ctx: only pd->ctx is valid from here */
	return ret < 0 ? EX_SOFTWARE : 0;
}

/* policyd_shutdown - after the loop; the skeleton closes and removes
   the sockets */
static void policyd_shutdown(struct mb_service_run *run)
{
	struct policyd *pd = run->daemon;

	mb_store_close(&pd->store);
	policy_scratch_free(&pd->policy_scratch);
	srs_map_clear();
	pd->ctx = NULL;
}

static const struct mb_service policyd_service = {
	.name = "mailbag-policyd",
	.usage = usage_text,
	.listeners = policyd_listeners,
	.listener_count = sizeof(policyd_listeners) / sizeof(policyd_listeners[0]),
	.setup = policyd_setup,
	.init = policyd_init,
	.run = policyd_run,
	.reloaded = policyd_reloaded,
	.shutdown = policyd_shutdown,
};

int main(int argc, char **argv)
{
	static struct policyd pd; /* 100 KB: not on the stack */

	return mb_service_main(&policyd_service, &pd, argc, argv);
}
