/* main.c - mailbag-lmtpd: the delivery bridge from Postfix to Dovecot
 *
 * SUMMARY
 *	mailbag-lmtpd [-c CONTEXT] [-d]
 *
 *	Postfix's virtual_transport delivers to this LMTP server
 *	(lmtpd.socket); it checks each recipient against the store, sends
 *	the message on to the Dovecot LMTP that holds each mailbox (the
 *	local one, or a node of lmtpd.nodes named in the user's record) and
 *	passes back each recipient's own answer. See mailbag-lmtpd(8).
 *
 *	Start-up (the service skeleton, lib/service.c): read the context,
 *	make the spool directory and the listening socket as root, then
 *	drop to daemon_user for good. One process, one thread, one event
 *	loop (lib/reactor.c). SIGTERM stops it
 *	(messages in flight are not acknowledged, so Postfix delivers them
 *	again, and the journal keeps that from delivering twice); SIGHUP
 *	rereads the context (the socket, spool, store and user stay).
 */
#include "bridge.h"
#include "daemon.h"
#include "log.h"
#include "redis-location.h"
#include "service.h"

#include "mailbag-config.h"

#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* tick - once a second: a requested reload (the skeleton's: the socket,
   spool, store and user stay; sessions copy what they need of the
   context, so the old one can go), the sessions' timeouts, the store's
   state */
static long long tick(struct mb_reactor *r, long long id, void *context)
{
	struct bridge *b = context;
	time_t now = time(NULL);
	char error[512];

	(void)r;
	(void)id;
	mb_service_reload_if_requested(b->service);
	sessions_tick(b, now);
	if (b->store != NULL && mb_state_maintain(b->store, (int64_t)now, error, sizeof(error)) < 0)
		mb_error("state housekeeping: %s", error);
	return 1000;
}

/* make_spool_dir - the spool directory, 0700 and owned by daemon_user */
static int make_spool_dir(const struct mb_context *ctx, char *error, size_t size)
{
	struct passwd *pw = getpwnam(ctx->daemon_user);
	struct stat st;

	if (mkdir(ctx->lmtpd.spool_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(error, size, "cannot create lmtpd.spool_dir %s: %s", ctx->lmtpd.spool_dir, strerror(errno));
		return -1;
	}
	if (stat(ctx->lmtpd.spool_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(error, size, "lmtpd.spool_dir %s is not a directory", ctx->lmtpd.spool_dir);
		return -1;
	}
	if (geteuid() == 0 && pw != NULL &&
	    (chown(ctx->lmtpd.spool_dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(ctx->lmtpd.spool_dir, 0700) < 0)) {
		snprintf(error, size, "cannot give lmtpd.spool_dir %s to %s: %s", ctx->lmtpd.spool_dir,
			 ctx->daemon_user, strerror(errno));
		return -1;
	}
	return 0;
}

static const char usage_text[] =
	"usage: mailbag-lmtpd [-c CONTEXT] [-d]\n"
	"\n"
	"Deliver Postfix's virtual mail (virtual_transport = lmtp:unix:SOCKET) to\n"
	"the Dovecot LMTP that holds each mailbox, checking each recipient against\n"
	"the mailbag store at RCPT and passing back each one's own answer. A\n"
	"delivery whose 250 was lost is recognised when Postfix retries it and is\n"
	"not made twice.\n"
	"\n"
	"  -c, --context PATH  context file (default: $MAILBAG_CONTEXT or " MAILBAG_DEFAULT_CONTEXT ")\n"
	"  -d, --debug         log more\n"
	"  -h, --help          this text\n"
	"  -V, --version       print the version\n"
	"\n"
	"Runs in the foreground and logs to stderr; SIGHUP rereads the context.\n"
	"See mailbag-lmtpd(8).\n";

enum { UNIX_LISTENER, TCP_LISTENER };

static const struct mb_service_listener lmtpd_listeners[] = {
	[UNIX_LISTENER] = { .kind = MB_SERVICE_UNIX,
	  .address = { "lmtpd.socket", offsetof(struct mb_context, lmtpd.socket) },
	  .group = { "lmtpd.socket_group", offsetof(struct mb_context, lmtpd.socket_group) },
	  .mode = { "lmtpd.socket_mode", offsetof(struct mb_context, lmtpd.socket_mode) },
	  .make_directory = true },
	/* "" (the default): no TCP listener */
	[TCP_LISTENER] = { .kind = MB_SERVICE_TCP,
	  .address = { "lmtpd.listen_tcp", offsetof(struct mb_context, lmtpd.listen_tcp) } },
};

/* lmtpd_setup - as root, before the sockets: libsodium, the spool
   directory */
static int lmtpd_setup(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct bridge *b = run->daemon;

	b->service = run;
	b->context_path = run->context_path;
	b->ctx = run->ctx;
	if (sodium_init() < 0) {
		mb_set_error(error_r, "libsodium could not initialise");
		return EX_SOFTWARE;
	}
	if (make_spool_dir(b->ctx, error_r->text, sizeof(error_r->text)) < 0)
		return EX_CANTCREAT;
	return 0;
}

/* lmtpd_init - as daemon_user: the store, so that a missing one is
   logged now */
static int lmtpd_init(struct mb_service_run *run, struct mb_error_text *error_r)
{
	(void)error_r;
	bridge_store(run->daemon);
	return 0;
}

static void lmtpd_reloaded(struct mb_service_run *run)
{
	struct bridge *b = run->daemon;

	b->ctx = run->ctx;
}

/* lmtpd_run - the event loop on the skeleton's listeners, until SIGTERM
   or SIGINT */
static int lmtpd_run(struct mb_service_run *run)
{
	struct bridge *b = run->daemon;
	const struct mb_context *ctx = b->ctx;
	int fd = run->listen_fds[UNIX_LISTENER];
	int tcp_fd = run->listen_fds[TCP_LISTENER];

	struct mb_error_text loop_error = { "" };
	if ((b->reactor = mb_reactor_new(&loop_error)) == NULL ||
	    mb_reactor_add_timer(b->reactor, 1000, tick, b, &loop_error) < 0) {
		mb_error("cannot set up the event loop: %s",
			 loop_error.text[0] != '\0' ? loop_error.text : strerror(errno));
		return EX_OSERR;
	}
	if (session_listen(b, fd, &loop_error) < 0) {
		mb_error("cannot watch %s: %s", ctx->lmtpd.socket, loop_error.text);
		return EX_OSERR;
	}
	if (tcp_fd >= 0 && session_listen(b, tcp_fd, &loop_error) < 0) {
		mb_error("cannot watch %s: %s", ctx->lmtpd.listen_tcp, loop_error.text);
		return EX_OSERR;
	}
	mb_info("serving LMTP on %s%s%s; local Dovecot at %s, %zu other node(s)", ctx->lmtpd.socket,
		tcp_fd >= 0 ? " and " : "", tcp_fd >= 0 ? ctx->lmtpd.listen_tcp : "",
		ctx->lmtpd.dovecot_lmtp, ctx->lmtpd.nodes.count);
	int ret = mb_reactor_run(b->reactor, &loop_error);
	return ret < 0 ? EX_SOFTWARE : 0;
}

/* lmtpd_shutdown - after the loop: messages in flight are not
   acknowledged; the skeleton closes and removes the sockets */
static void lmtpd_shutdown(struct mb_service_run *run)
{
	struct bridge *b = run->daemon;

	sessions_close_all(b);
	if (b->reactor != NULL) {
		for (size_t i = 0; i < run->service->listener_count; i++)
			if (run->listen_fds[i] >= 0)
				mb_reactor_unwatch(b->reactor, run->listen_fds[i], MB_READABLE);
		mb_reactor_free(&b->reactor);
	}
	mb_store_close(&b->store);
	b->ctx = NULL;
}

static const struct mb_service lmtpd_service = {
	.name = "mailbag-lmtpd",
	.usage = usage_text,
	.listeners = lmtpd_listeners,
	.listener_count = sizeof(lmtpd_listeners) / sizeof(lmtpd_listeners[0]),
	.setup = lmtpd_setup,
	.init = lmtpd_init,
	.run = lmtpd_run,
	.reloaded = lmtpd_reloaded,
	.shutdown = lmtpd_shutdown,
};

int main(int argc, char **argv)
{
	static struct bridge bridge;

	return mb_service_main(&lmtpd_service, &bridge, argc, argv);
}
