/* store-fixture.h - a fresh LMDB store in a temporary directory, for tests */
#ifndef MAILBAG_TEST_STORE_FIXTURE_H
#define MAILBAG_TEST_STORE_FIXTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "store.h"

struct store_fixture {
	char dir[64];
	char location[160];
	struct mb_store *store;
	pid_t redis_pid; /* a private redis-server, or 0 */
};

static inline int store_fixture_setup(void **state)
{
	struct store_fixture *f = calloc(1, sizeof(*f));
	char error[512];

	snprintf(f->dir, sizeof(f->dir), "/tmp/mailbag-unit-XXXXXX");
	if (f == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->location, sizeof(f->location), "lmdb:%s/store", f->dir);
	if (mb_store_open(f->location, MB_STORE_CREATE, &f->store, error, sizeof(error)) < 0) {
		fprintf(stderr, "store fixture: %s\n", error);
		return -1;
	}
	*state = f;
	return 0;
}

/* fixture_redis_answers - the server at path answers PING: its socket
   exists from bind() on, before it listens (and Redis 8 may still be
   loading), so the socket alone is no sign that it is ready */
static inline bool fixture_redis_answers(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char reply[16] = "";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ready = false;

	if (fd < 0 || strlen(path) >= sizeof(addr.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof(reply) - 1) > 0)
		ready = strncmp(reply, "+PONG", 5) == 0;
	close(fd);
	return ready;
}

/* fixture_start_redis - the real Debian redis-server, private: a unix
   socket in f->dir, no TCP, no persistence. 0 or -1. */
static inline int fixture_start_redis(struct store_fixture *f)
{
	char socket_path[128];
	struct stat st;

	snprintf(socket_path, sizeof(socket_path), "%s/redis.sock", f->dir);
	unlink(socket_path);
	f->redis_pid = fork();
	if (f->redis_pid < 0)
		return -1;
	if (f->redis_pid == 0) {
		freopen("/dev/null", "w", stdout);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", socket_path,
		       "--save", "", "--appendonly", "no", "--dir", f->dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (stat(socket_path, &st) == 0 && fixture_redis_answers(socket_path))
			return 0;
		if (waitpid(f->redis_pid, NULL, WNOHANG) == f->redis_pid) {
			fprintf(stderr, "redis-server did not start (is the redis-server package installed?)\n");
			f->redis_pid = 0;
			return -1;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	return -1;
}

static inline void fixture_stop_redis(struct store_fixture *f)
{
	if (f->redis_pid > 0) {
		kill(f->redis_pid, SIGTERM);
		waitpid(f->redis_pid, NULL, 0);
	}
	f->redis_pid = 0;
}

/* the same fixture on Redis: every store test runs on both backends */
static inline int store_fixture_setup_redis(void **state)
{
	struct store_fixture *f = calloc(1, sizeof(*f));
	char error[512];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mailbag-unit-XXXXXX");
	if (mkdtemp(f->dir) == NULL || fixture_start_redis(f) < 0)
		return -1;
	snprintf(f->location, sizeof(f->location), "unix:%s/redis.sock", f->dir);
	if (mb_store_open(f->location, MB_STORE_CREATE, &f->store, error, sizeof(error)) < 0) {
		fprintf(stderr, "store fixture: %s\n", error);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int store_fixture_teardown(void **state)
{
	struct store_fixture *f = *state;
	char cmd[128];

	mb_store_close(&f->store);
	fixture_stop_redis(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static inline void fixture_add_user(struct mb_store *store, const char *address, bool enabled)
{
	struct mb_user user = { .quota_bytes = 1000, .enabled = enabled, .created = 1 };
	char error[512];

	snprintf(user.address, sizeof(user.address), "%s", address);
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/var/vmail/x";
	if (mb_store_user_add(store, &user, error, sizeof(error)) != 0) {
		fprintf(stderr, "fixture_add_user %s: %s\n", address, error);
		abort();
	}
}

/* A user in the middle of a move from node a to node b */
static inline void fixture_add_moving_user(struct mb_store *store, const char *address,
					   enum mb_move_phase phase, int64_t until)
{
	struct mb_user user = { .quota_bytes = 1000, .enabled = true, .created = 1 };
	char error[512];

	snprintf(user.address, sizeof(user.address), "%s", address);
	user.password_hash = (char *)"{SHA512-CRYPT}$6$x";
	user.home = (char *)"/var/vmail/x";
	user.move = (struct mb_user_move){ .phase = phase, .from = "a", .to = "b", .started = 1,
					   .until = until };
	if (mb_store_user_add(store, &user, error, sizeof(error)) != 0) {
		fprintf(stderr, "fixture_add_moving_user %s: %s\n", address, error);
		abort();
	}
}

/* Write a value no decoder accepts under key, straight into LMDB: the
   store's failure path, not a fake of it. LMDB wants one environment per
   file and process (with 0.9.31, closing a second one on the same file
   makes the first one's next read fail with EINVAL), so the store under
   test is closed first and reopened after: f->store changes. */
static inline void fixture_damage_record(struct store_fixture *f, const char *table, const char *key)
{
	char path[128], error[512];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key };
	MDB_val v = { 5, (void *)"{nope" };
	int ret;

	if (strncmp(f->location, "lmdb:", 5) != 0) {
		fprintf(stderr, "fixture_damage_record: %s is not an LMDB store\n", f->location);
		abort();
	}
	mb_store_close(&f->store);
	snprintf(path, sizeof(path), "%s/store", f->dir);
	if ((ret = mdb_env_create(&env)) != 0 || (ret = mdb_env_set_maxdbs(env, 8)) != 0 ||
	    (ret = mdb_env_open(env, path, 0, 0660)) != 0 || (ret = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (ret = mdb_dbi_open(txn, table, 0, &dbi)) != 0 || (ret = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
	    (ret = mdb_txn_commit(txn)) != 0) {
		fprintf(stderr, "fixture_damage_record: LMDB refused %s: %s\n", path, mdb_strerror(ret));
		abort();
	}
	mdb_env_close(env);
	if (mb_store_open(f->location, MB_STORE_CREATE, &f->store, error, sizeof(error)) < 0) {
		fprintf(stderr, "fixture_damage_record: reopening the store: %s\n", error);
		abort();
	}
}

#endif
