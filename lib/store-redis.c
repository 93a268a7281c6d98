/* store-redis.c - the store backend for several nodes, on Redis (hiredis)
 *
 * SUMMARY
 *	Every node (policyd, Dovecot's auth, the mailbag command) points at
 *	one Redis and sees the same domains, users, aliases and counters at
 *	once. The three tables are Redis hashes ("mailbag:users" and so on:
 *	a lookup is one HGET, whatever the number of users); state entries
 *	are plain keys under "mailbag:state:" whose expiry Redis keeps
 *	(EXAT), so nothing needs sweeping.
 *
 *	Changes: begin() takes a lock key (SET NX PX, 10 s) so that two
 *	writers never interleave their read-then-write; put and del are
 *	buffered and commit() sends them in one MULTI/EXEC, so a change is
 *	all or nothing even if the connection drops half-way. Reads inside a
 *	transaction see the committed data (store.c reads before it writes).
 *	A counter is INCRBY plus EXPIREAT in one Lua script, so a counter
 *	can never be left without its expiry.
 *
 * DIAGNOSTICS
 *	Calls are synchronous with short timeouts (connect 1 s, command
 *	2 s). An unreachable Redis makes every call fail with a message that
 *	names the server (never the password); the caller answers TEMP or
 *	DEFER. The connection is made again on the next call, at most once
 *	a second while Redis stays away.
 *
 *	A sentinel:// location (redis-sentinel.c): each connection starts
 *	by asking the sentinels where the master is and checking its ROLE;
 *	a lost connection, a timeout or a reply that says the node is not
 *	the master (READONLY, LOADING, MASTERDOWN) drops the connection, and
 *	the next call asks again. Reads are tried once more at once; writes
 *	never (a counter or a transaction whose reply was lost may have been
 *	carried out). A change waits (WAIT 1, up to 1 s) until a replica
 *	has it, so that a failover right after does not lose it.
 */
#include "store-backend.h"
#include "grow.h"

#include "redis-cache.h"
#include "redis-location.h"
#include "redis-sentinel.h"
#include "redis-state.h"
#include "store-redis-cache.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define REDIS_CONNECT_TIMEOUT_MS 1000
#define REDIS_COMMAND_TIMEOUT_MS 2000
#define REDIS_LOCK_KEY "mailbag:lock"
#define REDIS_LOCK_TTL_MS 10000
#define REDIS_LOCK_WAIT_MS 5000
#define REDIS_STATE_PREFIX MB_REDIS_STATE_PREFIX
#define REDIS_WAIT_REPLICA_MS 1000

static const char *const table_keys[MB_TABLE_COUNT] = {
	"mailbag:domains", "mailbag:users", "mailbag:aliases"
};

static const char counter_script[] = MB_REDIS_COUNTER_SCRIPT;

/* delete the lock only if it is still ours */
static const char unlock_script[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

struct pending_op {
	bool is_delete;
	enum mb_table table;
	char *key;
	char *value; /* NULL for a delete */
	size_t len;
};

struct redis_state {
	struct mb_redis_location loc;
	char name[400];            /* "redis 127.0.0.1:6379 db 0", no password */
	redisContext *conn;
	struct mb_redis_sentinel *sentinel; /* sentinel:// only, else NULL */
	time_t last_failed_connect;
	bool in_transaction;
	char lock_token[40];
	struct pending_op *ops;
	size_t op_count, op_alloc;
	struct redis_tracking *tracking; /* the read cache, or NULL (store-redis-cache.c) */
};

static int redis_fail(struct redis_state *st, char *error, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int redis_fail(struct redis_state *st, char *error, size_t size, const char *fmt, ...)
{
	char detail[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	snprintf(error, size, "%s: %s", st->name, detail);
	return -1;
}

static void drop_connection(struct redis_state *st)
{
	if (st->conn != NULL)
		redisFree(st->conn);
	st->conn = NULL;
}

static struct timeval milliseconds(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* checked_reply - a reply that is not an error, or NULL with error
   written (an I/O failure also drops the connection) */
static redisReply *checked_reply(struct redis_state *st, redisReply *reply, const char *what,
				 char *error, size_t size)
{
	if (reply == NULL) {
		redis_fail(st, error, size, "%s: %s", what,
			   st->conn->errstr[0] != '\0' ? st->conn->errstr : "connection lost");
		drop_connection(st);
		return NULL;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		bool failover = mb_redis_error_kind(reply->str) == MB_REDIS_ERROR_FAILOVER;
		redis_fail(st, error, size, "%s: %.200s%s", what, reply->str,
			   failover ? " (not the master: finding it again)" : "");
		freeReplyObject(reply);
		if (failover)
			drop_connection(st);
		return NULL;
	}
	return reply;
}

static void set_name(struct redis_state *st)
{
	if (st->sentinel != NULL && st->loc.host[0] != '\0')
		snprintf(st->name, sizeof(st->name), "Redis master %s at %s:%d db %d", st->loc.master_name,
			 st->loc.host, st->loc.port, st->loc.db);
	else if (st->sentinel != NULL)
		snprintf(st->name, sizeof(st->name), "Redis master %s (from %zu sentinels) db %d",
			 st->loc.master_name, st->loc.sentinel_count, st->loc.db);
	else if (st->loc.socket_path[0] != '\0')
		snprintf(st->name, sizeof(st->name), "Redis unix:%s db %d", st->loc.socket_path, st->loc.db);
	else
		snprintf(st->name, sizeof(st->name), "Redis %s:%d db %d", st->loc.host, st->loc.port,
			 st->loc.db);
}

/* find_master - a Sentinel location's master address, into st->loc */
static int find_master(struct redis_state *st, char *error, size_t size)
{
	struct mb_redis_endpoint master;
	struct mb_error_text discover_error;

	if (mb_redis_sentinel_discover(st->sentinel, &master, &discover_error) < 0)
		return redis_fail(st, error, size, "%s", discover_error.text);
	memcpy(st->loc.host, master.host, sizeof(st->loc.host));
	st->loc.port = master.port;
	set_name(st);
	return 0;
}

/* confirm_master - the node a sentinel named still is the master */
static int confirm_master(struct redis_state *st, char *error, size_t size)
{
	struct mb_error_text role_error;

	if (mb_redis_confirm_master(st->conn, &role_error) < 0) {
		mb_redis_sentinel_stale(st->sentinel);
		return redis_fail(st, error, size, "%s", role_error.text);
	}
	return 0;
}

static int connect_redis(struct redis_state *st, char *error, size_t size)
{
	redisReply *reply;
	time_t now = time(NULL);

	if (st->conn != NULL && st->conn->err == 0)
		return 0;
	drop_connection(st);
	if (now == st->last_failed_connect)
		return redis_fail(st, error, size, "unreachable (next attempt within a second)");
	if (st->sentinel != NULL && find_master(st, error, size) < 0)
		goto failed;
	if (st->loc.socket_path[0] != '\0')
		st->conn = redisConnectUnixWithTimeout(st->loc.socket_path,
						       milliseconds(REDIS_CONNECT_TIMEOUT_MS));
	else
		st->conn = redisConnectWithTimeout(st->loc.host, st->loc.port,
						   milliseconds(REDIS_CONNECT_TIMEOUT_MS));
	if (st->conn == NULL || st->conn->err != 0) {
		redis_fail(st, error, size, "cannot connect: %s",
			   st->conn != NULL ? st->conn->errstr : "out of memory");
		if (st->sentinel != NULL)
			mb_redis_sentinel_stale(st->sentinel);
		goto failed;
	}
	redisSetTimeout(st->conn, milliseconds(REDIS_COMMAND_TIMEOUT_MS));
	if (st->loc.password[0] != '\0') {
		reply = st->loc.user[0] != '\0' ?
			redisCommand(st->conn, "AUTH %s %s", st->loc.user, st->loc.password) :
			redisCommand(st->conn, "AUTH %s", st->loc.password);
		if ((reply = checked_reply(st, reply, "AUTH", error, size)) == NULL)
			goto failed;
		freeReplyObject(reply);
	}
	if (st->loc.db != 0) {
		reply = redisCommand(st->conn, "SELECT %d", st->loc.db);
		if ((reply = checked_reply(st, reply, "SELECT", error, size)) == NULL)
			goto failed;
		freeReplyObject(reply);
	}
	if (st->sentinel != NULL && confirm_master(st, error, size) < 0)
		goto failed;
	return 0;
failed:
	drop_connection(st);
	st->last_failed_connect = now;
	return -1;
}

/* command - run one command: the reply (caller frees) or NULL */
static redisReply *command(struct redis_state *st, char *error, size_t size,
			   const char *what, const char *format, ...)
{
	va_list args;
	redisReply *reply;

	if (connect_redis(st, error, size) < 0)
		return NULL;
	va_start(args, format);
	reply = redisvCommand(st->conn, format, args);
	va_end(args);
	return checked_reply(st, reply, what, error, size);
}

/* read_command - a read, run again once on a new connection when the
   connection it found had died while idle (a restarted Redis: the first
   command on the old connection fails). Only reads: a write whose reply
   was lost may have been carried out, and must not be done twice. */
static redisReply *read_command(struct redis_state *st, char *error, size_t size,
				const char *what, const char *format, ...)
{
	va_list args;
	redisReply *reply = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = st->conn != NULL && st->conn->err == 0;
		if (connect_redis(st, error, size) < 0)
			return NULL;
		va_start(args, format);
		reply = redisvCommand(st->conn, format, args);
		va_end(args);
		/* a lost connection, or a node that stopped being the master */
		bool retry = reply == NULL || (reply->type == REDIS_REPLY_ERROR &&
					       mb_redis_error_kind(reply->str) == MB_REDIS_ERROR_FAILOVER);
		reply = checked_reply(st, reply, what, error, size);
		if (reply != NULL || !retry || !reused)
			break;
	}
	return reply;
}

static void clear_ops(struct redis_state *st)
{
	for (size_t i = 0; i < st->op_count; i++) {
		free(st->ops[i].key);
		free(st->ops[i].value);
	}
	st->op_count = 0;
}

static void redis_close(void *state)
{
	struct redis_state *st = state;

	if (st == NULL)
		return;
	clear_ops(st);
	free(st->ops);
	drop_connection(st);
	redis_tracking_free(&st->tracking);
	mb_redis_sentinel_free(&st->sentinel);
	explicit_bzero(&st->loc, sizeof(st->loc));
	free(st);
}

static int redis_open(const char *location, bool writable, bool create,
		      void **state_r, char *error, size_t size)
{
	struct redis_state *st = calloc(1, sizeof(*st));
	const char *parse_error;

	/* Redis has no read-only mode to ask for, and nothing to create */
	(void)writable;
	(void)create;
	*state_r = NULL;
	if (st == NULL) {
		snprintf(error, size, "out of memory");
		return -1;
	}
	if (mb_redis_location_parse(location, &st->loc, &parse_error) < 0) {
		snprintf(error, size, "Redis store location: %s", parse_error);
		free(st);
		return -1;
	}
	if (st->loc.master_name[0] != '\0' &&
	    (st->sentinel = mb_redis_sentinel_new(&st->loc)) == NULL) {
		snprintf(error, size, "out of memory");
		free(st);
		return -1;
	}
	set_name(st);
	/* hiredis write()s to the socket: a Redis that went away must be an
	   error return, not a SIGPIPE that kills the process. Daemons
	   (policyd, Dovecot) ignore SIGPIPE already; the command did not. */
	struct sigaction current;
	if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	/* a server that is down now is not an error: calls fail until it
	   is back, like lookups in a store that cannot be read */
	char ignored[256];
	connect_redis(st, ignored, sizeof(ignored));
	*state_r = st;
	return 0;
}

/* server_get - HGET, no cache */
static int server_get(struct redis_state *st, enum mb_table table, const char *key,
		      char **value_r, size_t *len_r, char *error, size_t size)
{
	redisReply *reply = read_command(st, error, size, "HGET", "HGET %s %s", table_keys[table], key);

	*value_r = NULL;
	if (reply == NULL)
		return -1;
	if (reply->type == REDIS_REPLY_NIL) {
		freeReplyObject(reply);
		return 0;
	}
	if (reply->type != REDIS_REPLY_STRING) {
		int type = reply->type;
		freeReplyObject(reply);
		return redis_fail(st, error, size, "HGET: unexpected reply type %d", type);
	}
	*value_r = malloc(reply->len + 1);
	if (*value_r == NULL) {
		freeReplyObject(reply);
		return redis_fail(st, error, size, "out of memory");
	}
	memcpy(*value_r, reply->str, reply->len);
	(*value_r)[reply->len] = '\0';
	*len_r = reply->len;
	freeReplyObject(reply);
	return 1;
}

static int copy_value(struct redis_state *st, const char *value, size_t len, char **value_r,
		      size_t *len_r, char *error, size_t size)
{
	*value_r = malloc(len + 1);
	if (*value_r == NULL)
		return redis_fail(st, error, size, "out of memory");
	memcpy(*value_r, value, len);
	(*value_r)[len] = '\0';
	*len_r = len;
	return 1;
}

/* load_whole - put every entry of a table that fits into the cache
   (HLEN, then HGETALL), and mark it whole; one that does not fit is
   remembered as too big until it changes. Failures leave it as it was:
   lookups then ask for their key. */
static void load_whole(struct redis_state *st, struct mb_redis_cache *cache, enum mb_table table)
{
	char ignored[256];
	uint64_t generation = mb_redis_cache_generation(cache, table);
	redisReply *reply = read_command(st, ignored, sizeof(ignored), "HLEN", "HLEN %s", table_keys[table]);

	if (reply == NULL)
		return;
	bool fits = reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0 &&
		(unsigned long long)reply->integer < mb_redis_cache_room(cache);
	freeReplyObject(reply);
	if (!fits) {
		mb_redis_cache_mark_whole(cache, table, generation, false);
		return;
	}
	reply = read_command(st, ignored, sizeof(ignored), "HGETALL", "HGETALL %s", table_keys[table]);
	if (reply == NULL)
		return;
	bool complete = reply->type == REDIS_REPLY_ARRAY && reply->elements % 2 == 0 &&
		reply->elements / 2 < mb_redis_cache_room(cache);
	for (size_t i = 0; complete && i + 1 < reply->elements; i += 2) {
		const redisReply *key = reply->element[i], *value = reply->element[i + 1];
		complete = key->type == REDIS_REPLY_STRING && value->type == REDIS_REPLY_STRING &&
			strlen(key->str) == key->len &&
			mb_redis_cache_put(cache, table, generation, key->str, value->str, value->len) == 0;
	}
	freeReplyObject(reply);
	mb_redis_cache_mark_whole(cache, table, generation, complete);
}

/* redis_get - from the cache when it holds the key (and may answer:
   store-redis-cache.c), else from the server, remembering the answer.
   Never inside a change: its reads must see the committed data. */
static int redis_get(void *state, enum mb_table table, const char *key,
		     char **value_r, size_t *len_r, char *error, size_t size)
{
	struct redis_state *st = state;
	struct mb_redis_cache *cache = st->tracking != NULL && !st->in_transaction ?
		redis_tracking_cache(st->tracking) : NULL;
	const char *cached;
	size_t cached_len;

	*value_r = NULL;
	if (cache == NULL)
		return server_get(st, table, key, value_r, len_r, error, size);
	for (int attempt = 0; attempt < 2; attempt++) {
		switch (mb_redis_cache_get(cache, table, key, &cached, &cached_len)) {
		case 1:
			return copy_value(st, cached, cached_len, value_r, len_r, error, size);
		case 0:
			return 0;
		}
		if (attempt > 0 || mb_redis_cache_whole(cache, table) != 0)
			break;
		load_whole(st, cache, table);
	}
	uint64_t generation = mb_redis_cache_generation(cache, table);
	int found = server_get(st, table, key, value_r, len_r, error, size);
	if (found >= 0)
		mb_redis_cache_put(cache, table, generation, key, found > 0 ? *value_r : NULL,
				   found > 0 ? *len_r : 0);
	return found;
}

static int redis_cache_enable(void *state, size_t max_entries, char *error, size_t size)
{
	struct redis_state *st = state;

	redis_tracking_free(&st->tracking);
	if (max_entries == 0)
		return 0;
	st->tracking = redis_tracking_new(&st->loc, table_keys, max_entries);
	if (st->tracking == NULL)
		return redis_fail(st, error, size, "out of memory for a cache of %zu entries", max_entries);
	return 0;
}

static void release_lock(struct redis_state *st)
{
	char ignored[256];
	redisReply *reply = command(st, ignored, sizeof(ignored), "EVAL", "EVAL %s 1 %s %s",
				    unlock_script, REDIS_LOCK_KEY, st->lock_token);

	if (reply != NULL)
		freeReplyObject(reply);
	st->in_transaction = false;
}

static int redis_begin(void *state, char *error, size_t size)
{
	struct redis_state *st = state;
	unsigned char random_bytes[16];
	int waited_ms = 0;

	/* the token tells our lock from a later holder's */
	randombytes_buf(random_bytes, sizeof(random_bytes));
	sodium_bin2hex(st->lock_token, sizeof(st->lock_token), random_bytes, sizeof(random_bytes));
	for (;;) {
		redisReply *reply = command(st, error, size, "SET NX", "SET %s %s NX PX %d",
					    REDIS_LOCK_KEY, st->lock_token, REDIS_LOCK_TTL_MS);
		if (reply == NULL)
			return -1;
		bool taken = reply->type == REDIS_REPLY_STATUS;
		freeReplyObject(reply);
		if (taken)
			break;
		if (waited_ms >= REDIS_LOCK_WAIT_MS)
			return redis_fail(st, error, size, "another change holds the store lock (%s); try again",
					  REDIS_LOCK_KEY);
		usleep(50 * 1000);
		waited_ms += 50;
	}
	clear_ops(st);
	st->in_transaction = true;
	return 0;
}

static int add_op(struct redis_state *st, bool is_delete, enum mb_table table, const char *key,
		  const char *value, size_t len, char *error, size_t size)
{
	struct pending_op *grown = mb_grow(st->ops, &st->op_alloc, st->op_count + 1,
					   sizeof(*st->ops), 16);
	if (grown == NULL)
		return redis_fail(st, error, size, "out of memory");
	st->ops = grown;
	struct pending_op *op = &st->ops[st->op_count];
	op->is_delete = is_delete;
	op->table = table;
	op->len = len;
	op->key = strdup(key);
	op->value = is_delete ? NULL : malloc(len + 1);
	if (op->key == NULL || (!is_delete && op->value == NULL)) {
		free(op->key);
		free(op->value);
		return redis_fail(st, error, size, "out of memory");
	}
	if (!is_delete)
		memcpy(op->value, value, len);
	st->op_count++;
	return 0;
}

static int redis_put(void *state, enum mb_table table, const char *key,
		     const char *value, size_t len, char *error, size_t size)
{
	return add_op(state, false, table, key, value, len, error, size);
}

static int redis_del(void *state, enum mb_table table, const char *key,
		     char *error, size_t size)
{
	struct redis_state *st = state;
	int exists = -1;

	/* this transaction's own changes to key first, then the server */
	for (size_t i = st->op_count; i-- > 0 && exists < 0;) {
		if (st->ops[i].table == table && strcmp(st->ops[i].key, key) == 0)
			exists = st->ops[i].is_delete ? 0 : 1;
	}
	if (exists < 0) {
		redisReply *reply = read_command(st, error, size, "HEXISTS", "HEXISTS %s %s",
					    table_keys[table], key);
		if (reply == NULL)
			return -1;
		exists = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
		freeReplyObject(reply);
	}
	if (exists == 0)
		return 0;
	return add_op(st, true, table, key, NULL, 0, error, size) < 0 ? -1 : 1;
}

/* send_transaction - MULTI, the buffered changes, EXEC, pipelined (and
   for a Sentinel set WAIT: the reply comes once a replica has the change,
   or after REDIS_WAIT_REPLICA_MS; its count is not checked, the change is
   made either way). Redis runs nothing before it has read EXEC whole, so
   a failure while sending changed nothing; a failure after it may have. */
static int send_transaction(struct redis_state *st, char *error, size_t size)
{
	redisReply *reply;
	int ret = 0, done = 0;
	size_t replies = st->op_count + 2;
	bool failover = false;

	if (connect_redis(st, error, size) < 0)
		return -1;
	redisAppendCommand(st->conn, "MULTI");
	for (size_t i = 0; i < st->op_count; i++) {
		const struct pending_op *op = &st->ops[i];
		if (op->is_delete)
			redisAppendCommand(st->conn, "HDEL %s %s", table_keys[op->table], op->key);
		else
			redisAppendCommand(st->conn, "HSET %s %s %b", table_keys[op->table], op->key,
					   op->value, op->len);
	}
	redisAppendCommand(st->conn, "EXEC");
	if (st->sentinel != NULL) {
		redisAppendCommand(st->conn, "WAIT 1 %d", REDIS_WAIT_REPLICA_MS);
		replies++;
	}
	while (!done) {
		if (redisBufferWrite(st->conn, &done) != REDIS_OK) {
			redis_fail(st, error, size, "transaction not sent (%s): nothing was changed; try again",
				   st->conn->errstr);
			drop_connection(st);
			return -1;
		}
	}
	/* read every reply, even after a failure, to keep the stream in step */
	for (size_t i = 0; i < replies; i++) {
		void *raw = NULL;
		if (redisGetReply(st->conn, &raw) != REDIS_OK) {
			/* past EXEC's reply (only WAIT's was lost) the change is made */
			if (i <= st->op_count + 1)
				redis_fail(st, error, size, "connection lost after the change was sent (%s): it may or may not have been made; look before trying again",
					   st->conn->errstr);
			drop_connection(st);
			return i <= st->op_count + 1 ? -1 : ret;
		}
		reply = raw;
		if (reply->type == REDIS_REPLY_ERROR)
			failover = failover || mb_redis_error_kind(reply->str) == MB_REDIS_ERROR_FAILOVER;
		if (reply->type == REDIS_REPLY_ERROR && ret == 0 && i <= st->op_count + 1)
			ret = redis_fail(st, error, size, "transaction: %.200s%s", reply->str,
					 failover ? " (not the master: nothing was changed; try again)" : "");
		if (i == st->op_count + 1 && reply->type != REDIS_REPLY_ARRAY && ret == 0)
			ret = redis_fail(st, error, size, "transaction was not executed");
		freeReplyObject(reply);
	}
	if (failover)
		drop_connection(st);
	return ret;
}

static int redis_commit(void *state, char *error, size_t size)
{
	struct redis_state *st = state;
	int ret = st->op_count == 0 ? 0 : send_transaction(st, error, size);

	clear_ops(st);
	release_lock(st);
	return ret;
}

static void redis_abort(void *state)
{
	struct redis_state *st = state;

	clear_ops(st);
	if (st->in_transaction)
		release_lock(st);
}

struct sorted_entry {
	const redisReply *key, *value;
};

static int compare_entries(const void *a, const void *b)
{
	const struct sorted_entry *x = a, *y = b;
	size_t len = x->key->len < y->key->len ? x->key->len : y->key->len;
	int cmp = memcmp(x->key->str, y->key->str, len);

	if (cmp != 0)
		return cmp;
	return x->key->len < y->key->len ? -1 : x->key->len > y->key->len;
}

/* redis_foreach - the whole hash (HGETALL), filtered and sorted here:
   listing is an administrator's action, lookups never iterate */
static int redis_foreach(void *state, enum mb_table table, const char *prefix,
			 mb_kv_cb *cb, void *context, char *error, size_t size)
{
	struct redis_state *st = state;
	redisReply *reply = read_command(st, error, size, "HGETALL", "HGETALL %s", table_keys[table]);
	size_t prefix_len = strlen(prefix), count = 0;

	if (reply == NULL)
		return -1;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		freeReplyObject(reply);
		return redis_fail(st, error, size, "HGETALL: unexpected reply");
	}
	struct sorted_entry *entries = calloc(reply->elements / 2 + 1, sizeof(*entries));
	if (entries == NULL) {
		freeReplyObject(reply);
		return redis_fail(st, error, size, "out of memory");
	}
	for (size_t i = 0; i + 1 < reply->elements; i += 2) {
		const redisReply *key = reply->element[i];
		if (key->len >= prefix_len && memcmp(key->str, prefix, prefix_len) == 0) {
			entries[count].key = key;
			entries[count].value = reply->element[i + 1];
			count++;
		}
	}
	qsort(entries, count, sizeof(*entries), compare_entries);
	for (size_t i = 0; i < count; i++) {
		if (cb(entries[i].key->str, entries[i].key->len, entries[i].value->str,
		       entries[i].value->len, context) != 0)
			break;
	}
	free(entries);
	freeReplyObject(reply);
	return 0;
}

static int state_key_check(struct redis_state *st, const char *key, char *error, size_t size)
{
	if (key[0] == '\0' || strlen(key) > MB_STATE_KEY_MAX)
		return redis_fail(st, error, size, "state key of %zu bytes (1 to %d allowed)",
				  strlen(key), MB_STATE_KEY_MAX);
	return 0;
}

static int redis_state_get(void *state, const char *key, int64_t now, char *value,
			   size_t value_size, char *error, size_t size)
{
	struct redis_state *st = state;
	redisReply *reply;

	(void)now; /* Redis expires entries on its own clock */
	if (key[0] == '\0' || strlen(key) > MB_STATE_KEY_MAX)
		return 0;
	reply = read_command(st, error, size, "GET", "GET %s%s", REDIS_STATE_PREFIX, key);
	if (reply == NULL)
		return -1;
	int found = reply->type == REDIS_REPLY_STRING;
	if (found) {
		size_t len = reply->len < value_size ? reply->len : value_size - 1;
		memcpy(value, reply->str, len);
		value[len] = '\0';
	}
	freeReplyObject(reply);
	return found;
}

static int redis_state_put(void *state, const char *key, const char *value, int64_t expires,
			   char *error, size_t size)
{
	struct redis_state *st = state;
	redisReply *reply;

	if (state_key_check(st, key, error, size) < 0)
		return -1;
	if (expires <= 0)
		expires = 1; /* already expired: EXAT deletes it */
	reply = command(st, error, size, "SET", "SET %s%s %s EXAT %" PRId64, REDIS_STATE_PREFIX, key,
			value, expires);
	if (reply == NULL)
		return -1;
	freeReplyObject(reply);
	return 0;
}

static int redis_state_add(void *state, const char *key, int64_t delta, int64_t expires,
			   int64_t now, int64_t *value_r, char *error, size_t size)
{
	struct redis_state *st = state;
	redisReply *reply;

	(void)now;
	if (state_key_check(st, key, error, size) < 0)
		return -1;
	reply = command(st, error, size, "EVAL", "EVAL %s 1 %s%s %" PRId64 " %" PRId64,
			counter_script, REDIS_STATE_PREFIX, key, delta, expires);
	if (reply == NULL)
		return -1;
	if (reply->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(reply);
		return redis_fail(st, error, size, "counter: unexpected reply");
	}
	*value_r = reply->integer;
	freeReplyObject(reply);
	return 0;
}

const struct mb_store_backend mb_store_backend_redis = {
	.schemes = { "redis", "unix", "sentinel" },
	.open = redis_open,
	.close = redis_close,
	.get = redis_get,
	.begin = redis_begin,
	.put = redis_put,
	.del = redis_del,
	.commit = redis_commit,
	.abort = redis_abort,
	.foreach = redis_foreach,
	.state_get = redis_state_get,
	.state_put = redis_state_put,
	.state_add = redis_state_add,
	.state_maintain = NULL,
	.cache_enable = redis_cache_enable,
};
