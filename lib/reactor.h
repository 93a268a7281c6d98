/* reactor.h - the one event loop under the daemons (see reactor.c).

   A single-threaded epoll reactor with timers, after Redis's ae.c: a
   descriptor is watched for reading and for writing independently, each
   direction with its own handler; timers count milliseconds on the
   monotonic clock; calls can be deferred until the current round of
   events is over; mb_reactor_run() turns until mb_reactor_stop() or a
   stop signal (lib/daemon.c: mb_signals_install, mb_stop_requested).

   What the reactor guarantees, and what its users rely on:
   - A handler is never re-entered: handlers (I/O, timers, deferred
     calls, the before-sleep hook) run one at a time from
     mb_reactor_run(), never from inside watch, unwatch, add_timer,
     cancel_timer or defer. mb_reactor_run() is not called recursively.
   - Unwatching during a round is safe: once a descriptor is watched in
     neither direction, every event already fetched for it in this round
     is dropped, even if the same fd number is watched again at once (a
     new connection got the closed one's number). So a handler may
     unwatch, close and free the object its data points at; only other
     objects that a pending event may still reach (a session an upstream
     reports to) need mb_reactor_defer().
   - Deferred calls run after the round's I/O events and again after its
     timers, in the order asked; a deferred call may defer more, which
     run in the same pass.

   Attaching a non-blocking hiredis connection (redisAsyncContext) next.
   Not written yet; this is how it fits, as hiredis's own adapters/ae.h
   does it for ae.c:
   - redisAsyncConnect() gives a context whose c.fd is connecting. The
     adapter allocates a small struct { redisAsyncContext *ac; struct
     mb_reactor *reactor; int fd; long long timer; } and fills ac->ev:
     addRead  = mb_reactor_watch(r, fd, MB_READABLE, on_read, e)
     delRead  = mb_reactor_unwatch(r, fd, MB_READABLE)
     addWrite = mb_reactor_watch(r, fd, MB_WRITABLE, on_write, e)
     delWrite = mb_reactor_unwatch(r, fd, MB_WRITABLE)
     cleanup  = unwatch both, cancel the timer, free the struct
     where on_read calls redisAsyncHandleRead(e->ac) and on_write
     redisAsyncHandleWrite(e->ac). Watching an already watched
     direction again is a no-op, as hiredis wants its hooks idempotent.
     A failed watch (out of memory) is reported by disconnecting: the
     store then answers "unavailable" as it does today.
   - A connect or command timeout is a reactor timer: armed when a
     command is sent (or by hiredis >= 1.0's ev.scheduleTimer hook,
     cancelling the previous one first), cancelled when the reply comes;
     its handler calls redisAsyncHandleTimeout() (hiredis >= 1.0) or
     redisAsyncDisconnect() (Debian's 0.14, which has no timer hook) and
     returns MB_TIMER_DONE.
   - Why it is safe: hiredis calls cleanup from inside
     redisAsyncHandleRead() when the connection drops, and frees the
     context on return. The struct is freed there too, while an event
     for the other direction of the same fd may be pending in this
     round: the reactor drops that event (the fd is no longer watched),
     so nothing reaches freed memory. Reply callbacks run inside
     on_read and may send further commands (addWrite): that only changes
     the watch, and never re-enters redisAsyncHandleRead. */
#ifndef MAILBAG_REACTOR_H
#define MAILBAG_REACTOR_H

#include "error-text.h"

#define MB_READABLE 1
#define MB_WRITABLE 2

/* What a timer handler returns to stop: not rescheduled, its id gone. */
#define MB_TIMER_DONE (-1)

/* The longest one wait for events lasts (ms), whatever the timers say:
   a stop signal landing just before the wait is seen this soon. */
#define MB_REACTOR_MAX_WAIT_MS 1000

struct mb_reactor;

/* fd is ready in direction mask (MB_READABLE or MB_WRITABLE; a hang-up
   or an error is reported as ready in each watched direction). */
typedef void mb_io_handler(struct mb_reactor *reactor, int fd, int mask, void *data);
/* A timer is due: return the milliseconds until it is due again, or
   MB_TIMER_DONE. */
typedef long long mb_timer_handler(struct mb_reactor *reactor, long long id, void *data);
typedef void mb_deferred_fn(void *data);
typedef void mb_before_sleep_fn(struct mb_reactor *reactor, void *data);

/* A reactor, or NULL with error_r. */
struct mb_reactor *mb_reactor_new(struct mb_error_text *error_r);
/* Run the deferred calls still queued, then free everything (timers
   included; descriptors are the caller's to close). Sets *reactor NULL. */
void mb_reactor_free(struct mb_reactor **reactor);

/* Watch fd (non-blocking) in the directions of mask, each calling
   handler(reactor, fd, direction, data); a direction already watched
   gets the new handler and data. 0, or -1 with error_r. */
int mb_reactor_watch(struct mb_reactor *reactor, int fd, int mask, mb_io_handler *handler, void *data,
		     struct mb_error_text *error_r);
/* Stop watching fd in the directions of mask (those not watched are
   ignored). Unwatch both before closing fd. */
void mb_reactor_unwatch(struct mb_reactor *reactor, int fd, int mask);
/* Watch fd in exactly the directions of mask, reading with on_readable
   and writing with on_writable, both with data; the other direction
   (or both, for mask 0) is unwatched. What a connection calls after
   each step: reading while it wants input, writing while output is
   pending. 0, or -1 with error_r. */
int mb_reactor_watch_only(struct mb_reactor *reactor, int fd, int mask, mb_io_handler *on_readable,
			  mb_io_handler *on_writable, void *data, struct mb_error_text *error_r);
/* The directions fd is watched in now (0 for none). */
int mb_reactor_watched(const struct mb_reactor *reactor, int fd);

/* Call handler in ms milliseconds (0: in this round's timer pass, or the
   next). The timer's id (> 0), or -1 with error_r. */
long long mb_reactor_add_timer(struct mb_reactor *reactor, long long ms, mb_timer_handler *handler,
			       void *data, struct mb_error_text *error_r);
/* Cancel a timer that has not returned MB_TIMER_DONE; an unknown id is
   ignored. Safe from inside any handler, the timer's own included. */
void mb_reactor_cancel_timer(struct mb_reactor *reactor, long long id);

/* Call fn(data) after the current round of events: to free an object
   a pending event may still point to, or to report an outcome without
   re-entering the caller. 0, or -1 with error_r (the call is lost). */
int mb_reactor_defer(struct mb_reactor *reactor, mb_deferred_fn *fn, void *data,
		     struct mb_error_text *error_r);

/* Call fn(reactor, data) before each wait for events (NULL: none). */
void mb_reactor_set_before_sleep(struct mb_reactor *reactor, mb_before_sleep_fn *fn, void *data);

/* Serve events until mb_reactor_stop() or mb_stop_requested(). 0, or -1
   with error_r when waiting for events fails. */
int mb_reactor_run(struct mb_reactor *reactor, struct mb_error_text *error_r);
/* Make mb_reactor_run() return after the current round (at once when
   it is not running: the next call returns before waiting). */
void mb_reactor_stop(struct mb_reactor *reactor);

#endif
