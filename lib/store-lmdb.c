/* store-lmdb.c - the embedded store backend, on LMDB
 *
 * SUMMARY
 *	One LMDB environment (a directory holding data.mdb and lock.mdb)
 *	with three named databases. Any number of processes read at once
 *	without locks; writers take LMDB's own write lock, so `mailbag` can
 *	change the store while policyd and Dovecot read it, and a change is
 *	visible to the next lookup of every reader (each lookup takes a fresh
 *	snapshot: no reload, no cache to flush).
 *
 * SECURITY
 *	The store holds password hashes. It is created with mode 0660 (the
 *	directory 0770) and open() refuses a data file that others may read
 *	or write. Readers need write access to lock.mdb, which is why the
 *	daemons share the store's group rather than owning it.
 *
 * STATE
 *	Counters and greylist entries live in a second environment beside
 *	the tables, DIR/state.mdb (with state.mdb-lock), opened on first
 *	use and always writable, so a daemon that only reads the tables can
 *	still count. It is opened MDB_NOSYNC and flushed by
 *	state_maintain() about once a second: an fsync per RCPT would cost
 *	more than the check itself, and a host crash loses at most the last
 *	second of counts (LMDB stays consistent; only durability is given
 *	up). Each value is "EXPIRES VALUE"; expired entries read as absent
 *	and are swept a slice at a time. The file holds no secrets, but it
 *	holds mailbox usage and last logins besides counters: do not delete
 *	it (`mailbag expire` refuses to act on a state with no last login).
 */
#include "store-backend.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LMDB_MAP_SIZE ((size_t)1 << 30) /* 1 GiB of address space */
#define LMDB_STATE_MAP_SIZE ((size_t)1 << 29) /* 512 MiB: millions of entries */
#define STATE_SWEEP_SLICE 2000         /* entries examined per maintain */
/* the store's directory and the longest name joined to it here */
#define LMDB_FILE_SIZE (PATH_MAX + sizeof("/state.mdb"))

static const char *const table_names[MB_TABLE_COUNT] = {
	"domains", "users", "aliases"
};

struct lmdb_state {
	MDB_env *env;
	MDB_dbi dbi[MB_TABLE_COUNT];
	MDB_txn *read_txn;  /* kept reset between lookups, renewed per lookup */
	MDB_txn *write_txn; /* between begin and commit/abort */
	char path[PATH_MAX];
	/* the state environment, opened on first use */
	MDB_env *state_env;
	MDB_dbi state_dbi;
	MDB_txn *state_read_txn;
	char sweep_from[MB_STATE_KEY_MAX + 1]; /* where the next sweep starts */
};

static int state_open(struct lmdb_state *st, char *error, size_t size);

static int lmdb_fail(char *error, size_t size, const char *what,
		     const char *path, int rc)
{
	snprintf(error, size, "LMDB store %s: %s: %s", path, what,
		 rc == MDB_MAP_FULL ? "the store is full (1 GiB map)" : mdb_strerror(rc));
	return -1;
}

/* check_modes - refuse a store that people other than its group can read */
static int check_modes(const char *path, char *error, size_t size)
{
	char file[LMDB_FILE_SIZE];
	struct stat st;

	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if (stat(file, &st) < 0) {
		if (errno == ENOENT)
			snprintf(error, size, "no store at %s (run 'mailbag init')", path);
		else
			snprintf(error, size, "cannot stat %s: %s", file, strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IRWXO) != 0) {
		snprintf(error, size, "refusing store %s: mode %04o lets others read password hashes; run 'chmod o-rwx %s'",
			 file, (unsigned int)(st.st_mode & 07777), file);
		return -1;
	}
	return 0;
}

static int open_databases(struct lmdb_state *st, bool create,
			  char *error, size_t size)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, create ? 0 : MDB_RDONLY, &txn);

	if (rc != 0)
		return lmdb_fail(error, size, "begin", st->path, rc);
	for (int i = 0; i < MB_TABLE_COUNT; i++) {
		rc = mdb_dbi_open(txn, table_names[i], create ? MDB_CREATE : 0, &st->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_NOTFOUND) {
				snprintf(error, size, "LMDB store %s has no '%s' table (not made by 'mailbag init'?)",
					 st->path, table_names[i]);
				return -1;
			}
			return lmdb_fail(error, size, "open table", st->path, rc);
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return lmdb_fail(error, size, "commit", st->path, rc);
	return 0;
}

static void lmdb_close(void *state)
{
	struct lmdb_state *st = state;

	if (st == NULL)
		return;
	if (st->write_txn != NULL)
		mdb_txn_abort(st->write_txn);
	if (st->read_txn != NULL)
		mdb_txn_abort(st->read_txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	if (st->state_read_txn != NULL)
		mdb_txn_abort(st->state_read_txn);
	if (st->state_env != NULL) {
		mdb_env_sync(st->state_env, 1);
		mdb_env_close(st->state_env);
	}
	free(st);
}

static int lmdb_open(const char *location, bool writable, bool create,
		     void **state_r, char *error, size_t size)
{
	const char *path = location + strlen("lmdb:");
	struct lmdb_state *st;
	int rc, dead;

	*state_r = NULL;
	if (create && mkdir(path, 0770) < 0 && errno != EEXIST) {
		snprintf(error, size, "cannot create store directory %s: %s", path, strerror(errno));
		return -1;
	}
	if (!create && check_modes(path, error, size) < 0)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(error, size, "out of memory");
		return -1;
	}
	snprintf(st->path, sizeof(st->path), "%s", path);
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, LMDB_MAP_SIZE)) != 0) {
		lmdb_close(st);
		return lmdb_fail(error, size, "create environment", path, rc);
	}
	/* group members read and lock: 0660 whatever the caller's umask */
	mode_t old_mask = umask(007);
	rc = mdb_env_open(st->env, path, MDB_NOTLS | (writable ? 0 : MDB_RDONLY), 0660);
	umask(old_mask);
	if (rc != 0) {
		lmdb_fail(error, size, "open", path, rc);
		lmdb_close(st);
		return -1;
	}
	/* slots of readers that died (a killed daemon) are freed here */
	mdb_reader_check(st->env, &dead);
	if (open_databases(st, create, error, size) < 0) {
		lmdb_close(st);
		return -1;
	}
	/* made with the store, so that `mailbag init` gives it to the
	   daemons' user with the rest */
	if (create && state_open(st, error, size) < 0) {
		lmdb_close(st);
		return -1;
	}
	*state_r = st;
	return 0;
}

/* current_txn - the write transaction, or a renewed read snapshot */
static int current_txn(struct lmdb_state *st, MDB_txn **txn_r,
		       char *error, size_t size)
{
	int rc;

	if (st->write_txn != NULL) {
		*txn_r = st->write_txn;
		return 0;
	}
	if (st->read_txn == NULL)
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->read_txn);
	else
		rc = mdb_txn_renew(st->read_txn);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map: adopt the new size */
		mdb_env_set_mapsize(st->env, 0);
		rc = st->read_txn == NULL ?
			mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->read_txn) :
			mdb_txn_renew(st->read_txn);
	}
	if (rc != 0)
		return lmdb_fail(error, size, "begin read", st->path, rc);
	*txn_r = st->read_txn;
	return 0;
}

static void release_txn(struct lmdb_state *st, MDB_txn *txn)
{
	if (txn == st->read_txn)
		mdb_txn_reset(txn);
}

static int lmdb_get(void *state, enum mb_table table, const char *key,
		    char **value_r, size_t *len_r, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_val k = { strlen(key), (void *)key }, v;
	MDB_txn *txn;
	int rc;

	*value_r = NULL;
	if (k.mv_size == 0 || k.mv_size > 511) /* LMDB's default key limit */
		return 0;
	if (current_txn(st, &txn, error, size) < 0)
		return -1;
	rc = mdb_get(txn, st->dbi[table], &k, &v);
	if (rc == MDB_NOTFOUND) {
		release_txn(st, txn);
		return 0;
	}
	if (rc != 0) {
		release_txn(st, txn);
		return lmdb_fail(error, size, "get", st->path, rc);
	}
	*value_r = malloc(v.mv_size + 1);
	if (*value_r == NULL) {
		release_txn(st, txn);
		snprintf(error, size, "out of memory");
		return -1;
	}
	memcpy(*value_r, v.mv_data, v.mv_size);
	(*value_r)[v.mv_size] = '\0';
	*len_r = v.mv_size;
	release_txn(st, txn);
	return 1;
}

static int lmdb_begin(void *state, char *error, size_t size)
{
	struct lmdb_state *st = state;
	int rc = mdb_txn_begin(st->env, NULL, 0, &st->write_txn);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->env, 0);
		rc = mdb_txn_begin(st->env, NULL, 0, &st->write_txn);
	}
	if (rc != 0) {
		st->write_txn = NULL;
		return lmdb_fail(error, size, "begin write", st->path, rc);
	}
	return 0;
}

static int lmdb_put(void *state, enum mb_table table, const char *key,
		    const char *value, size_t len, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)value };
	int rc = mdb_put(st->write_txn, st->dbi[table], &k, &v, 0);

	return rc == 0 ? 0 : lmdb_fail(error, size, "put", st->path, rc);
}

static int lmdb_del(void *state, enum mb_table table, const char *key,
		    char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_val k = { strlen(key), (void *)key };
	int rc = mdb_del(st->write_txn, st->dbi[table], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : lmdb_fail(error, size, "delete", st->path, rc);
}

static int lmdb_commit(void *state, char *error, size_t size)
{
	struct lmdb_state *st = state;
	int rc = mdb_txn_commit(st->write_txn);

	st->write_txn = NULL;
	return rc == 0 ? 0 : lmdb_fail(error, size, "commit", st->path, rc);
}

static void lmdb_abort(void *state)
{
	struct lmdb_state *st = state;

	if (st->write_txn != NULL)
		mdb_txn_abort(st->write_txn);
	st->write_txn = NULL;
}

static int lmdb_foreach(void *state, enum mb_table table, const char *prefix,
			mb_kv_cb *cb, void *context, char *error, size_t size)
{
	struct lmdb_state *st = state;
	size_t prefix_len = strlen(prefix);
	MDB_val k = { prefix_len, (void *)prefix }, v;
	MDB_cursor *cursor;
	MDB_txn *txn;
	int rc, ret = 0;

	if (current_txn(st, &txn, error, size) < 0)
		return -1;
	rc = mdb_cursor_open(txn, st->dbi[table], &cursor);
	if (rc != 0) {
		release_txn(st, txn);
		return lmdb_fail(error, size, "cursor", st->path, rc);
	}
	rc = mdb_cursor_get(cursor, &k, &v, prefix_len == 0 ? MDB_FIRST : MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0)
			break;
		if (cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, context) != 0)
			break;
		rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		ret = lmdb_fail(error, size, "iterate", st->path, rc);
	mdb_cursor_close(cursor);
	release_txn(st, txn);
	return ret;
}

/* state_open - the state environment, opened (or created) on first use */
static int state_open(struct lmdb_state *st, char *error, size_t size)
{
	char file[LMDB_FILE_SIZE];
	MDB_txn *txn;
	int rc;

	if (st->state_env != NULL)
		return 0;
	snprintf(file, sizeof(file), "%s/state.mdb", st->path);
	if ((rc = mdb_env_create(&st->state_env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->state_env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->state_env, LMDB_STATE_MAP_SIZE)) != 0)
		goto failed;
	mode_t old_mask = umask(007);
	rc = mdb_env_open(st->state_env, file, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0660);
	umask(old_mask);
	if (rc != 0)
		goto failed;
	int dead;
	mdb_reader_check(st->state_env, &dead);
	if ((rc = mdb_txn_begin(st->state_env, NULL, 0, &txn)) != 0)
		goto failed;
	if ((rc = mdb_dbi_open(txn, "state", MDB_CREATE, &st->state_dbi)) != 0) {
		mdb_txn_abort(txn);
		goto failed;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto failed;
	return 0;
failed:
	if (st->state_env != NULL)
		mdb_env_close(st->state_env);
	st->state_env = NULL;
	return lmdb_fail(error, size, "open state.mdb", st->path, rc);
}

static bool state_exists(const struct lmdb_state *st)
{
	char file[LMDB_FILE_SIZE];

	snprintf(file, sizeof(file), "%s/state.mdb", st->path);
	return access(file, F_OK) == 0;
}

/* state_decode - split "EXPIRES VALUE"; false for a damaged entry */
static bool state_decode(const MDB_val *v, int64_t *expires_r, const char **value_r,
			 size_t *len_r)
{
	const char *p = v->mv_data, *end = p + v->mv_size;
	int64_t expires = 0;

	if (p == end)
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (expires > (INT64_MAX - 9) / 10)
			return false;
		expires = expires * 10 + (*p - '0');
	}
	if (p == end || *p != ' ')
		return false;
	*expires_r = expires;
	*value_r = p + 1;
	*len_r = (size_t)(end - p - 1);
	return true;
}

static bool state_key_ok(const char *key, MDB_val *k)
{
	k->mv_size = strlen(key);
	k->mv_data = (void *)key;
	return k->mv_size > 0 && k->mv_size <= MB_STATE_KEY_MAX;
}

static int lmdb_state_get(void *state, const char *key, int64_t now, char *value,
			  size_t value_size, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_val k, v;
	int64_t expires;
	const char *data;
	size_t len;
	int rc;

	if (!state_key_ok(key, &k))
		return 0;
	/* a reader does not create the state: a root-run `mailbag` would
	   leave files the daemons could not open */
	if (st->state_env == NULL && !state_exists(st))
		return 0;
	if (state_open(st, error, size) < 0)
		return -1;
	rc = st->state_read_txn == NULL ?
		mdb_txn_begin(st->state_env, NULL, MDB_RDONLY, &st->state_read_txn) :
		mdb_txn_renew(st->state_read_txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->state_env, 0);
		rc = mdb_txn_renew(st->state_read_txn);
	}
	if (rc != 0)
		return lmdb_fail(error, size, "begin state read", st->path, rc);
	rc = mdb_get(st->state_read_txn, st->state_dbi, &k, &v);
	int ret = 0;
	if (rc == 0 && state_decode(&v, &expires, &data, &len) && expires > now) {
		if (len >= value_size)
			len = value_size - 1;
		memcpy(value, data, len);
		value[len] = '\0';
		ret = 1;
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		ret = lmdb_fail(error, size, "state get", st->path, rc);
	}
	mdb_txn_reset(st->state_read_txn);
	return ret;
}

static int state_write_begin(struct lmdb_state *st, MDB_txn **txn_r, char *error, size_t size)
{
	int rc;

	if (state_open(st, error, size) < 0)
		return -1;
	rc = mdb_txn_begin(st->state_env, NULL, 0, txn_r);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->state_env, 0);
		rc = mdb_txn_begin(st->state_env, NULL, 0, txn_r);
	}
	return rc == 0 ? 0 : lmdb_fail(error, size, "begin state write", st->path, rc);
}

static int state_write(struct lmdb_state *st, MDB_txn *txn, MDB_val *k, int64_t expires,
		       const char *value, char *error, size_t size)
{
	char record[MB_STATE_VALUE_MAX + 32];
	int n = snprintf(record, sizeof(record), "%" PRId64 " %s", expires < 0 ? 0 : expires, value);
	MDB_val v = { (size_t)n, record };
	int rc;

	if (n < 0 || (size_t)n >= sizeof(record)) {
		snprintf(error, size, "state value for '%.100s' too long", (const char *)k->mv_data);
		return -1;
	}
	rc = mdb_put(txn, st->state_dbi, k, &v, 0);
	return rc == 0 ? 0 : lmdb_fail(error, size, "state put", st->path, rc);
}

static int state_commit(struct lmdb_state *st, MDB_txn *txn, char *error, size_t size)
{
	int rc = mdb_txn_commit(txn);

	return rc == 0 ? 0 : lmdb_fail(error, size, "state commit", st->path, rc);
}

static int lmdb_state_put(void *state, const char *key, const char *value, int64_t expires,
			  char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_txn *txn;
	MDB_val k;

	if (!state_key_ok(key, &k)) {
		snprintf(error, size, "state key of %zu bytes (1 to %d allowed)", strlen(key), MB_STATE_KEY_MAX);
		return -1;
	}
	if (state_write_begin(st, &txn, error, size) < 0)
		return -1;
	if (state_write(st, txn, &k, expires, value, error, size) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return state_commit(st, txn, error, size);
}

static int lmdb_state_add(void *state, const char *key, int64_t delta, int64_t expires,
			  int64_t now, int64_t *value_r, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_txn *txn;
	MDB_val k, v;
	int64_t count = 0, old_expires;
	const char *data;
	size_t len;
	char text[32];

	if (!state_key_ok(key, &k)) {
		snprintf(error, size, "state key of %zu bytes (1 to %d allowed)", strlen(key), MB_STATE_KEY_MAX);
		return -1;
	}
	if (state_write_begin(st, &txn, error, size) < 0)
		return -1;
	int rc = mdb_get(txn, st->state_dbi, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return lmdb_fail(error, size, "state get", st->path, rc);
	}
	/* a live, readable counter goes on; anything else starts again */
	if (rc == 0 && state_decode(&v, &old_expires, &data, &len) && old_expires > now &&
	    len < sizeof(text)) {
		memcpy(text, data, len);
		text[len] = '\0';
		count = strtoll(text, NULL, 10);
		expires = old_expires;
	}
	count += delta;
	snprintf(text, sizeof(text), "%" PRId64, count);
	if (state_write(st, txn, &k, expires, text, error, size) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	*value_r = count;
	return state_commit(st, txn, error, size);
}

/* lmdb_state_maintain - delete the expired entries among the next slice
   of keys (wrapping around), then flush the environment to disk */
static int lmdb_state_maintain(void *state, int64_t now, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_cursor *cursor;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, examined = 0;

	if (st->state_env == NULL)
		return 0; /* nothing written yet by this process */
	if (state_write_begin(st, &txn, error, size) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, st->state_dbi, &cursor)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(error, size, "state cursor", st->path, rc);
	}
	k.mv_size = strlen(st->sweep_from);
	k.mv_data = st->sweep_from;
	rc = mdb_cursor_get(cursor, &k, &v, k.mv_size == 0 ? MDB_FIRST : MDB_SET_RANGE);
	while (rc == 0 && examined++ < STATE_SWEEP_SLICE) {
		int64_t expires;
		const char *data;
		size_t len;
		if (!state_decode(&v, &expires, &data, &len) || expires <= now)
			rc = mdb_cursor_del(cursor, 0);
		if (rc == 0)
			rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && k.mv_size <= MB_STATE_KEY_MAX) {
		memcpy(st->sweep_from, k.mv_data, k.mv_size);
		st->sweep_from[k.mv_size] = '\0';
	} else {
		st->sweep_from[0] = '\0'; /* the end: start over next time */
	}
	mdb_cursor_close(cursor);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return lmdb_fail(error, size, "state sweep", st->path, rc);
	}
	if (state_commit(st, txn, error, size) < 0)
		return -1;
	rc = mdb_env_sync(st->state_env, 1);
	return rc == 0 ? 0 : lmdb_fail(error, size, "state sync", st->path, rc);
}

/* lmdb_generation - the id of the last committed write transaction of
   the tables' environment (the state lives in its own): read from the
   meta page in the map, so another process's commit shows at once */
static int lmdb_generation(void *state, uint64_t *generation_r, char *error, size_t size)
{
	struct lmdb_state *st = state;
	MDB_envinfo info;
	int rc = mdb_env_info(st->env, &info);

	if (rc != 0)
		return lmdb_fail(error, size, "read the generation of", st->path, rc);
	*generation_r = (uint64_t)info.me_last_txnid;
	return 0;
}

const struct mb_store_backend mb_store_backend_lmdb = {
	.schemes = { "lmdb", NULL },
	.generation = lmdb_generation,
	.open = lmdb_open,
	.close = lmdb_close,
	.get = lmdb_get,
	.begin = lmdb_begin,
	.put = lmdb_put,
	.del = lmdb_del,
	.commit = lmdb_commit,
	.abort = lmdb_abort,
	.foreach = lmdb_foreach,
	.state_get = lmdb_state_get,
	.state_put = lmdb_state_put,
	.state_add = lmdb_state_add,
	.state_maintain = lmdb_state_maintain,
};
