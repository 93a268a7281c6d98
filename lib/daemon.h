/* daemon.h - start-up helpers shared by the daemons (see daemon.c). */
#ifndef MAILBAG_DAEMON_H
#define MAILBAG_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* Make a unix listening socket at path: mode, and group (or -1 to keep
   root's). A stale socket at path is replaced; anything else is refused.
   Non-blocking, close-on-exec. Returns the fd or -1 with error. */
int mb_listen_unix(const char *path, unsigned int mode, long gid,
		   char *error, size_t error_size);

/* Listen on TCP at "IP:PORT" or "[IPv6]:PORT" (non-blocking). The fd,
   or -1 with error. */
int mb_listen_tcp(const char *address, char *error, size_t error_size);

/* Make the directory a socket goes in (one level, 0755), as systemd's
   RuntimeDirectory would; a failure is logged as a warning. */
void mb_make_socket_dir(const char *socket_path);

/* Become user (and its groups) for good, when running as root. 0, or -1
   with error saying what to do. */
int mb_drop_privileges(const char *user, char *error, size_t error_size);

/* A daemon's store, opened for lookups (and state) on demand: *store
   when open; otherwise one attempt at most a second (logged, the reason
   in error), NULL while it fails. */
struct mb_store *mb_daemon_store(const char *location, struct mb_store **store, time_t *last_attempt,
				 char *error, size_t error_size);
/* The same, with the store's read cache of cache_entries entries (0:
   none; context store_cache_entries) turned on when it is opened. For
   the single-threaded daemons (policyd, mailbag-lmtpd). */
struct mb_store *mb_daemon_store_cached(const char *location, uint64_t cache_entries,
					struct mb_store **store, time_t *last_attempt,
					char *error, size_t error_size);

/* SIGTERM and SIGINT ask to stop, SIGHUP to reload; SIGPIPE ignored.
   Without SA_RESTART, so a waiting epoll_wait returns. 0 or -1. */
int mb_signals_install(void);
bool mb_stop_requested(void);
void mb_request_stop(void);
/* Whether SIGHUP arrived since the last call. */
bool mb_take_reload_request(void);

#endif
