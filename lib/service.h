/* service.h - the one skeleton every mailbag daemon fills in (see service.c). */
#ifndef MAILBAG_SERVICE_H
#define MAILBAG_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "error-text.h"

#define MB_SERVICE_MAX_LISTENERS 8

/* A setting of the context: the key it is read from (named in messages)
   and where struct mb_context holds it (offsetof). key NULL: not used. */
struct mb_service_key {
	const char *key;
	size_t offset;
};

enum mb_service_listener_kind {
	MB_SERVICE_UNIX, /* a unix socket: path, group (or group_id), mode */
	MB_SERVICE_TCP,  /* "IP:PORT" or "[IPv6]:PORT"; "" is no listener */
};

/* One listening socket, described by the context keys that hold it. */
struct mb_service_listener {
	enum mb_service_listener_kind kind;
	struct mb_service_key address;  /* char *: the socket's path, or the TCP address */
	struct mb_service_key group;    /* unix, char *: the group that may connect (looked up as root) */
	struct mb_service_key group_id; /* unix, long: a gid instead of group (vmail_gid) */
	struct mb_service_key mode;     /* unix, unsigned int: the socket's mode */
	bool make_directory;            /* unix: make the socket's directory first, as
					   systemd's RuntimeDirectory would */
};

struct mb_service_run;

/* What a daemon gives the skeleton. Every callback but run may be NULL.
   setup and init return 0 to go on, or the exit status with error_r
   saying why (the skeleton logs it and exits). */
struct mb_service {
	const char *name;  /* "mailbag-policyd": the log's name, -V's */
	const char *usage; /* -h's text (stdout); after a bad option on stderr */
	const struct mb_service_listener *listeners;
	size_t listener_count;
	/* the daemon's own loop answers the signals (libmilter's smfi_main):
	   the skeleton installs none and the daemon never asks for a reload */
	bool own_signals;
	/* as root, after the context is loaded and the listeners' groups
	   found, before any listener is made */
	int (*setup)(struct mb_service_run *run, struct mb_error_text *error_r);
	/* after the privileges are dropped and the signals installed */
	int (*init)(struct mb_service_run *run, struct mb_error_text *error_r);
	/* serve until asked to stop; returns the exit status */
	int (*run)(struct mb_service_run *run);
	/* after a reload put a new run->ctx in place of the old (freed) one */
	void (*reloaded)(struct mb_service_run *run);
	/* after run returned, before the listeners are closed and removed */
	void (*shutdown)(struct mb_service_run *run);
};

/* The running service, handed to every callback. */
struct mb_service_run {
	const struct mb_service *service;
	void *daemon;             /* the daemon's own state, as given to mb_service_main */
	const char *context_path; /* the context file (-c, $MAILBAG_CONTEXT or the default) */
	struct mb_context *ctx;   /* the running settings, owned here; a reload replaces it */
	long gids[MB_SERVICE_MAX_LISTENERS];       /* per listener; -1: keep root's group */
	int listen_fds[MB_SERVICE_MAX_LISTENERS];  /* per listener, in its order; -1: none */
};

/* The whole life of a daemon: options, context, listeners, privileges,
   signals, the daemon's callbacks, and at the end the listeners closed
   and their sockets removed. Returns the exit status for main:
   0, 64 (bad option), EX_CONFIG (context, group), EX_OSERR (socket),
   EX_NOPERM (daemon_user), or what a callback returned. */
int mb_service_main(const struct mb_service *service, void *daemon, int argc, char **argv);

/* For the daemon's loop, at each tick: when SIGHUP arrived since the
   last call, read the context again (mb_context_reload: the keys fixed
   at start keep their running values) and call reloaded; a file that
   does not load keeps the running settings (logged). Whether SIGHUP
   had arrived. */
bool mb_service_reload_if_requested(struct mb_service_run *run);

/* The reload itself (mb_service_reload_if_requested without the
   signal). 0, or -1 when the file did not load (logged). */
int mb_service_reload(struct mb_service_run *run);

/* The steps of mb_service_main, for its unit test. */

/* The listeners' groups, as root (run->gids). 0, or EX_CONFIG with
   error_r naming the key whose group does not exist. */
int mb_service_find_groups(struct mb_service_run *run, struct mb_error_text *error_r);
/* Every listener made (run->listen_fds), after mb_service_find_groups.
   0, or EX_OSERR with error_r (the listeners made so far are closed). */
int mb_service_listen(struct mb_service_run *run, struct mb_error_text *error_r);
/* Close the listeners and remove their unix sockets. */
void mb_service_close_listeners(struct mb_service_run *run);

#endif
