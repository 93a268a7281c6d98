/* loop.h - the single-threaded epoll loop of mailbag-lmtpd (see loop.c). */
#ifndef MAILBAG_LOOP_H
#define MAILBAG_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* One watched descriptor: handler runs with the epoll events. */
struct watch {
	int fd;
	uint32_t events; /* EPOLLIN / EPOLLOUT now watched; 0 when not added */
	void (*handler)(struct watch *watch, uint32_t events);
	void *owner;
};

int loop_init(void);
/* Watch (or change, or with events 0 stop watching) w->fd. 0 or -1. */
int loop_set(struct watch *w, uint32_t events);
/* Forget w before its fd is closed; sets w->fd to -1, so an event
   already fetched for it in this round is skipped. */
void loop_forget(struct watch *w);
/* Call fn(ptr) after this round of events, in the order asked: to free
   an object a pending event may still point to, or to report an outcome
   without re-entering the caller. 0, or -1 when out of memory (the call
   is then lost: callers log it). */
int loop_defer(void *ptr, void (*fn)(void *ptr));
/* Run until loop_stop() or SIGTERM/SIGINT; tick about once a second. */
int loop_run(void (*tick)(void *context, time_t now), void *context);
void loop_stop(void);
/* Whether SIGHUP arrived since the last call. */
bool loop_take_reload_request(void);

#endif
