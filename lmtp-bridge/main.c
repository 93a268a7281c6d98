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
 *	Start-up: read the context, make the spool directory and the
 *	listening socket as root, then drop to daemon_user for good. One
 *	process, one thread, one event loop (lib/reactor.c). SIGTERM stops it
 *	(messages in flight are not acknowledged, so Postfix delivers them
 *	again, and the journal keeps that from delivering twice); SIGHUP
 *	rereads the context (the socket, spool, store and user stay).
 */
#include "bridge.h"
#include "daemon.h"
#include "log.h"
#include "redis-location.h"

#include "mailbag-config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* reload_context - on SIGHUP; a file that does not load keeps the
   running settings, and what was set up at start stays
   (mb_context_reload). Sessions copy what they need of the context, so
   the old one can go. */
static void reload_context(struct bridge *b)
{
	struct mb_error_text error;

	if (mb_context_reload(&b->ctx, b->context_path, &error) < 0) {
		mb_error("reload refused, keeping the running settings: %s", error.text);
		return;
	}
	mb_info("context %s reloaded", b->context_path);
}

/* tick - a reactor timer, once a second */
static long long tick(struct mb_reactor *r, long long id, void *context)
{
	struct bridge *b = context;
	time_t now = time(NULL);
	char error[512];

	(void)r;
	(void)id;
	if (mb_take_reload_request())
		reload_context(b);
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

	if (mkdir(ctx->lmtpd_spool_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(error, size, "cannot create lmtpd.spool_dir %s: %s", ctx->lmtpd_spool_dir, strerror(errno));
		return -1;
	}
	if (stat(ctx->lmtpd_spool_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(error, size, "lmtpd.spool_dir %s is not a directory", ctx->lmtpd_spool_dir);
		return -1;
	}
	if (geteuid() == 0 && pw != NULL &&
	    (chown(ctx->lmtpd_spool_dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(ctx->lmtpd_spool_dir, 0700) < 0)) {
		snprintf(error, size, "cannot give lmtpd.spool_dir %s to %s: %s", ctx->lmtpd_spool_dir,
			 ctx->daemon_user, strerror(errno));
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailbag-lmtpd [-c CONTEXT] [-d]\n"
		"\n"
		"Deliver Postfix's virtual mail (virtual_transport = lmtp:unix:SOCKET) to\n"
		"the Dovecot LMTP that holds each mailbox, checking each recipient against\n"
		"the mailbag store at RCPT and passing back each one's own answer. A\n"
		"delivery whose 250 was lost is recognised when Postfix retries it and is\n"
		"not made twice.\n"
		"\n"
		"  -c, --context PATH  context file (default: $MAILBAG_CONTEXT or %s)\n"
		"  -d, --debug         log more\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"Runs in the foreground and logs to stderr; SIGHUP rereads the context.\n"
		"See mailbag-lmtpd(8).\n",
		MAILBAG_DEFAULT_CONTEXT);
}

int main(int argc, char **argv)
{
	static struct bridge bridge;
	const char *context_path = NULL;
	char error[1024];

	int run = mb_daemon_options(argc, argv, "mailbag-lmtpd", usage, &context_path);
	if (run != MB_DAEMON_RUN)
		return run;
	bridge.context_path = mb_context_path(context_path);
	if (mb_context_load(bridge.context_path, &bridge.ctx, error, sizeof(error)) < 0) {
		mb_error("%s", error);
		return EX_CONFIG;
	}
	const struct mb_context *ctx = bridge.ctx;
	if (sodium_init() < 0) {
		mb_error("libsodium could not initialise");
		return EX_SOFTWARE;
	}
	long gid = -1;
	if (geteuid() == 0) {
		struct group *gr = getgrnam(ctx->lmtpd_socket_group);
		if (gr == NULL) {
			mb_error("lmtpd.socket_group '%s' does not exist", ctx->lmtpd_socket_group);
			return EX_CONFIG;
		}
		gid = gr->gr_gid;
	}
	if (make_spool_dir(ctx, error, sizeof(error)) < 0) {
		mb_error("%s", error);
		return EX_CANTCREAT;
	}
	mb_make_socket_dir(ctx->lmtpd_socket);
	int fd = mb_listen_unix(ctx->lmtpd_socket, ctx->lmtpd_socket_mode, gid, error, sizeof(error));
	if (fd < 0) {
		mb_error("%s", error);
		return EX_OSERR;
	}
	int tcp_fd = -1;
	if (ctx->lmtpd_listen_tcp[0] != '\0' &&
	    (tcp_fd = mb_listen_tcp(ctx->lmtpd_listen_tcp, error, sizeof(error))) < 0) {
		mb_error("lmtpd.listen_tcp: %s", error);
		return EX_OSERR;
	}
	if (mb_drop_privileges(ctx->daemon_user, error, sizeof(error)) < 0) {
		mb_error("%s", error);
		return EX_NOPERM;
	}
	struct mb_error_text loop_error = { "" };
	if (mb_signals_install() < 0 || (bridge.reactor = mb_reactor_new(&loop_error)) == NULL ||
	    mb_reactor_add_timer(bridge.reactor, 1000, tick, &bridge, &loop_error) < 0) {
		mb_error("cannot set up the event loop: %s",
			 loop_error.text[0] != '\0' ? loop_error.text : strerror(errno));
		return EX_OSERR;
	}
	bridge_store(&bridge); /* logs now if the store is missing */
	if (session_listen(&bridge, fd, &loop_error) < 0) {
		mb_error("cannot watch %s: %s", ctx->lmtpd_socket, loop_error.text);
		return EX_OSERR;
	}
	if (tcp_fd >= 0 && session_listen(&bridge, tcp_fd, &loop_error) < 0) {
		mb_error("cannot watch %s: %s", ctx->lmtpd_listen_tcp, loop_error.text);
		return EX_OSERR;
	}
	mb_info("serving LMTP on %s%s%s; local Dovecot at %s, %zu other node(s)", ctx->lmtpd_socket,
		tcp_fd >= 0 ? " and " : "", tcp_fd >= 0 ? ctx->lmtpd_listen_tcp : "",
		ctx->lmtpd_dovecot_lmtp, ctx->lmtpd_node_count);
	int ret = mb_reactor_run(bridge.reactor, &loop_error);
	mb_info("stopping");
	sessions_close_all(&bridge);
	mb_reactor_unwatch(bridge.reactor, fd, MB_READABLE);
	close(fd);
	if (tcp_fd >= 0) {
		mb_reactor_unwatch(bridge.reactor, tcp_fd, MB_READABLE);
		close(tcp_fd);
	}
	mb_reactor_free(&bridge.reactor);
	unlink(bridge.ctx->lmtpd_socket); /* may fail after the drop: replaced at start */
	mb_store_close(&bridge.store);
	mb_context_free(&bridge.ctx);
	return ret < 0 ? EX_SOFTWARE : 0;
}
