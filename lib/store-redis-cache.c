/* store-redis-cache.c - the Redis backend's read cache, kept coherent by Redis
 *
 * SUMMARY
 *	A daemon that looks up the same domains, users and aliases again
 *	and again (policyd: about ten lookups per policy request) answers
 *	them from memory (redis-cache.c), and Redis itself says when to
 *	forget: client-side caching in broadcasting mode. One connection
 *	of our own asks for its CLIENT ID, turns CLIENT TRACKING on with
 *	REDIRECT to itself, BCAST and a PREFIX per table hash, then
 *	SUBSCRIBEs to __redis__:invalidate (RESP2). From then on every
 *	write to a table hash, by any client on any node, sends the hash's
 *	name on that connection, and the table is dropped from the cache;
 *	FLUSHALL/FLUSHDB sends a null and every table is dropped.
 *
 *	Pending invalidations are read without blocking before a lookup is
 *	answered from the cache (one recv() at most once a millisecond of
 *	the coarse monotonic clock, whose tick is 1 to 4 ms), so a change is
 *	seen by every lookup a few milliseconds after it reaches this host,
 *	in any process, event loop or not. An event loop may also watch
 *	redis_tracking_fd().
 *
 * DIAGNOSTICS
 *	Never a stale answer: while the invalidation connection is down,
 *	lost, or says something not understood, the cache is emptied and
 *	not used (lookups go to Redis as without a cache) until a new
 *	connection is subscribed; a new one is tried at most once a second.
 *	Connecting is synchronous (timeout 1 s), like the backend's own.
 */
#include "store-redis-cache.h"

#include "redis-cache.h"
#include "redis-location.h"
#include "redis-sentinel.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define TRACKING_CONNECT_TIMEOUT_MS 1000
#define TRACKING_POLL_INTERVAL_NS 1000000LL /* a millisecond */
#define TRACKING_CHANNEL "__redis__:invalidate"

struct redis_tracking {
	struct mb_redis_location loc;
	struct mb_redis_sentinel *sentinel; /* sentinel:// only, else NULL */
	const char *const *table_keys; /* MB_REDIS_CACHE_TABLES names */
	struct mb_redis_cache *cache;
	redisContext *conn;            /* subscribed, or NULL */
	time_t last_failed_connect;
	long long last_poll_ns;
};

static long long coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct redis_tracking *redis_tracking_new(const struct mb_redis_location *loc,
					  const char *const table_keys[], size_t max_entries)
{
	struct redis_tracking *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cache = mb_redis_cache_new(max_entries);
	if (t->cache == NULL) {
		free(t);
		return NULL;
	}
	t->loc = *loc;
	if (loc->master_name[0] != '\0' && (t->sentinel = mb_redis_sentinel_new(loc)) == NULL) {
		mb_redis_cache_free(&t->cache);
		free(t);
		return NULL;
	}
	t->table_keys = table_keys;
	return t;
}

/* lose - the connection is gone or not trusted: forget everything */
static void lose(struct redis_tracking *t)
{
	if (t->conn != NULL)
		redisFree(t->conn);
	t->conn = NULL;
	mb_redis_cache_drop_all(t->cache);
}

void redis_tracking_free(struct redis_tracking **tracking)
{
	struct redis_tracking *t = *tracking;

	if (t == NULL)
		return;
	if (t->conn != NULL)
		redisFree(t->conn);
	mb_redis_cache_free(&t->cache);
	mb_redis_sentinel_free(&t->sentinel);
	explicit_bzero(&t->loc, sizeof(t->loc));
	free(t);
	*tracking = NULL;
}

/* step - one command on the new connection; false unless its reply is
   of the type wanted */
static bool step(redisContext *c, int want_type, long long *integer_r, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	redisReply *reply = redisvCommand(c, format, args);
	va_end(args);
	bool ok = reply != NULL && reply->type == want_type;
	if (ok && integer_r != NULL)
		*integer_r = reply->integer;
	if (reply != NULL)
		freeReplyObject(reply);
	return ok;
}

static redisContext *open_connection(const struct mb_redis_location *loc)
{
	struct timeval tv = { TRACKING_CONNECT_TIMEOUT_MS / 1000, (TRACKING_CONNECT_TIMEOUT_MS % 1000) * 1000 };

	if (loc->socket_path[0] != '\0')
		return redisConnectUnixWithTimeout(loc->socket_path, tv);
	return redisConnectWithTimeout(loc->host, loc->port, tv);
}

/* find_master - a sentinel:// location's master, into t->loc: the
   changes to track are made there */
static bool find_master(struct redis_tracking *t)
{
	struct mb_redis_endpoint master;
	struct mb_error_text error;

	if (t->sentinel == NULL)
		return true;
	if (mb_redis_sentinel_discover(t->sentinel, &master, &error) < 0)
		return false;
	memcpy(t->loc.host, master.host, sizeof(t->loc.host));
	t->loc.port = master.port;
	return true;
}

/* still_master - with Sentinel, the node named is the master (ROLE) */
static bool still_master(struct redis_tracking *t, redisContext *c)
{
	struct mb_error_text error;

	if (t->sentinel == NULL || mb_redis_confirm_master(c, &error) == 0)
		return true;
	mb_redis_sentinel_stale(t->sentinel);
	return false;
}

/* subscribe - a connection that receives every table's invalidations */
static int subscribe(struct redis_tracking *t)
{
	if (!find_master(t))
		return -1;
	redisContext *c = open_connection(&t->loc);
	long long id = 0;
	bool ok = c != NULL && c->err == 0;
	struct timeval tv = { 1, 0 };

	if (ok)
		redisSetTimeout(c, tv);
	if (ok && t->loc.password[0] != '\0')
		ok = t->loc.user[0] != '\0' ?
			step(c, REDIS_REPLY_STATUS, NULL, "AUTH %s %s", t->loc.user, t->loc.password) :
			step(c, REDIS_REPLY_STATUS, NULL, "AUTH %s", t->loc.password);
	ok = ok && still_master(t, c);
	ok = ok && step(c, REDIS_REPLY_INTEGER, &id, "CLIENT ID");
	ok = ok && step(c, REDIS_REPLY_STATUS, NULL,
			"CLIENT TRACKING on REDIRECT %lld BCAST PREFIX %s PREFIX %s PREFIX %s", id,
			t->table_keys[0], t->table_keys[1], t->table_keys[2]);
	ok = ok && step(c, REDIS_REPLY_ARRAY, NULL, "SUBSCRIBE %s", TRACKING_CHANNEL);
	if (!ok) {
		if (c != NULL)
			redisFree(c);
		return -1;
	}
	t->conn = c;
	/* anything cached before this connection was subscribed may be stale */
	mb_redis_cache_drop_all(t->cache);
	return 0;
}

static int table_of(const struct redis_tracking *t, const char *name, size_t len)
{
	for (unsigned i = 0; i < MB_REDIS_CACHE_TABLES; i++) {
		if (strlen(t->table_keys[i]) == len && memcmp(t->table_keys[i], name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* apply - one message on the channel: ["message", channel, keys or nil].
   false when it is not understood (the caller then trusts nothing). */
static bool apply(struct redis_tracking *t, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
		return false;
	if (strcmp(r->element[0]->str, "message") != 0)
		return strcmp(r->element[0]->str, "subscribe") == 0;
	const redisReply *keys = r->element[2];
	if (keys->type == REDIS_REPLY_NIL) { /* FLUSHALL, FLUSHDB */
		mb_redis_cache_drop_all(t->cache);
		return true;
	}
	if (keys->type != REDIS_REPLY_ARRAY && keys->type != REDIS_REPLY_STRING)
		return false;
	size_t n = keys->type == REDIS_REPLY_ARRAY ? keys->elements : 1;
	for (size_t i = 0; i < n; i++) {
		const redisReply *key = keys->type == REDIS_REPLY_ARRAY ? keys->element[i] : keys;
		if (key->type != REDIS_REPLY_STRING)
			return false;
		int table = table_of(t, key->str, key->len);
		if (table < 0)
			mb_redis_cache_drop_all(t->cache); /* under a prefix, not a table: be safe */
		else
			mb_redis_cache_drop(t->cache, (unsigned)table);
	}
	return true;
}

void redis_tracking_read(struct redis_tracking *t)
{
	char buf[16384];

	if (t->conn == NULL)
		return;
	t->last_poll_ns = coarse_now_ns();
	for (;;) {
		ssize_t n = recv(t->conn->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0 || redisReaderFeed(t->conn->reader, buf, (size_t)n) != REDIS_OK) {
			lose(t);
			return;
		}
	}
	for (;;) {
		void *raw = NULL;
		if (redisReaderGetReply(t->conn->reader, &raw) != REDIS_OK) {
			lose(t);
			return;
		}
		if (raw == NULL)
			return;
		bool understood = apply(t, raw);
		freeReplyObject(raw);
		if (!understood) {
			lose(t);
			return;
		}
	}
}

struct mb_redis_cache *redis_tracking_cache(struct redis_tracking *t)
{
	if (t->conn == NULL) {
		time_t now = time(NULL);
		if (now == t->last_failed_connect)
			return NULL;
		if (subscribe(t) < 0) {
			t->last_failed_connect = now;
			return NULL;
		}
	}
	if (coarse_now_ns() - t->last_poll_ns >= TRACKING_POLL_INTERVAL_NS)
		redis_tracking_read(t);
	return t->conn != NULL ? t->cache : NULL;
}

int redis_tracking_fd(const struct redis_tracking *t)
{
	return t->conn != NULL ? t->conn->fd : -1;
}
