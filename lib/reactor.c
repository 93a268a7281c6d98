/* reactor.c - the one event loop under the daemons
 *
 * SUMMARY
 *	A single-threaded epoll reactor with timers, after Redis's ae.c.
 *	Each round: the before-sleep hook, one epoll_wait (no longer than
 *	the nearest timer, nor than MB_REACTOR_MAX_WAIT_MS), the I/O
 *	handlers of what is ready, the deferred calls, the timers that are
 *	due, the deferred calls again. The loop ends when mb_reactor_stop()
 *	is called or a stop signal was caught (mb_stop_requested()); signals
 *	are installed without SA_RESTART, so they cut a wait short.
 *
 *	Descriptors are kept in an array indexed by fd (fds are small and
 *	dense), each with its watched directions, a handler and data per
 *	direction, and a generation that changes every time the fd stops
 *	being watched at all. The events of a round are copied out with the
 *	generation they were fetched under; one whose fd has been
 *	unregistered since, or whose direction is no longer watched, is
 *	dropped. That is what lets a handler close and free a connection
 *	while events for it are still pending in the same round.
 *
 *	Timers are an unsorted list, as in ae.c: the daemons have a few
 *	(one housekeeping tick each), so a scan per round costs nothing. A
 *	cancelled timer is only marked, and freed at the start of the next
 *	timer pass, so cancelling from inside any handler is safe.
 *
 * DIAGNOSTICS
 *	Functions that can fail return -1 with error_r; nothing is logged
 *	here. A failed epoll_ctl when unwatching is ignored: the direction
 *	is forgotten all the same, and its events are dropped.
 */
#include "reactor.h"

#include "daemon.h"
#include "grow.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* events taken from the kernel per round (more wait for the next one) */
#define REACTOR_BATCH 64

struct watched_fd {
	int mask;                /* MB_READABLE | MB_WRITABLE now watched */
	unsigned int generation; /* changes each time mask drops to 0 */
	mb_io_handler *on_readable, *on_writable;
	void *readable_data, *writable_data;
};

/* one event of this round, as it was when fetched */
struct fired {
	int fd;
	int mask;
	unsigned int generation;
};

struct timer {
	long long id;
	long long due_ms;        /* on the monotonic clock */
	mb_timer_handler *handler;
	void *data;
	bool cancelled;          /* freed at the next timer pass */
	struct timer *next;
};

struct deferred {
	mb_deferred_fn *fn;
	void *data;
};

struct mb_reactor {
	int epoll_fd;
	struct watched_fd *fds;
	size_t fd_capacity;
	struct epoll_event events[REACTOR_BATCH];
	struct fired fired[REACTOR_BATCH];
	struct timer *timers;
	long long last_timer_id;
	struct deferred *deferred;
	size_t deferred_count, deferred_capacity;
	mb_before_sleep_fn *before_sleep;
	void *before_sleep_data;
	bool stop;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct mb_reactor *mb_reactor_new(struct mb_error_text *error_r)
{
	struct mb_reactor *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		mb_set_error(error_r, "out of memory creating the event loop");
		return NULL;
	}
	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epoll_fd < 0) {
		mb_set_error(error_r, "epoll_create1: %s", strerror(errno));
		free(r);
		return NULL;
	}
	return r;
}

static void run_deferred(struct mb_reactor *r)
{
	/* by index: a call may defer more (and so move the array) */
	for (size_t i = 0; i < r->deferred_count; i++) {
		struct deferred call = r->deferred[i];
		call.fn(call.data);
	}
	r->deferred_count = 0;
}

void mb_reactor_free(struct mb_reactor **reactor)
{
	struct mb_reactor *r = *reactor;

	if (r == NULL)
		return;
	run_deferred(r);
	while (r->timers != NULL) {
		struct timer *t = r->timers;
		r->timers = t->next;
		free(t);
	}
	close(r->epoll_fd);
	free(r->deferred);
	free(r->fds);
	free(r);
	*reactor = NULL;
}

static uint32_t epoll_events(int mask)
{
	return ((mask & MB_READABLE) != 0 ? EPOLLIN : 0) | ((mask & MB_WRITABLE) != 0 ? EPOLLOUT : 0);
}

/* make_room - a slot for fd, new slots zeroed */
static int make_room(struct mb_reactor *r, int fd, struct mb_error_text *error_r)
{
	size_t old = r->fd_capacity;
	struct watched_fd *grown = mb_grow(r->fds, &r->fd_capacity, (size_t)fd + 1, sizeof(*r->fds), 64);

	if (grown == NULL)
		return mb_set_error(error_r, "out of memory watching fd %d", fd);
	memset(grown + old, 0, (r->fd_capacity - old) * sizeof(*grown));
	r->fds = grown;
	return 0;
}

int mb_reactor_watch(struct mb_reactor *r, int fd, int mask, mb_io_handler *handler, void *data,
		     struct mb_error_text *error_r)
{
	if (fd < 0 || (mask & ~(MB_READABLE | MB_WRITABLE)) != 0 || (mask != 0 && handler == NULL))
		return mb_set_error(error_r, "cannot watch fd %d for mask %d: not a descriptor, direction or handler",
				    fd, mask);
	if ((size_t)fd >= r->fd_capacity && make_room(r, fd, error_r) < 0)
		return -1;
	struct watched_fd *w = &r->fds[fd];
	int want = w->mask | mask;
	if (want != w->mask) {
		/* only when it changes: no syscall for a direction already watched */
		struct epoll_event ev = { .events = epoll_events(want), .data.fd = fd };
		if (epoll_ctl(r->epoll_fd, w->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0)
			return mb_set_error(error_r, "cannot watch fd %d (epoll_ctl): %s", fd, strerror(errno));
		w->mask = want;
	}
	if ((mask & MB_READABLE) != 0) {
		w->on_readable = handler;
		w->readable_data = data;
	}
	if ((mask & MB_WRITABLE) != 0) {
		w->on_writable = handler;
		w->writable_data = data;
	}
	return 0;
}

void mb_reactor_unwatch(struct mb_reactor *r, int fd, int mask)
{
	if (fd < 0 || (size_t)fd >= r->fd_capacity)
		return;
	struct watched_fd *w = &r->fds[fd];
	int want = w->mask & ~mask;
	if (want == w->mask)
		return;
	if (want == 0) {
		epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		w->generation++; /* events fetched before now are stale */
	} else {
		struct epoll_event ev = { .events = epoll_events(want), .data.fd = fd };
		epoll_ctl(r->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
	}
	w->mask = want;
	if ((want & MB_READABLE) == 0) {
		w->on_readable = NULL;
		w->readable_data = NULL;
	}
	if ((want & MB_WRITABLE) == 0) {
		w->on_writable = NULL;
		w->writable_data = NULL;
	}
}

int mb_reactor_watch_only(struct mb_reactor *r, int fd, int mask, mb_io_handler *on_readable,
			  mb_io_handler *on_writable, void *data, struct mb_error_text *error_r)
{
	/* watch first: going from reading to writing never passes through
	   "not watched", which would drop this round's other events */
	if ((mask & MB_READABLE) != 0 && mb_reactor_watch(r, fd, MB_READABLE, on_readable, data, error_r) < 0)
		return -1;
	if ((mask & MB_WRITABLE) != 0 && mb_reactor_watch(r, fd, MB_WRITABLE, on_writable, data, error_r) < 0)
		return -1;
	mb_reactor_unwatch(r, fd, ~mask & (MB_READABLE | MB_WRITABLE));
	return 0;
}

int mb_reactor_watched(const struct mb_reactor *r, int fd)
{
	if (fd < 0 || (size_t)fd >= r->fd_capacity)
		return 0;
	return r->fds[fd].mask;
}

long long mb_reactor_add_timer(struct mb_reactor *r, long long ms, mb_timer_handler *handler,
			       void *data, struct mb_error_text *error_r)
{
	struct timer *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		mb_set_error(error_r, "out of memory adding a timer of %lld ms", ms);
		return -1;
	}
	t->id = ++r->last_timer_id;
	t->due_ms = now_ms() + (ms > 0 ? ms : 0);
	t->handler = handler;
	t->data = data;
	/* at the head: a timer added by a timer handler waits for the next pass */
	t->next = r->timers;
	r->timers = t;
	return t->id;
}

void mb_reactor_cancel_timer(struct mb_reactor *r, long long id)
{
	for (struct timer *t = r->timers; t != NULL; t = t->next) {
		if (t->id == id) {
			t->cancelled = true;
			return;
		}
	}
}

int mb_reactor_defer(struct mb_reactor *r, mb_deferred_fn *fn, void *data, struct mb_error_text *error_r)
{
	struct deferred *grown = mb_grow(r->deferred, &r->deferred_capacity, r->deferred_count + 1,
					 sizeof(*r->deferred), 64);

	if (grown == NULL)
		return mb_set_error(error_r, "out of memory deferring a call (%zu queued)", r->deferred_count);
	r->deferred = grown;
	r->deferred[r->deferred_count].fn = fn;
	r->deferred[r->deferred_count].data = data;
	r->deferred_count++;
	return 0;
}

void mb_reactor_set_before_sleep(struct mb_reactor *r, mb_before_sleep_fn *fn, void *data)
{
	r->before_sleep = fn;
	r->before_sleep_data = data;
}

void mb_reactor_stop(struct mb_reactor *r)
{
	r->stop = true;
}

/* wait_ms - how long this round may wait: until the nearest timer, at
   most MB_REACTOR_MAX_WAIT_MS, not at all with calls still deferred */
static int wait_ms(const struct mb_reactor *r)
{
	long long wait = MB_REACTOR_MAX_WAIT_MS, now = now_ms();

	if (r->deferred_count > 0)
		return 0;
	for (const struct timer *t = r->timers; t != NULL; t = t->next) {
		if (!t->cancelled && t->due_ms - now < wait)
			wait = t->due_ms - now;
	}
	return wait < 0 ? 0 : (int)wait;
}

/* still_wanted - whether the event fetched as f is still to be handled
   in direction: watched that way, and not unregistered since */
static bool still_wanted(const struct mb_reactor *r, const struct fired *f, int direction)
{
	const struct watched_fd *w = &r->fds[f->fd];

	return (f->mask & direction) != 0 && (w->mask & direction) != 0 && w->generation == f->generation;
}

static void dispatch(struct mb_reactor *r, int count)
{
	for (int i = 0; i < count; i++) {
		uint32_t events = r->events[i].events;
		int fd = r->events[i].data.fd, mask = 0;
		if ((events & EPOLLIN) != 0)
			mask |= MB_READABLE;
		if ((events & EPOLLOUT) != 0)
			mask |= MB_WRITABLE;
		if ((events & (EPOLLERR | EPOLLHUP)) != 0)
			mask |= MB_READABLE | MB_WRITABLE; /* the handlers find out which */
		r->fired[i] = (struct fired){ .fd = fd, .mask = mask, .generation = r->fds[fd].generation };
	}
	/* handlers may watch and unwatch, and so move r->fds: look up each time */
	for (int i = 0; i < count; i++) {
		const struct fired *f = &r->fired[i];
		if (still_wanted(r, f, MB_READABLE))
			r->fds[f->fd].on_readable(r, f->fd, MB_READABLE, r->fds[f->fd].readable_data);
		if (still_wanted(r, f, MB_WRITABLE))
			r->fds[f->fd].on_writable(r, f->fd, MB_WRITABLE, r->fds[f->fd].writable_data);
	}
}

/* free_cancelled - before a timer pass, when no timer handler runs */
static void free_cancelled(struct mb_reactor *r)
{
	struct timer **link = &r->timers;

	while (*link != NULL) {
		struct timer *t = *link;
		if (t->cancelled) {
			*link = t->next;
			free(t);
		} else {
			link = &t->next;
		}
	}
}

static void process_timers(struct mb_reactor *r)
{
	long long now = now_ms();

	free_cancelled(r);
	for (struct timer *t = r->timers; t != NULL; t = t->next) {
		if (t->cancelled || t->due_ms > now)
			continue;
		long long next = t->handler(r, t->id, t->data);
		if (t->cancelled)
			continue; /* it cancelled itself */
		if (next < 0)
			t->cancelled = true;
		else
			t->due_ms = now_ms() + next;
	}
}

int mb_reactor_run(struct mb_reactor *r, struct mb_error_text *error_r)
{
	while (!r->stop && !mb_stop_requested()) {
		if (r->before_sleep != NULL)
			r->before_sleep(r, r->before_sleep_data);
		int count = epoll_wait(r->epoll_fd, r->events, REACTOR_BATCH, wait_ms(r));
		if (count < 0 && errno != EINTR)
			return mb_set_error(error_r, "epoll_wait: %s", strerror(errno));
		if (count > 0)
			dispatch(r, count);
		run_deferred(r);
		process_timers(r);
		run_deferred(r);
	}
	r->stop = false;
	return 0;
}
