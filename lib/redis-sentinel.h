/* redis-sentinel.h - finding the Redis master through Sentinel, and
   telling a failover from an ordinary error (see redis-sentinel.c). */
#ifndef MAILBAG_REDIS_SENTINEL_H
#define MAILBAG_REDIS_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "error-text.h"
#include "redis-location.h"

/* how long one sentinel may take to connect and to answer */
#define MB_SENTINEL_TIMEOUT_MS 300
/* after every sentinel failed, how long before they are asked again */
#define MB_SENTINEL_RETRY_MS 1000

/* What an error reply from a data node means for its connection. */
enum mb_redis_error_kind {
	/* the command's own error (wrong type, script error): the
	   connection and the node are fine */
	MB_REDIS_ERROR_COMMAND,
	/* the node is no longer (or not yet) the master to use: READONLY
	   (a replica, e.g. a demoted master), LOADING (reading its data
	   after a restart), MASTERDOWN (a replica whose master is gone),
	   NOREPLICAS, TRYAGAIN. Drop the connection, find the master again. */
	MB_REDIS_ERROR_FAILOVER,
};

/* The kind of an error reply's text (reply->str). Pure. */
enum mb_redis_error_kind mb_redis_error_kind(const char *reply_text);

/* The address in a reply to SENTINEL get-master-addr-by-name: 1 and
   *master_r, 0 when the sentinel does not know the name (nil), -1 and
   error_r for anything else. Pure: a non-blocking client feeds it the
   reply it read. */
int mb_redis_sentinel_parse_master(const redisReply *reply, const char *master_name,
				   struct mb_redis_endpoint *master_r,
				   struct mb_error_text *error_r);

/* Whether a reply to ROLE says "master": 1, 0 (a replica or a
   sentinel: the role is written into error_r), -1 (not a ROLE reply). Pure. */
int mb_redis_role_parse(const redisReply *reply, struct mb_error_text *error_r);

/* Which sentinels to ask and when: one per store connection. */
struct mb_redis_sentinel;

/* A discoverer for loc's sentinels and master name (loc is copied;
   loc->sentinel_count > 0). NULL when out of memory. */
struct mb_redis_sentinel *mb_redis_sentinel_new(const struct mb_redis_location *loc);
void mb_redis_sentinel_free(struct mb_redis_sentinel **sentinelp);

/* Whether discovery may run now (now_ms: a monotonic clock in ms): not
   within MB_SENTINEL_RETRY_MS of a round in which no sentinel answered,
   so that a set that is down is not hammered. */
bool mb_redis_sentinel_may_ask(const struct mb_redis_sentinel *sentinel, int64_t now_ms);

/* The sentinel to ask next: the one that answered last, then the
   others in turn (mb_redis_sentinel_answered/_failed move it on). */
const struct mb_redis_endpoint *mb_redis_sentinel_next(const struct mb_redis_sentinel *sentinel);
void mb_redis_sentinel_answered(struct mb_redis_sentinel *sentinel);
/* returns true when every sentinel of this round has failed: the round
   is over, and mb_redis_sentinel_may_ask says no for a while */
bool mb_redis_sentinel_failed(struct mb_redis_sentinel *sentinel, int64_t now_ms);

/* The address the last answer gave did not lead to a master (refused,
   or ROLE said replica): start with the next sentinel next time, in
   case the one that answered is the one that lags. */
void mb_redis_sentinel_stale(struct mb_redis_sentinel *sentinel);

/* Blocking: ask the sentinels in turn (MB_SENTINEL_TIMEOUT_MS each)
   for the master's address. 0 and *master_r, or -1 and error_r (no
   sentinel answered, none knows the master, or asked too recently). */
int mb_redis_sentinel_discover(struct mb_redis_sentinel *sentinel,
			       struct mb_redis_endpoint *master_r,
			       struct mb_error_text *error_r);

/* Blocking: ROLE on a connected, authenticated data node: 0 when it is
   the master, else -1 and error_r (a replica: the failover is not over,
   or the sentinels' answer is stale). */
int mb_redis_confirm_master(redisContext *conn, struct mb_error_text *error_r);

/* The monotonic clock in milliseconds, for mb_redis_sentinel_may_ask. */
int64_t mb_redis_now_ms(void);

#endif
