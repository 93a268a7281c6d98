/* redis-async.c - the store's state on Redis without blocking, on lib/reactor
 *
 * SUMMARY
 *	A hiredis redisAsyncContext attached to the reactor (the adapter
 *	reactor.h describes: hiredis's read and write hooks become watches
 *	of its descriptor, its cleanup hook unwatches and frees), carrying
 *	the state operations of policyd's decisions (state-journal.c):
 *	GET, SET ... EXAT and the counter script, written exactly as the
 *	synchronous backend writes them (redis-state.h). Every operation is
 *	one command on the one connection; those of all the connections
 *	waiting at a time go out in one write and come back in one read,
 *	and a slow reply holds up only the decisions waiting on it.
 *
 *	Commands are written once per round of the event loop: hiredis's
 *	"add write" hook does not watch the descriptor for writing (a
 *	socket is nearly always writable: two epoll_ctl and a wakeup per
 *	command for nothing) but arms a 0 ms reactor timer, which runs after
 *	the round's I/O events and writes what every handler of the round
 *	queued, in one write(). Only while connecting, or when that write
 *	does not take everything, is the descriptor watched for writing.
 *
 *	Connecting is non-blocking too (the AUTH and SELECT commands are
 *	queued behind it; with a sentinel:// location the master's address
 *	is asked of the sentinels first, blocking for at most
 *	MB_SENTINEL_TIMEOUT_MS a sentinel, and a ROLE queued behind SELECT
 *	ends a connection to a node that is no longer the master, as does
 *	a READONLY, LOADING or MASTERDOWN reply); a connection not made within a second is given
 *	up, and one is tried again at most once a second while Redis stays
 *	away. Timeouts of the decisions are the caller's: an operation
 *	waits for its reply as long as the connection lives.
 *
 * DIAGNOSTICS
 *	A failed operation says why in op->error, naming the server, never
 *	its password: "connection lost", the server's error, or an
 *	unexpected reply.
 */
#include "redis-async.h"

#include "reactor.h"
#include "redis-location.h"
#include "redis-sentinel.h"
#include "redis-state.h"
#include "state-journal.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASYNC_CONNECT_TIMEOUT_MS 1000

struct mb_redis_async {
	struct mb_reactor *reactor;
	struct mb_redis_location loc;
	struct mb_redis_sentinel *sentinel; /* sentinel:// only, else NULL */
	char name[300];          /* "Redis 127.0.0.1:6379 db 0", no password */
	redisAsyncContext *ac;   /* NULL while there is no connection */
	bool connected;
	time_t last_attempt;
	long long connect_timer; /* 0 when none */
	long long flush_timer;   /* the round's write, 0 when none is due */
	bool flushing;           /* inside that write: a new add-write is real */
	char last_error[200];    /* why the last connection failed or was lost */
};

/* the reactor side of one redisAsyncContext (its ev.data) */
struct reactor_events {
	redisAsyncContext *ac;
	struct mb_redis_async *async;
	struct mb_reactor *reactor;
	int fd;
};

struct op_call {
	struct mb_redis_async *async;
	struct mb_state_op *op;
	mb_redis_op_done *done;
	void *data;
};

static void on_readable(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)r, (void)fd, (void)mask;
	redisAsyncHandleRead(((struct reactor_events *)data)->ac);
}

static void on_writable(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)r, (void)fd, (void)mask;
	redisAsyncHandleWrite(((struct reactor_events *)data)->ac);
}

/* A watch that fails (out of memory) leaves the direction unwatched:
   the command waits, and the caller's timeout answers for it. */
static void add_read(void *data)
{
	struct reactor_events *e = data;
	struct mb_error_text error;

	mb_reactor_watch(e->reactor, e->fd, MB_READABLE, on_readable, e, &error);
}

static void del_read(void *data)
{
	struct reactor_events *e = data;

	mb_reactor_unwatch(e->reactor, e->fd, MB_READABLE);
}

/* on_flush - the round's commands, in one write */
static long long on_flush(struct mb_reactor *r, long long id, void *data)
{
	struct mb_redis_async *a = data;

	(void)r, (void)id;
	a->flush_timer = 0;
	if (a->ac != NULL) {
		a->flushing = true;
		redisAsyncHandleWrite(a->ac); /* may free the context: a->ac is NULL then */
		a->flushing = false;
	}
	return MB_TIMER_DONE;
}

static void add_write(void *data)
{
	struct reactor_events *e = data;
	struct mb_redis_async *a = e->async;
	struct mb_error_text error;

	if (a->connected && !a->flushing) {
		if (a->flush_timer == 0)
			a->flush_timer = mb_reactor_add_timer(e->reactor, 0, on_flush, a, &error);
		if (a->flush_timer > 0)
			return;
		a->flush_timer = 0; /* no timer: watch, as hiredis asks */
	}
	mb_reactor_watch(e->reactor, e->fd, MB_WRITABLE, on_writable, e, &error);
}

static void del_write(void *data)
{
	struct reactor_events *e = data;

	mb_reactor_unwatch(e->reactor, e->fd, MB_WRITABLE);
}

/* cleanup - hiredis is freeing the context (from inside its read
   handler, or from redisAsyncFree): no event may reach it any more */
static void cleanup(void *data)
{
	struct reactor_events *e = data;

	mb_reactor_unwatch(e->reactor, e->fd, MB_READABLE | MB_WRITABLE);
	free(e);
}

static int attach(struct mb_redis_async *a, redisAsyncContext *ac)
{
	struct reactor_events *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	e->ac = ac;
	e->async = a;
	e->reactor = a->reactor;
	e->fd = ac->c.fd;
	ac->ev.data = e;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	return 0;
}

static void cancel_connect_timer(struct mb_redis_async *a)
{
	if (a->connect_timer > 0)
		mb_reactor_cancel_timer(a->reactor, a->connect_timer);
	a->connect_timer = 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct mb_redis_async *a = ac->data;

	cancel_connect_timer(a);
	if (status == REDIS_OK) {
		a->connected = true;
		return;
	}
	snprintf(a->last_error, sizeof(a->last_error), "cannot connect: %.150s", ac->errstr);
	a->ac = NULL; /* hiredis frees it on return */
	a->connected = false;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct mb_redis_async *a = ac->data;

	if (status != REDIS_OK)
		snprintf(a->last_error, sizeof(a->last_error), "connection lost: %.150s", ac->errstr);
	else
		snprintf(a->last_error, sizeof(a->last_error), "connection closed");
	a->ac = NULL;
	a->connected = false;
}

/* on_connect_timeout - a connection not made in time is given up: its
   queued operations fail now rather than wait for TCP's own timeout */
static long long on_connect_timeout(struct mb_reactor *r, long long id, void *data)
{
	struct mb_redis_async *a = data;
	redisAsyncContext *ac = a->ac;

	(void)r, (void)id;
	a->connect_timer = 0;
	if (ac != NULL && !a->connected) {
		snprintf(a->last_error, sizeof(a->last_error), "cannot connect within %d ms",
			 ASYNC_CONNECT_TIMEOUT_MS);
		a->ac = NULL;
		redisAsyncFree(ac);
	}
	return MB_TIMER_DONE;
}

/* on_setup_reply - AUTH or SELECT: a refusal ends the connection */
static void on_setup_reply(redisAsyncContext *ac, void *raw, void *data)
{
	redisReply *reply = raw;
	struct mb_redis_async *a = data;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		snprintf(a->last_error, sizeof(a->last_error), "%.150s", reply->str);
		redisAsyncDisconnect(ac);
	}
}

/* on_role_reply - with Sentinel, the node the sentinels named must
   still be the master: else the connection ends and the next attempt
   asks them again */
static void on_role_reply(redisAsyncContext *ac, void *raw, void *data)
{
	struct mb_redis_async *a = data;
	struct mb_error_text error;

	if (raw == NULL || mb_redis_role_parse(raw, &error) == 1)
		return;
	snprintf(a->last_error, sizeof(a->last_error), "not the master: %.150s", error.text);
	mb_redis_sentinel_stale(a->sentinel);
	redisAsyncDisconnect(ac);
}

/* find_master - a sentinel:// location's master address, into a->loc
   (blocking, but each sentinel gets MB_SENTINEL_TIMEOUT_MS and a set
   that does not answer is asked again only after MB_SENTINEL_RETRY_MS) */
static bool find_master(struct mb_redis_async *a)
{
	struct mb_redis_endpoint master;
	struct mb_error_text error;

	if (a->sentinel == NULL)
		return true;
	if (mb_redis_sentinel_discover(a->sentinel, &master, &error) < 0) {
		snprintf(a->last_error, sizeof(a->last_error), "%.190s", error.text);
		return false;
	}
	memcpy(a->loc.host, master.host, sizeof(a->loc.host));
	a->loc.port = master.port;
	snprintf(a->name, sizeof(a->name), "Redis master %.63s at %.100s:%d db %d", a->loc.master_name,
		 a->loc.host, a->loc.port, a->loc.db);
	return true;
}

/* connect_async - a connection, or false (at most one attempt a second) */
static bool connect_async(struct mb_redis_async *a)
{
	struct mb_error_text error;
	time_t now = time(NULL);

	if (a->ac != NULL)
		return true;
	if (now == a->last_attempt)
		return false;
	a->last_attempt = now;
	if (!find_master(a))
		return false;
	redisAsyncContext *ac = a->loc.socket_path[0] != '\0' ? redisAsyncConnectUnix(a->loc.socket_path) :
		redisAsyncConnect(a->loc.host, a->loc.port);
	if (ac == NULL || ac->err != 0 || attach(a, ac) < 0) {
		snprintf(a->last_error, sizeof(a->last_error), "cannot connect: %.150s",
			 ac != NULL && ac->err != 0 ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		return false;
	}
	ac->data = a;
	a->ac = ac;
	a->connected = false;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (a->loc.password[0] != '\0') {
		if (a->loc.user[0] != '\0')
			redisAsyncCommand(ac, on_setup_reply, a, "AUTH %s %s", a->loc.user, a->loc.password);
		else
			redisAsyncCommand(ac, on_setup_reply, a, "AUTH %s", a->loc.password);
	}
	if (a->loc.db != 0)
		redisAsyncCommand(ac, on_setup_reply, a, "SELECT %d", a->loc.db);
	if (a->sentinel != NULL)
		redisAsyncCommand(ac, on_role_reply, a, "ROLE");
	a->connect_timer = mb_reactor_add_timer(a->reactor, ASYNC_CONNECT_TIMEOUT_MS, on_connect_timeout, a,
						&error);
	if (a->connect_timer < 0)
		a->connect_timer = 0;
	return a->ac != NULL;
}

struct mb_redis_async *mb_redis_async_new(struct mb_reactor *reactor, const char *location,
					  struct mb_error_text *error_r)
{
	struct mb_redis_async *a = calloc(1, sizeof(*a));
	const char *parse_error;

	if (a == NULL) {
		mb_set_error(error_r, "out of memory");
		return NULL;
	}
	if (mb_redis_location_parse(location, &a->loc, &parse_error) < 0) {
		mb_set_error(error_r, "Redis store location: %s", parse_error);
		free(a);
		return NULL;
	}
	a->reactor = reactor;
	if (a->loc.master_name[0] != '\0' && (a->sentinel = mb_redis_sentinel_new(&a->loc)) == NULL) {
		mb_set_error(error_r, "out of memory");
		free(a);
		return NULL;
	}
	if (a->sentinel != NULL)
		snprintf(a->name, sizeof(a->name), "Redis master %s (from %zu sentinels) db %d",
			 a->loc.master_name, a->loc.sentinel_count, a->loc.db);
	else if (a->loc.socket_path[0] != '\0')
		snprintf(a->name, sizeof(a->name), "Redis unix:%s db %d", a->loc.socket_path, a->loc.db);
	else
		snprintf(a->name, sizeof(a->name), "Redis %s:%d db %d", a->loc.host, a->loc.port, a->loc.db);
	return a;
}

void mb_redis_async_free(struct mb_redis_async **async)
{
	struct mb_redis_async *a = *async;

	if (a == NULL)
		return;
	cancel_connect_timer(a);
	if (a->flush_timer > 0)
		mb_reactor_cancel_timer(a->reactor, a->flush_timer);
	a->flush_timer = 0;
	if (a->ac != NULL) {
		redisAsyncContext *ac = a->ac;
		a->ac = NULL;
		ac->onDisconnect = NULL; /* a is going away */
		redisAsyncFree(ac);
	}
	mb_redis_sentinel_free(&a->sentinel);
	explicit_bzero(&a->loc, sizeof(a->loc));
	free(a);
	*async = NULL;
}

static void op_failed(struct mb_redis_async *a, struct mb_state_op *op, const char *why)
{
	op->status = MB_STATE_OP_FAILED;
	snprintf(op->error, sizeof(op->error), "%.120s: %.120s", a->name, why);
}

/* read_reply - what the reply says about op */
static void read_reply(struct mb_redis_async *a, struct mb_state_op *op, const redisReply *reply)
{
	if (reply == NULL) {
		op_failed(a, op, a->last_error[0] != '\0' ? a->last_error : "connection lost");
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		op_failed(a, op, reply->str);
		/* READONLY, LOADING, MASTERDOWN...: not the master any more;
		   the next operation finds the new one */
		if (mb_redis_error_kind(reply->str) == MB_REDIS_ERROR_FAILOVER && a->ac != NULL) {
			if (a->sentinel != NULL)
				mb_redis_sentinel_stale(a->sentinel);
			redisAsyncDisconnect(a->ac);
		}
		return;
	}
	switch (op->kind) {
	case MB_STATE_OP_GET:
		if (reply->type == REDIS_REPLY_NIL) {
			op->found = 0;
		} else if (reply->type == REDIS_REPLY_STRING) {
			size_t len = reply->len < sizeof(op->value) ? reply->len : sizeof(op->value) - 1;
			memcpy(op->value, reply->str, len);
			op->value[len] = '\0';
			op->found = 1;
		} else {
			op_failed(a, op, "GET: unexpected reply");
			return;
		}
		break;
	case MB_STATE_OP_PUT:
		if (reply->type != REDIS_REPLY_STATUS) {
			op_failed(a, op, "SET: unexpected reply");
			return;
		}
		break;
	case MB_STATE_OP_ADD:
		if (reply->type != REDIS_REPLY_INTEGER) {
			op_failed(a, op, "counter: unexpected reply");
			return;
		}
		op->integer = reply->integer;
		break;
	}
	op->status = MB_STATE_OP_DONE;
}

static void on_op_reply(redisAsyncContext *ac, void *reply, void *data)
{
	struct op_call *call = data;

	(void)ac;
	read_reply(call->async, call->op, reply);
	call->done(call->data, call->op);
	free(call);
}

int mb_redis_async_send(struct mb_redis_async *a, struct mb_state_op *op, mb_redis_op_done *done,
			void *data)
{
	struct op_call *call;
	int ret;

	if (!connect_async(a)) {
		op_failed(a, op, a->last_error[0] != '\0' ? a->last_error : "unreachable (next attempt within a second)");
		return -1;
	}
	call = malloc(sizeof(*call));
	if (call == NULL) {
		op_failed(a, op, "out of memory");
		return -1;
	}
	*call = (struct op_call){ a, op, done, data };
	switch (op->kind) {
	case MB_STATE_OP_GET:
		ret = redisAsyncCommand(a->ac, on_op_reply, call, "GET %s%s", MB_REDIS_STATE_PREFIX, op->key);
		break;
	case MB_STATE_OP_PUT:
		ret = redisAsyncCommand(a->ac, on_op_reply, call, "SET %s%s %s EXAT %" PRId64,
					MB_REDIS_STATE_PREFIX, op->key, op->value,
					op->expires > 0 ? op->expires : 1);
		break;
	default:
		ret = redisAsyncCommand(a->ac, on_op_reply, call, "EVAL %s 1 %s%s %" PRId64 " %" PRId64,
					MB_REDIS_COUNTER_SCRIPT, MB_REDIS_STATE_PREFIX, op->key, op->delta,
					op->expires);
		break;
	}
	if (ret != REDIS_OK) {
		free(call);
		op_failed(a, op, "the connection is closing");
		return -1;
	}
	op->status = MB_STATE_OP_SENT;
	return 0;
}
