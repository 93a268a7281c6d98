/* test-reactor.c - the event loop (lib/reactor.c), driven through
 * socketpairs: reading and writing watched apart, timers that fire,
 * reschedule and are cancelled, deferred calls after the round, an fd
 * unwatched (and its number reused) while its event is pending in the
 * same round, and the ways the loop stops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "reactor.h"

struct pair {
	int fd[2];
};

/* what the handlers saw */
struct record {
	int reads, writes, before_sleeps, timer_fires, deferred_runs;
	int reads_at_deferred;    /* reads when the first deferred call ran */
	int sleeps_at_deferred;   /* before_sleeps then */
	long long timer_id;
	struct mb_reactor *reactor;
	struct pair *other;       /* for the pending-event test */
	int fresh[2];             /* the pipe put under a closed fd's number */
	bool stop_on_write;
};

static struct record rec;

static void open_pair(struct pair *p)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fd), 0);
}

static void close_pair(struct pair *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
}

static struct mb_reactor *new_reactor(void)
{
	struct mb_error_text error;
	struct mb_reactor *r = mb_reactor_new(&error);

	if (r == NULL)
		fail_msg("mb_reactor_new: %s", error.text);
	memset(&rec, 0, sizeof(rec));
	rec.reactor = r;
	return r;
}

static void watch_ok(struct mb_reactor *r, int fd, int mask, mb_io_handler *handler, void *data)
{
	struct mb_error_text error;

	if (mb_reactor_watch(r, fd, mask, handler, data, &error) < 0)
		fail_msg("watch fd %d: %s", fd, error.text);
}

static void run_ok(struct mb_reactor *r)
{
	struct mb_error_text error;

	if (mb_reactor_run(r, &error) < 0)
		fail_msg("run: %s", error.text);
}

static long long stop_timer(struct mb_reactor *r, long long id, void *data)
{
	(void)id;
	(void)data;
	mb_reactor_stop(r);
	return MB_TIMER_DONE;
}

/* add_stop_after - a safety net: the run ends after ms at the latest */
static long long add_stop_after(struct mb_reactor *r, long long ms)
{
	struct mb_error_text error;
	long long id = mb_reactor_add_timer(r, ms, stop_timer, NULL, &error);

	if (id < 0)
		fail_msg("add_timer: %s", error.text);
	return id;
}

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Reading and writing apart */

static void on_read_drain(struct mb_reactor *r, int fd, int mask, void *data)
{
	char buf[64];

	(void)data;
	assert_int_equal(mask, MB_READABLE);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	rec.reads++;
	mb_reactor_stop(r);
}

static void on_write_count(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)fd;
	(void)data;
	assert_int_equal(mask, MB_WRITABLE);
	rec.writes++;
	if (rec.stop_on_write)
		mb_reactor_stop(r);
}

static void test_read_and_write_interest_are_separate(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct pair p;

	open_pair(&p);
	/* reading only: a writable socket calls nothing until data comes */
	watch_ok(r, p.fd[0], MB_READABLE, on_read_drain, NULL);
	assert_int_equal(mb_reactor_watched(r, p.fd[0]), MB_READABLE);
	long long safety = add_stop_after(r, 50);
	run_ok(r);
	assert_int_equal(rec.reads, 0);
	assert_int_equal(rec.writes, 0);
	assert_int_equal(write(p.fd[1], "x", 1), 1);
	mb_reactor_cancel_timer(r, safety);
	add_stop_after(r, 2000);
	run_ok(r);
	assert_int_equal(rec.reads, 1);
	assert_int_equal(rec.writes, 0);

	/* writing too, with its own handler: called while nothing is read */
	rec.stop_on_write = true;
	watch_ok(r, p.fd[0], MB_WRITABLE, on_write_count, NULL);
	assert_int_equal(mb_reactor_watched(r, p.fd[0]), MB_READABLE | MB_WRITABLE);
	run_ok(r);
	assert_int_equal(rec.reads, 1);
	assert_int_equal(rec.writes, 1);

	/* writing no more: reading goes on alone */
	mb_reactor_unwatch(r, p.fd[0], MB_WRITABLE);
	assert_int_equal(mb_reactor_watched(r, p.fd[0]), MB_READABLE);
	assert_int_equal(write(p.fd[1], "y", 1), 1);
	run_ok(r);
	assert_int_equal(rec.reads, 2);
	assert_int_equal(rec.writes, 1);

	/* unwatching what is not watched changes nothing */
	mb_reactor_unwatch(r, p.fd[0], MB_WRITABLE);
	mb_reactor_unwatch(r, 999, MB_READABLE);
	mb_reactor_unwatch(r, p.fd[0], MB_READABLE);
	assert_int_equal(mb_reactor_watched(r, p.fd[0]), 0);
	assert_int_equal(mb_reactor_watched(r, 12345), 0);
	close_pair(&p);
	mb_reactor_free(&r);
	assert_null(r);
}

static void test_a_bad_watch_says_why(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct mb_error_text error;
	int fds[2];

	assert_int_equal(mb_reactor_watch(r, -1, MB_READABLE, on_read_drain, NULL, &error), -1);
	assert_non_null(strstr(error.text, "fd -1"));
	/* a closed descriptor: epoll refuses it, and nothing is watched */
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(mb_reactor_watch(r, fds[0], MB_READABLE, on_read_drain, NULL, &error), -1);
	assert_non_null(strstr(error.text, "epoll_ctl"));
	assert_int_equal(mb_reactor_watched(r, fds[0]), 0);
	mb_reactor_free(&r);
}

/* Timers */

static long long every_10ms_three_times(struct mb_reactor *r, long long id, void *data)
{
	(void)data;
	assert_int_equal(id, rec.timer_id);
	if (++rec.timer_fires == 3) {
		mb_reactor_stop(r);
		return MB_TIMER_DONE;
	}
	return 10;
}

static void test_a_timer_fires_and_reschedules(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct mb_error_text error;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	rec.timer_id = mb_reactor_add_timer(r, 10, every_10ms_three_times, NULL, &error);
	assert_true(rec.timer_id > 0);
	long long safety = add_stop_after(r, 5000);
	assert_true(safety != rec.timer_id);
	run_ok(r);
	assert_int_equal(rec.timer_fires, 3);
	long long took = elapsed_ms(&start);
	if (took < 30 || took > 2000)
		fail_msg("three 10 ms intervals took %lld ms", took);
	/* done: it does not fire again, and cancelling it is harmless */
	mb_reactor_cancel_timer(r, rec.timer_id);
	mb_reactor_cancel_timer(r, safety);
	add_stop_after(r, 40);
	run_ok(r);
	assert_int_equal(rec.timer_fires, 3);
	mb_reactor_free(&r);
}

static long long must_not_fire(struct mb_reactor *r, long long id, void *data)
{
	(void)r;
	(void)id;
	(void)data;
	fail_msg("a cancelled timer fired");
	return MB_TIMER_DONE;
}

/* cancel_the_other - fires first, cancels the timer in data (due at the same time) */
static long long cancel_the_other(struct mb_reactor *r, long long id, void *data)
{
	(void)id;
	rec.timer_fires++;
	mb_reactor_cancel_timer(r, *(long long *)data);
	return MB_TIMER_DONE;
}

static long long cancel_myself(struct mb_reactor *r, long long id, void *data)
{
	(void)data;
	rec.timer_fires++;
	mb_reactor_cancel_timer(r, id);
	return 1; /* ignored: cancelled */
}

static void test_cancelled_timers_do_not_fire(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct mb_error_text error;

	/* cancelled before the run */
	long long early = mb_reactor_add_timer(r, 0, must_not_fire, NULL, &error);
	mb_reactor_cancel_timer(r, early);
	/* cancelled by another timer of the same pass: the list is scanned
	   from the newest, so the canceller is added last */
	long long victim = mb_reactor_add_timer(r, 5, must_not_fire, NULL, &error);
	assert_true(mb_reactor_add_timer(r, 5, cancel_the_other, &victim, &error) > 0);
	/* cancelled by itself */
	assert_true(mb_reactor_add_timer(r, 5, cancel_myself, NULL, &error) > 0);
	/* an unknown id is ignored */
	mb_reactor_cancel_timer(r, 987654);
	add_stop_after(r, 60);
	run_ok(r);
	assert_int_equal(rec.timer_fires, 2);
	mb_reactor_free(&r);
}

/* Deferred calls */

static void deferred_second(void *data)
{
	(void)data;
	rec.deferred_runs++;
	/* in the same pass as the first: no wait in between */
	assert_int_equal(rec.before_sleeps, rec.sleeps_at_deferred);
	mb_reactor_stop(rec.reactor);
}

static void deferred_first(void *data)
{
	struct mb_error_text error;

	(void)data;
	rec.deferred_runs++;
	rec.reads_at_deferred = rec.reads;
	rec.sleeps_at_deferred = rec.before_sleeps;
	assert_int_equal(mb_reactor_defer(rec.reactor, deferred_second, NULL, &error), 0);
}

static void on_read_defer(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct mb_error_text error;
	char buf[64];

	(void)mask;
	(void)data;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (rec.reads++ == 0)
		assert_int_equal(mb_reactor_defer(r, deferred_first, NULL, &error), 0);
	/* the deferred call waits for the round: not run yet */
	assert_int_equal(rec.deferred_runs, 0);
}

static void count_sleeps(struct mb_reactor *r, void *data)
{
	(void)r;
	(void)data;
	rec.before_sleeps++;
}

static void test_deferred_calls_run_after_the_round(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct pair a, b;

	open_pair(&a);
	open_pair(&b);
	mb_reactor_set_before_sleep(r, count_sleeps, NULL);
	watch_ok(r, a.fd[0], MB_READABLE, on_read_defer, NULL);
	watch_ok(r, b.fd[0], MB_READABLE, on_read_defer, NULL);
	/* both readable before the loop waits: one round has both events */
	assert_int_equal(write(a.fd[1], "a", 1), 1);
	assert_int_equal(write(b.fd[1], "b", 1), 1);
	add_stop_after(r, 2000);
	run_ok(r);
	assert_int_equal(rec.deferred_runs, 2);
	assert_int_equal(rec.reads_at_deferred, 2);
	assert_int_equal(rec.before_sleeps, 1);
	close_pair(&a);
	close_pair(&b);
	mb_reactor_free(&r);
}

static void count_deferred(void *data)
{
	(*(int *)data)++;
}

static void test_free_runs_what_is_still_deferred(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct mb_error_text error;
	int runs = 0;

	assert_int_equal(mb_reactor_defer(r, count_deferred, &runs, &error), 0);
	assert_int_equal(mb_reactor_defer(r, count_deferred, &runs, &error), 0);
	mb_reactor_free(&r);
	assert_int_equal(runs, 2);
}

/* An event pending for an fd unwatched in the same round */

static void on_stale(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)r;
	(void)mask;
	(void)data;
	fail_msg("a handler ran for fd %d after it was unwatched in the same round", fd);
}

/* on_read_close_other - the first of the two to run unwatches and closes
   the other, then puts a fresh descriptor (a pipe nobody writes to, so
   never readable) under the other's number and watches it */
static void on_read_close_other(struct mb_reactor *r, int fd, int mask, void *data)
{
	struct pair *self = data;
	char buf[64];

	(void)mask;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	rec.reads++;
	struct pair *other = self == &rec.other[0] ? &rec.other[1] : &rec.other[0];
	int number = other->fd[0];
	mb_reactor_unwatch(r, number, MB_READABLE | MB_WRITABLE);
	close(number);
	assert_int_equal(pipe(rec.fresh), 0);
	if (rec.fresh[0] != number) {
		assert_int_equal(dup2(rec.fresh[0], number), number);
		close(rec.fresh[0]);
		rec.fresh[0] = number;
	}
	watch_ok(r, number, MB_READABLE, on_stale, NULL);
}

static void on_read_unwatch_writing(struct mb_reactor *r, int fd, int mask, void *data)
{
	(void)data;
	(void)mask;
	/* reading drops writing: the write event of this round is stale */
	rec.reads++;
	mb_reactor_unwatch(r, fd, MB_WRITABLE);
}

static void test_an_unwatched_fd_misses_its_pending_event(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();
	struct pair pairs[2];

	open_pair(&pairs[0]);
	open_pair(&pairs[1]);
	rec.other = pairs;
	watch_ok(r, pairs[0].fd[0], MB_READABLE, on_read_close_other, &pairs[0]);
	watch_ok(r, pairs[1].fd[0], MB_READABLE, on_read_close_other, &pairs[1]);
	assert_int_equal(write(pairs[0].fd[1], "a", 1), 1);
	assert_int_equal(write(pairs[1].fd[1], "b", 1), 1);
	add_stop_after(r, 30);
	run_ok(r);
	/* one ran, the other's event was dropped, the fresh fd got none */
	assert_int_equal(rec.reads, 1);
	for (int i = 0; i < 2; i++) {
		mb_reactor_unwatch(r, pairs[i].fd[0], MB_READABLE | MB_WRITABLE);
		close_pair(&pairs[i]); /* the fresh pipe's reader is one of them */
	}
	close(rec.fresh[1]);

	/* one direction: reading unwatches writing; writing's event is stale */
	struct pair p;
	open_pair(&p);
	rec.reads = 0;
	assert_int_equal(write(p.fd[1], "c", 1), 1);
	watch_ok(r, p.fd[0], MB_READABLE, on_read_unwatch_writing, NULL);
	watch_ok(r, p.fd[0], MB_WRITABLE, on_stale, NULL);
	add_stop_after(r, 30);
	run_ok(r);
	assert_true(rec.reads >= 1); /* still readable: called each round */
	mb_reactor_unwatch(r, p.fd[0], MB_READABLE);
	close_pair(&p);
	mb_reactor_free(&r);
}

/* Stopping */

static void test_stop_before_run_returns_at_once(void **state)
{
	(void)state;
	struct mb_reactor *r = new_reactor();

	mb_reactor_set_before_sleep(r, count_sleeps, NULL);
	mb_reactor_stop(r);
	run_ok(r);
	assert_int_equal(rec.before_sleeps, 0);
	/* and the next run is not stopped by it */
	add_stop_after(r, 5);
	run_ok(r);
	assert_true(rec.before_sleeps >= 1);
	mb_reactor_free(&r);
}

/* test_a_stop_signal_cuts_the_wait_short - in a child, since the stop
   request of lib/daemon.c cannot be taken back */
static void test_a_stop_signal_cuts_the_wait_short(void **state)
{
	(void)state;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		struct mb_error_text error;
		struct mb_reactor *r = mb_reactor_new(&error);
		struct timespec start;
		if (r == NULL || mb_signals_install() < 0)
			_exit(2);
		pid_t killer = fork();
		if (killer == 0) {
			usleep(50 * 1000);
			kill(getppid(), SIGTERM);
			_exit(0);
		}
		clock_gettime(CLOCK_MONOTONIC, &start);
		/* no timer at all: only the signal ends the run */
		int ret = mb_reactor_run(r, &error);
		long long took = elapsed_ms(&start);
		waitpid(killer, NULL, 0);
		mb_reactor_free(&r);
		_exit(ret == 0 && mb_stop_requested() && took < MB_REACTOR_MAX_WAIT_MS ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_and_write_interest_are_separate),
		cmocka_unit_test(test_a_bad_watch_says_why),
		cmocka_unit_test(test_a_timer_fires_and_reschedules),
		cmocka_unit_test(test_cancelled_timers_do_not_fire),
		cmocka_unit_test(test_deferred_calls_run_after_the_round),
		cmocka_unit_test(test_free_runs_what_is_still_deferred),
		cmocka_unit_test(test_an_unwatched_fd_misses_its_pending_event),
		cmocka_unit_test(test_stop_before_run_returns_at_once),
		cmocka_unit_test(test_a_stop_signal_cuts_the_wait_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
