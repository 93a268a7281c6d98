/* daemon.c - what every mailbag daemon does at start
 *
 * SUMMARY
 *	Listening on a unix socket with the right mode and group (a stale
 *	socket of a previous run is replaced, anything else refused), the
 *	socket's directory, and dropping root for the context's daemon_user
 *	for good; the signals a daemon answers (SIGTERM and SIGINT stop it,
 *	SIGHUP asks for a reload, SIGPIPE is ignored). The service skeleton
 *	(service.c) puts them together for every daemon.
 */
#include "daemon.h"
#include "log.h"
#include "redis-location.h"
#include "sockaddr.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int mb_listen_unix(const char *path, unsigned int mode, long gid,
		       char *error, size_t size)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(error, size, "socket path %s is longer than %zu bytes", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(error, size, "%s exists and is not a socket; remove it or choose another socket path", path);
			return -1;
		}
		unlink(path); /* stale socket of a previous run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(error, size, "socket: %s", strerror(errno));
		return -1;
	}
	mode_t old_mask = umask(0777 & ~mode);
	int ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (ret < 0 || chmod(path, mode) < 0 ||
	    (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) < 0) ||
	    listen(fd, 128) < 0) {
		snprintf(error, size, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int mb_listen_tcp(const char *address, char *error, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (address[0] == '/' || mb_sockaddr_parse(address, &ss, &len) < 0) {
		snprintf(error, size, "%s is not IP:PORT or [IPv6]:PORT", address);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		snprintf(error, size, "cannot listen on %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* mb_make_socket_dir - make the directory a socket goes in (one level,
   0755), as systemd's RuntimeDirectory would: /run/mailbag */
void mb_make_socket_dir(const char *socket_path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", socket_path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		mb_warning("cannot create %s: %s", dir, strerror(errno));
}

/* clear_capabilities - no capability left in any set, the inheritable and
   ambient ones too: setuid() empties only the effective and permitted sets,
   and systemd 257 (Debian 13) starts a unit with its bounding set
   inheritable. glibc has no wrapper for capset(2); libcap is not worth a
   dependency for one call. */
static int clear_capabilities(char *error, size_t size)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];

	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &header, none) < 0) {
		snprintf(error, size, "cannot clear the capabilities: capset: %s", strerror(errno));
		return -1;
	}
	/* EINVAL: a kernel before 4.3 has no ambient set */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(error, size, "cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* mb_drop_privileges - become daemon_user (and its groups) for good, with
   no capability left */
int mb_drop_privileges(const char *user, char *error, size_t size)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(error, size, "daemon_user '%s' does not exist; create it (useradd --system %s) or set daemon_user in the context", user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(error, size, "daemon_user '%s' is root; choose an unprivileged user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(error, size, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(error, size, "could regain root after dropping to %s", user);
		return -1;
	}
	return clear_capabilities(error, size);
}

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static void on_reload_signal(int signo)
{
	(void)signo;
	reload_requested = 1;
}

int mb_signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: epoll_wait must return EINTR */
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_reload_signal;
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

bool mb_stop_requested(void)
{
	return stop_requested != 0;
}

void mb_request_stop(void)
{
	stop_requested = 1;
}

bool mb_take_reload_request(void)
{
	bool requested = reload_requested != 0;

	reload_requested = 0;
	return requested;
}

struct mb_store *mb_daemon_store(const char *location, struct mb_store **store, time_t *last_attempt,
				 char *error, size_t error_size)
{
	time_t now;

	if (*store != NULL)
		return *store;
	now = time(NULL);
	if (now == *last_attempt)
		return NULL;
	*last_attempt = now;
	if (mb_store_open(location, MB_STORE_READ, store, error, error_size) < 0) {
		mb_error("cannot open store: %s", error);
		return NULL;
	}
	char shown[600];
	mb_store_location_redact(location, shown, sizeof(shown));
	mb_info("store %s open", shown);
	return *store;
}

struct mb_store *mb_daemon_store_cached(const char *location, uint64_t cache_entries,
					struct mb_store **store, time_t *last_attempt,
					char *error, size_t error_size)
{
	bool was_open = *store != NULL;
	struct mb_store *s = mb_daemon_store(location, store, last_attempt, error, error_size);

	/* without its cache the store still answers, a round trip a lookup */
	if (s != NULL && !was_open && cache_entries > 0 &&
	    mb_store_enable_cache(s, (size_t)cache_entries, error, error_size) < 0)
		mb_warning("store read cache off: %s", error);
	return s;
}
