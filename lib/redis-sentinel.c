/* redis-sentinel.c - finding the Redis master through Sentinel
 *
 * SUMMARY
 *	A "sentinel://" store names sentinels and a master; the master's
 *	address changes when Sentinel fails over. Before each connection
 *	the backend asks the sentinels in turn (SENTINEL
 *	get-master-addr-by-name, short timeouts, starting with the one that
 *	answered last), connects to the address and confirms with ROLE that
 *	it is the master: a sentinel may still name a master that has just
 *	been demoted. An error reply that means "not the master any more"
 *	(READONLY, LOADING, MASTERDOWN...) makes the backend drop the
 *	connection and ask again.
 *
 *	The pure parts (reply parsing, error kinds, which sentinel next and
 *	whether to ask at all) are apart from the blocking calls, so that a
 *	non-blocking client on the reactor can send the same commands on
 *	its own connections and feed the replies here.
 *
 * DIAGNOSTICS
 *	When no sentinel answers, they are not asked again for
 *	MB_SENTINEL_RETRY_MS: a set that is down costs each caller one
 *	quick error, not a round of connection attempts per request.
 *
 * SECURITY
 *	The sentinels' password is sent only to them, the data nodes' only
 *	to the data nodes (by the backend). Error texts name addresses and
 *	the master's name, never a password.
 */
#include "redis-sentinel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mb_redis_sentinel {
	struct mb_redis_location loc;
	size_t next;              /* index into loc.sentinels */
	size_t failed_this_round; /* sentinels failed since one answered */
	int64_t round_failed_ms;  /* when the last round ended with none answering */
	bool round_failed;
	struct mb_error_text last_error;
};

enum mb_redis_error_kind mb_redis_error_kind(const char *reply_text)
{
	static const char *const failover_prefixes[] = {
		"READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN",
	};

	/* EXECABORT on its own says only that a queued command failed:
	   the queued command's own reply says why */
	for (size_t i = 0; i < sizeof(failover_prefixes) / sizeof(failover_prefixes[0]); i++) {
		size_t len = strlen(failover_prefixes[i]);
		if (strncmp(reply_text, failover_prefixes[i], len) == 0 &&
		    (reply_text[len] == ' ' || reply_text[len] == '\0'))
			return MB_REDIS_ERROR_FAILOVER;
	}
	return MB_REDIS_ERROR_COMMAND;
}

int mb_redis_sentinel_parse_master(const redisReply *reply, const char *master_name,
				   struct mb_redis_endpoint *master_r,
				   struct mb_error_text *error_r)
{
	if (reply->type == REDIS_REPLY_NIL)
		return 0;
	if (reply->type == REDIS_REPLY_ERROR)
		return mb_set_error(error_r, "sentinel refused get-master-addr-by-name %s: %.200s",
				    master_name, reply->str);
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING)
		return mb_set_error(error_r, "sentinel's answer for master %s is not [address, port]",
				    master_name);
	const redisReply *host = reply->element[0], *port = reply->element[1];
	char *end;
	errno = 0;
	long value = strtol(port->str, &end, 10);
	if (host->len == 0 || host->len >= sizeof(master_r->host) || memchr(host->str, '\0', host->len) ||
	    port->len == 0 || errno != 0 || *end != '\0' || value < 1 || value > 65535)
		return mb_set_error(error_r, "sentinel's answer for master %s is not an address and a port",
				    master_name);
	memcpy(master_r->host, host->str, host->len);
	master_r->host[host->len] = '\0';
	master_r->port = (int)value;
	return 1;
}

int mb_redis_role_parse(const redisReply *reply, struct mb_error_text *error_r)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
	    (reply->element[0]->type != REDIS_REPLY_STRING &&
	     reply->element[0]->type != REDIS_REPLY_STATUS)) {
		mb_set_error(error_r, "ROLE: %s", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		return -1;
	}
	const char *role = reply->element[0]->str;
	if (strcmp(role, "master") == 0)
		return 1;
	mb_set_error(error_r, "is a %.20s, not the master (a failover under way?)", role);
	return 0;
}

struct mb_redis_sentinel *mb_redis_sentinel_new(const struct mb_redis_location *loc)
{
	struct mb_redis_sentinel *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->loc = *loc;
	/* the data nodes' secret has no business here */
	explicit_bzero(s->loc.password, sizeof(s->loc.password));
	return s;
}

void mb_redis_sentinel_free(struct mb_redis_sentinel **sentinelp)
{
	struct mb_redis_sentinel *s = *sentinelp;

	if (s == NULL)
		return;
	explicit_bzero(s, sizeof(*s));
	free(s);
	*sentinelp = NULL;
}

int64_t mb_redis_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool mb_redis_sentinel_may_ask(const struct mb_redis_sentinel *s, int64_t now_ms)
{
	return !s->round_failed || now_ms - s->round_failed_ms >= MB_SENTINEL_RETRY_MS;
}

const struct mb_redis_endpoint *mb_redis_sentinel_next(const struct mb_redis_sentinel *s)
{
	return &s->loc.sentinels[s->next];
}

void mb_redis_sentinel_answered(struct mb_redis_sentinel *s)
{
	s->failed_this_round = 0;
	s->round_failed = false;
}

bool mb_redis_sentinel_failed(struct mb_redis_sentinel *s, int64_t now_ms)
{
	s->next = (s->next + 1) % s->loc.sentinel_count;
	if (++s->failed_this_round < s->loc.sentinel_count)
		return false;
	s->failed_this_round = 0;
	s->round_failed = true;
	s->round_failed_ms = now_ms;
	return true;
}

void mb_redis_sentinel_stale(struct mb_redis_sentinel *s)
{
	s->next = (s->next + 1) % s->loc.sentinel_count;
}

static struct timeval timeout_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* ask_one - one sentinel, blocking: 1 and *master_r, 0 (it does not
   know the master), -1 (unreachable or a bad answer); error_r either way */
static int ask_one(const struct mb_redis_sentinel *s, const struct mb_redis_endpoint *sentinel,
		   struct mb_redis_endpoint *master_r, struct mb_error_text *error_r)
{
	redisContext *conn = redisConnectWithTimeout(sentinel->host, sentinel->port,
						     timeout_tv(MB_SENTINEL_TIMEOUT_MS));
	redisReply *reply = NULL;
	int ret = -1;

	if (conn == NULL || conn->err != 0) {
		mb_set_error(error_r, "sentinel %s:%d: cannot connect: %s", sentinel->host, sentinel->port,
			     conn != NULL ? conn->errstr : "out of memory");
		goto done;
	}
	redisSetTimeout(conn, timeout_tv(MB_SENTINEL_TIMEOUT_MS));
	if (s->loc.sentinel_password[0] != '\0') {
		reply = s->loc.sentinel_user[0] != '\0' ?
			redisCommand(conn, "AUTH %s %s", s->loc.sentinel_user, s->loc.sentinel_password) :
			redisCommand(conn, "AUTH %s", s->loc.sentinel_password);
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			mb_set_error(error_r, "sentinel %s:%d: AUTH: %.200s", sentinel->host, sentinel->port,
				     reply != NULL ? reply->str : conn->errstr);
			goto done;
		}
		freeReplyObject(reply);
	}
	reply = redisCommand(conn, "SENTINEL get-master-addr-by-name %s", s->loc.master_name);
	if (reply == NULL) {
		mb_set_error(error_r, "sentinel %s:%d: %s", sentinel->host, sentinel->port,
			     conn->errstr[0] != '\0' ? conn->errstr : "connection lost");
		goto done;
	}
	struct mb_error_text parse_error;
	ret = mb_redis_sentinel_parse_master(reply, s->loc.master_name, master_r, &parse_error);
	if (ret < 0)
		mb_set_error(error_r, "sentinel %s:%d: %s", sentinel->host, sentinel->port, parse_error.text);
	else if (ret == 0)
		mb_set_error(error_r, "sentinel %s:%d does not know a master called %s", sentinel->host,
			     sentinel->port, s->loc.master_name);
done:
	if (reply != NULL)
		freeReplyObject(reply);
	if (conn != NULL)
		redisFree(conn);
	return ret;
}

int mb_redis_sentinel_discover(struct mb_redis_sentinel *s, struct mb_redis_endpoint *master_r,
			       struct mb_error_text *error_r)
{
	int64_t now = mb_redis_now_ms();

	if (!mb_redis_sentinel_may_ask(s, now))
		return mb_set_error(error_r, "%s (sentinels asked again within %d ms)", s->last_error.text,
				    MB_SENTINEL_RETRY_MS);
	for (size_t tries = 0; tries < s->loc.sentinel_count; tries++) {
		struct mb_error_text one_error;
		if (ask_one(s, mb_redis_sentinel_next(s), master_r, &one_error) > 0) {
			mb_redis_sentinel_answered(s);
			return 0;
		}
		mb_set_error(&s->last_error, "no sentinel gave the address of master %s (last: %s)",
			     s->loc.master_name, one_error.text);
		if (mb_redis_sentinel_failed(s, mb_redis_now_ms()))
			break;
	}
	return mb_set_error(error_r, "%s", s->last_error.text);
}

int mb_redis_confirm_master(redisContext *conn, struct mb_error_text *error_r)
{
	redisReply *reply = redisCommand(conn, "ROLE");

	if (reply == NULL)
		return mb_set_error(error_r, "ROLE: %s", conn->errstr[0] != '\0' ? conn->errstr : "connection lost");
	int role = mb_redis_role_parse(reply, error_r);
	freeReplyObject(reply);
	return role == 1 ? 0 : -1;
}
