/* main.c - mailbag-milter: DKIM signing, SPF/DKIM/DMARC checks and
 * header policy for Postfix, from the mailbag store and context
 *
 * SUMMARY
 *	mailbag-milter [-c context.json] [-d]
 *
 * DESCRIPTION
 *	A libmilter filter (milter.c says what it does to each message).
 *	It listens on the unix socket milter.socket (owner root, group
 *	milter.socket_group, mode milter.socket_mode) or, when
 *	milter.listen_tcp is set, on that TCP address, with TCP_NODELAY so
 *	that its replies are not held back by Nagle's algorithm. Keys are
 *	read from dkim.key_dir and picked up without a restart; the context
 *	is read at start. The options, the context and the privileges are
 *	the service skeleton's (lib/service.c); libmilter's smfi_main is
 *	the loop and answers the signals.
 *
 * SECURITY
 *	Started as root, it makes the socket, then drops to daemon_user
 *	before reading any key or message. It refuses to start when a key
 *	under dkim.key_dir can be read by others than its owner and group.
 *
 * DIAGNOSTICS
 *	Logs to stderr (journald). Postfix's milter_default_action =
 *	tempfail keeps mail queued while the milter is down.
 */
#include "authcheck.h"
#include "context.h"
#include "daemon.h"
#include "keys.h"
#include "log.h"
#include "milter.h"
#include "service.h"
#include "sockaddr.h"

#include "mailbag-config.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: mailbag-milter [-c CONTEXT] [-d]\n"
	"\n"
	"Postfix's milter for mailbag: signs outbound mail with the domain's DKIM\n"
	"keys (RSA and Ed25519), checks the header From against the login, and\n"
	"checks inbound mail by SPF, DKIM and DMARC into one Authentication-Results\n"
	"field, refusing what the context's milter.* settings say to.\n"
	"\n"
	"  -c, --context FILE  the context file (default " MAILBAG_DEFAULT_CONTEXT ", or $MAILBAG_CONTEXT)\n"
	"  -d, --debug         log every decision\n"
	"  -h, --help          this help\n"
	"  -V, --version       the version\n"
	"\n"
	"See mailbag-milter(8).\n";

/* connection_spec - libmilter's name of the listener */
static int connection_spec(const struct mb_context *ctx, char *spec, size_t size,
			   char *error, size_t error_size)
{
	if (ctx->milter.listen_tcp[0] == '\0') {
		snprintf(spec, size, "unix:%s", ctx->milter.socket);
		return 0;
	}
	const char *addr = ctx->milter.listen_tcp;
	const char *colon = strrchr(addr, ':');
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		snprintf(spec, size, "inet6:%s@%.*s", colon + 1, (int)(close - addr - 1), addr + 1);
	} else {
		snprintf(spec, size, "inet:%s@%.*s", colon + 1, (int)(colon - addr), addr);
	}
	(void)error; (void)error_size;
	return 0;
}

/* set_nodelay_on_listener - TCP_NODELAY on libmilter's listening socket;
   Linux hands it on to every accepted connection */
static void set_nodelay_on_listener(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		int listening = 0, domain = 0, one = 1;
		socklen_t len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
			continue;
		len = sizeof(domain);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
		    (domain != AF_INET && domain != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
			mb_warning("TCP_NODELAY on the listener: %s", strerror(errno));
	}
}

/* open_listener - the socket, owned and moded for Postfix */
static int open_listener(const struct mb_context *ctx, char *error, size_t error_size)
{
	char spec[512];

	if (connection_spec(ctx, spec, sizeof(spec), error, error_size) < 0)
		return -1;
	if (ctx->milter.listen_tcp[0] == '\0')
		mb_make_socket_dir(ctx->milter.socket);
	if (smfi_setconn(spec) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(error, error_size, "cannot listen on %s (in use, or its directory missing?)", spec);
		return -1;
	}
	if (ctx->milter.listen_tcp[0] != '\0') {
		set_nodelay_on_listener();
		return 0;
	}
	if (geteuid() == 0) {
		struct group *gr = getgrnam(ctx->milter.socket_group);
		if (gr == NULL) {
			snprintf(error, error_size, "milter.socket_group '%s' does not exist", ctx->milter.socket_group);
			return -1;
		}
		if (chown(ctx->milter.socket, 0, gr->gr_gid) < 0) {
			snprintf(error, error_size, "chown %s: %s", ctx->milter.socket, strerror(errno));
			return -1;
		}
	}
	if (chmod(ctx->milter.socket, ctx->milter.socket_mode) < 0) {
		snprintf(error, error_size, "chmod %s: %s", ctx->milter.socket, strerror(errno));
		return -1;
	}
	return 0;
}

/* milter_setup - as root: the keys checked, DNS for the checks, the
   filter registered and libmilter's socket made (libmilter makes its
   own listener, so the skeleton has none to make) */
static int milter_setup(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct milter_shared *shared = run->daemon;
	const struct mb_context *ctx = run->ctx;

	if (keys_check_all(ctx->dkim.key_dir, error_r->text, sizeof(error_r->text)) < 0)
		return EX_CONFIG;
	if (authcheck_init((int)ctx->milter.dns_timeout, error_r->text, sizeof(error_r->text)) < 0)
		return EX_SOFTWARE;
	shared->ctx = ctx;
	shared->keys = keys_new(ctx->dkim.key_dir);
	struct smfiDesc description = milter_description(shared);
	if (shared->keys == NULL || smfi_register(description) != MI_SUCCESS) {
		mb_set_error(error_r, "libmilter refused to register the filter (out of memory?)");
		return EX_SOFTWARE;
	}
	if (open_listener(ctx, error_r->text, sizeof(error_r->text)) < 0)
		return EX_OSERR;
	return 0;
}

/* milter_run - libmilter's own loop, threads and signal handling */
static int milter_run(struct mb_service_run *run)
{
	const struct mb_context *ctx = run->ctx;

	smfi_settimeout(300);
	mb_info("serving the milter protocol on %s; DKIM keys from %s",
		ctx->milter.listen_tcp[0] ? ctx->milter.listen_tcp : ctx->milter.socket, ctx->dkim.key_dir);
	int ret = smfi_main();
	return ret == MI_SUCCESS ? 0 : EX_SOFTWARE;
}

static void milter_shutdown(struct mb_service_run *run)
{
	struct milter_shared *shared = run->daemon;

	if (run->ctx->milter.listen_tcp[0] == '\0')
		unlink(run->ctx->milter.socket);
	authcheck_deinit();
	keys_free(&shared->keys);
}

/* The context is read at start only: no reload, and SIGHUP is
   libmilter's to answer */
static const struct mb_service milter_service = {
	.name = "mailbag-milter",
	.usage = usage_text,
	.own_signals = true,
	.setup = milter_setup,
	.run = milter_run,
	.shutdown = milter_shutdown,
};

int main(int argc, char **argv)
{
	static struct milter_shared shared;

	return mb_service_main(&milter_service, &shared, argc, argv);
}
