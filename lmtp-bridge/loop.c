/* loop.c - the single-threaded epoll loop of mailbag-lmtpd
 *
 * SUMMARY
 *	Every descriptor the bridge has (its listening socket, Postfix's
 *	sessions, the Dovecot sessions they open) is a struct watch whose
 *	handler runs when epoll says it is ready. Nothing blocks: a step
 *	that must wait returns and is picked up at the next event. A tick
 *	about once a second serves timeouts and housekeeping. SIGTERM and
 *	SIGINT end the loop; SIGHUP is noted for the tick.
 */
#include "loop.h"
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int epoll_fd = -1;
int loop_init(void)
{
	if (mb_signals_install() < 0)
		return -1;
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return epoll_fd < 0 ? -1 : 0;
}

int loop_set(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	int ret;

	if (events == w->events)
		return 0;
	if (events == 0)
		ret = epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	else if (w->events == 0)
		ret = epoll_ctl(epoll_fd, EPOLL_CTL_ADD, w->fd, &ev);
	else
		ret = epoll_ctl(epoll_fd, EPOLL_CTL_MOD, w->fd, &ev);
	if (ret == 0)
		w->events = events;
	return ret;
}

void loop_forget(struct watch *w)
{
	if (w->events != 0 && w->fd >= 0)
		epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	w->events = 0;
	w->fd = -1;
}

struct deferred {
	void *ptr;
	void (*fn)(void *ptr);
};

static struct deferred *deferred;
static size_t deferred_count, deferred_alloc;

int loop_defer(void *ptr, void (*fn)(void *ptr))
{
	if (deferred_count == deferred_alloc) {
		size_t alloc = deferred_alloc == 0 ? 64 : deferred_alloc * 2;
		struct deferred *grown = realloc(deferred, alloc * sizeof(*grown));
		if (grown == NULL)
			return -1;
		deferred = grown;
		deferred_alloc = alloc;
	}
	deferred[deferred_count].ptr = ptr;
	deferred[deferred_count].fn = fn;
	deferred_count++;
	return 0;
}

/* run_deferred - the calls asked for; a call may ask for more, which
   run in the same pass */
static void run_deferred(void)
{
	for (size_t i = 0; i < deferred_count; i++) {
		struct deferred call = deferred[i];
		call.fn(call.ptr);
	}
	deferred_count = 0;
}

void loop_stop(void)
{
	mb_request_stop();
}

bool loop_take_reload_request(void)
{
	return mb_take_reload_request();
}

int loop_run(void (*tick)(void *context, time_t now), void *context)
{
	struct epoll_event events[64];
	time_t last_tick = time(NULL);

	while (!mb_stop_requested()) {
		int n = epoll_wait(epoll_fd, events, 64, 1000);
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;
			if (w->fd >= 0)
				w->handler(w, events[i].events);
		}
		run_deferred();
		time_t now = time(NULL);
		if (now != last_tick) {
			last_tick = now;
			tick(context, now);
			run_deferred();
		}
	}
	run_deferred();
	return 0;
}
