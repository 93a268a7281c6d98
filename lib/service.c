/* service.c - the one skeleton every mailbag daemon fills in
 *
 * SUMMARY
 *	int main(int argc, char **argv)
 *	{
 *		return mb_service_main(&policyd_service, &pd, argc, argv);
 *	}
 *
 * DESCRIPTION
 *	What mailbag-policyd, mailbag-lmtpd and mailbag-milter do alike
 *	from start to exit, written once, as Postfix's event_server.c is
 *	for its daemons. A daemon describes itself in a const struct
 *	mb_service (its name, its usage text, its listening sockets by the
 *	context keys that hold them, and its callbacks); the skeleton does
 *	the rest, in this order:
 *
 *	1. the options: -c/--context PATH, -d/--debug, -h/--help (the
 *	   daemon's usage on stdout, exit 0), -V/--version; a bad option
 *	   prints the usage on stderr and exits 64 (EX_USAGE);
 *	2. the context (-c, else $MAILBAG_CONTEXT, else the built-in
 *	   default): one that does not load is logged and exits EX_CONFIG;
 *	3. as root, the groups of the unix listeners (EX_CONFIG when one
 *	   does not exist);
 *	4. the daemon's setup, still as root;
 *	5. the listeners: their directories when asked, then the sockets
 *	   (EX_OSERR);
 *	6. root dropped for daemon_user for good (EX_NOPERM);
 *	7. the signals (SIGTERM and SIGINT stop, SIGHUP asks for a
 *	   reload, SIGPIPE ignored), unless the daemon's own loop answers
 *	   them, as libmilter's smfi_main does;
 *	8. the daemon's init, then its run, which serves until asked to
 *	   stop; its loop calls mb_service_reload_if_requested() at each
 *	   tick, which rereads the context (mb_context_reload keeps the
 *	   keys fixed at start) and calls the daemon's reloaded;
 *	9. after run: "stopping", the daemon's shutdown, the listeners
 *	   closed and their unix sockets removed, the context freed.
 *
 *	Unlike the rest of lib/, the skeleton logs: it is the daemons'
 *	main, and what it cannot do ends the program.
 *
 * SECURITY
 *	The sockets are made as root, then root is given up (with every
 *	capability) before init, so a daemon reads no input as root.
 */
#include "service.h"
#include "daemon.h"
#include "log.h"

#include "mailbag-config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define SERVICE_GO_ON (-1)

/* parse_options - -c, -d, -h, -V; SERVICE_GO_ON with the logging set up,
   or the exit status */
static int parse_options(const struct mb_service *service, int argc, char **argv,
			 const char **context_path_r)
{
	static const struct option options[] = {
		{ "context", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool debug = false;
	int opt;

	*context_path_r = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:dhV", options, NULL)) != -1) {
		switch (opt) {
		case 'c': *context_path_r = optarg; break;
		case 'd': debug = true; break;
		case 'h': fputs(service->usage, stdout); return 0;
		case 'V': printf("%s %s\n", service->name, MAILBAG_VERSION); return 0;
		default: fputs(service->usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs(service->usage, stderr);
		return EX_USAGE;
	}
	mb_log_init(service->name, debug);
	return SERVICE_GO_ON;
}

/* context_string - the char * setting at key's offset */
static const char *context_string(const struct mb_context *ctx, const struct mb_service_key *key)
{
	return *(char *const *)(const void *)((const char *)ctx + key->offset);
}

static long context_long(const struct mb_context *ctx, const struct mb_service_key *key)
{
	return *(const long *)(const void *)((const char *)ctx + key->offset);
}

static unsigned int context_mode(const struct mb_context *ctx, const struct mb_service_key *key)
{
	return *(const unsigned int *)(const void *)((const char *)ctx + key->offset);
}

int mb_service_find_groups(struct mb_service_run *run, struct mb_error_text *error_r)
{
	const struct mb_service *service = run->service;

	for (size_t i = 0; i < service->listener_count; i++) {
		const struct mb_service_listener *l = &service->listeners[i];
		run->gids[i] = -1;
		/* not root: the socket keeps the caller's group */
		if (l->kind != MB_SERVICE_UNIX || geteuid() != 0)
			continue;
		if (l->group_id.key != NULL) {
			run->gids[i] = context_long(run->ctx, &l->group_id);
		} else if (l->group.key != NULL) {
			const char *name = context_string(run->ctx, &l->group);
			struct group *gr = getgrnam(name);
			if (gr == NULL) {
				mb_set_error(error_r, "%s '%s' does not exist", l->group.key, name);
				return EX_CONFIG;
			}
			run->gids[i] = gr->gr_gid;
		}
	}
	return 0;
}

/* listen_one - listener i: its socket, or -1 for a TCP address left empty */
static int listen_one(struct mb_service_run *run, size_t i, struct mb_error_text *error_r)
{
	const struct mb_service_listener *l = &run->service->listeners[i];
	const char *address = context_string(run->ctx, &l->address);
	char why[sizeof(error_r->text) - 64];
	int fd;

	if (l->kind == MB_SERVICE_TCP) {
		if (address[0] == '\0')
			return 0;
		fd = mb_listen_tcp(address, why, sizeof(why));
		if (fd < 0)
			return mb_set_error(error_r, "%s: %s", l->address.key, why);
	} else {
		if (l->make_directory)
			mb_make_socket_dir(address);
		fd = mb_listen_unix(address, l->mode.key != NULL ? context_mode(run->ctx, &l->mode) : 0600,
				    run->gids[i], error_r->text, sizeof(error_r->text));
		if (fd < 0)
			return -1;
	}
	run->listen_fds[i] = fd;
	return 0;
}

int mb_service_listen(struct mb_service_run *run, struct mb_error_text *error_r)
{
	const struct mb_service *service = run->service;

	for (size_t i = 0; i < MB_SERVICE_MAX_LISTENERS; i++)
		run->listen_fds[i] = -1;
	if (service->listener_count > MB_SERVICE_MAX_LISTENERS) {
		mb_set_error(error_r, "%s has %zu listeners, more than the %d the skeleton holds",
			     service->name, service->listener_count, MB_SERVICE_MAX_LISTENERS);
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < service->listener_count; i++) {
		if (listen_one(run, i, error_r) < 0) {
			/* the sockets made so far stay: they are replaced at the next start */
			for (size_t j = 0; j < i; j++)
				if (run->listen_fds[j] >= 0)
					close(run->listen_fds[j]);
			for (size_t j = 0; j < i; j++)
				run->listen_fds[j] = -1;
			return EX_OSERR;
		}
	}
	return 0;
}

void mb_service_close_listeners(struct mb_service_run *run)
{
	const struct mb_service *service = run->service;

	for (size_t i = 0; i < service->listener_count && i < MB_SERVICE_MAX_LISTENERS; i++) {
		if (run->listen_fds[i] < 0)
			continue;
		close(run->listen_fds[i]);
		run->listen_fds[i] = -1;
		/* may fail after the drop; a stale socket is replaced at start */
		if (service->listeners[i].kind == MB_SERVICE_UNIX)
			unlink(context_string(run->ctx, &service->listeners[i].address));
	}
}

int mb_service_reload(struct mb_service_run *run)
{
	struct mb_error_text error;

	if (mb_context_reload(&run->ctx, run->context_path, &error) < 0) {
		mb_error("reload refused, keeping the running settings: %s", error.text);
		return -1;
	}
	/* the old context is gone: the daemon takes the new one first */
	if (run->service->reloaded != NULL)
		run->service->reloaded(run);
	mb_info("context %s reloaded", run->context_path);
	return 0;
}

bool mb_service_reload_if_requested(struct mb_service_run *run)
{
	if (!mb_take_reload_request())
		return false;
	mb_service_reload(run);
	return true;
}

/* start - steps 2 to 8 of the header: up to the daemon's init. 0, or
   the exit status with error_r */
static int start(struct mb_service_run *run, struct mb_error_text *error_r)
{
	const struct mb_service *service = run->service;
	int status;

	if (mb_context_load(run->context_path, &run->ctx, error_r->text, sizeof(error_r->text)) < 0)
		return EX_CONFIG;
	if ((status = mb_service_find_groups(run, error_r)) != 0)
		return status;
	if (service->setup != NULL && (status = service->setup(run, error_r)) != 0)
		return status;
	if ((status = mb_service_listen(run, error_r)) != 0)
		return status;
	if (mb_drop_privileges(run->ctx->daemon_user, error_r->text, sizeof(error_r->text)) < 0)
		return EX_NOPERM;
	if (!service->own_signals && mb_signals_install() < 0) {
		mb_set_error(error_r, "cannot install the signal handlers: %s", strerror(errno));
		return EX_OSERR;
	}
	if (service->init != NULL && (status = service->init(run, error_r)) != 0)
		return status;
	return 0;
}

int mb_service_main(const struct mb_service *service, void *daemon, int argc, char **argv)
{
	struct mb_service_run run = { .service = service, .daemon = daemon };
	struct mb_error_text error;
	const char *context_path;
	int status;

	for (size_t i = 0; i < MB_SERVICE_MAX_LISTENERS; i++) {
		run.gids[i] = -1;
		run.listen_fds[i] = -1;
	}
	status = parse_options(service, argc, argv, &context_path);
	if (status != SERVICE_GO_ON)
		return status;
	run.context_path = mb_context_path(context_path);
	status = start(&run, &error);
	if (status != 0) {
		mb_error("%s", error.text);
		mb_context_free(&run.ctx);
		return status;
	}
	status = service->run(&run);
	mb_info("stopping");
	if (service->shutdown != NULL)
		service->shutdown(&run);
	mb_service_close_listeners(&run);
	mb_context_free(&run.ctx);
	return status;
}
