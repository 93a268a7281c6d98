/* redis-state.h - how the store's state is kept in Redis, shared by the
 * synchronous backend (store-redis.c) and the non-blocking one
 * (redis-async.c), so that both write the same keys the same way. */
#ifndef MAILBAG_REDIS_STATE_H
#define MAILBAG_REDIS_STATE_H

/* state entries are plain keys under this prefix, expiring by EXAT */
#define MB_REDIS_STATE_PREFIX "mailbag:state:"

/* INCRBY with the expiry set when the counter is new (or lost it):
   KEYS[1] the counter, ARGV[1] the delta, ARGV[2] the expiry */
#define MB_REDIS_COUNTER_SCRIPT \
	"local v = redis.call('INCRBY', KEYS[1], ARGV[1]) " \
	"if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIREAT', KEYS[1], ARGV[2]) end " \
	"return v"

#endif
