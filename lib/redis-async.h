/* redis-async.h - the store's state on Redis without blocking, on lib/reactor (see redis-async.c). */
#ifndef MAILBAG_REDIS_ASYNC_H
#define MAILBAG_REDIS_ASYNC_H

#include "error-text.h"

struct mb_reactor;
struct mb_redis_async;
struct mb_state_op;

/* A non-blocking connection to the Redis store at location ("redis://"
   or "unix:"), made when first needed and again (at most once a second)
   after it is lost; NULL with error_r for a location that is not Redis's
   or out of memory. */
struct mb_redis_async *mb_redis_async_new(struct mb_reactor *reactor, const char *location,
					  struct mb_error_text *error_r);
/* Close the connection: every operation still out fails (its done is
   called). Sets *async NULL. */
void mb_redis_async_free(struct mb_redis_async **async);

/* An operation is answered (op->status DONE or FAILED). */
typedef void mb_redis_op_done(void *data, struct mb_state_op *op);

/* Send one state operation of a journal (lib/state-journal.h), pipelined
   with every other one; op must stay valid until done(data, op) is
   called, from the reactor, never from inside this call. 0 sent (status
   SENT), or -1 when it could not be (status FAILED, done not called). */
int mb_redis_async_send(struct mb_redis_async *async, struct mb_state_op *op, mb_redis_op_done *done,
			void *data);

#endif
