/* file-watch.c - whether a file may have changed, without a stat per question
 *
 * SUMMARY
 *	The Dovecot driver must apply an edit of the context file (new
 *	lock-out thresholds, a new store) from the next login on, but a
 *	stat() of the file on every lookup was a measurable part of a
 *	lookup's cost. An inotify watch on the file's directory answers
 *	instead: a read of the (non-blocking) inotify descriptor, which
 *	returns at once when nothing happened, tells whether the file was
 *	written, replaced (a rename over it, as mailbag writes it), created
 *	or removed. The directory is watched, not the file, so a file
 *	replaced by rename stays watched.
 *
 *	What inotify cannot see (a symbolic link whose target changed
 *	elsewhere, a watch that could not be made, a queue overflow) is
 *	covered by answering "maybe" at least once a second anyway, so a
 *	change is never missed for longer than that.
 */
#include "file-watch.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_MOVED_TO | IN_MOVED_FROM | \
		      IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
#define WATCH_RECHECK_NS 1000000000LL

struct mb_file_watch {
	int fd;              /* inotify, or -1 */
	char name[NAME_MAX + 1]; /* the file's name in its directory */
	int64_t last_maybe_ns;   /* monotonic time of the last "maybe" */
};

static int64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

struct mb_file_watch *mb_file_watch_open(const char *path)
{
	struct mb_file_watch *watch = calloc(1, sizeof(*watch));
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (watch == NULL)
		return NULL;
	watch->fd = -1;
	watch->last_maybe_ns = monotonic_ns();
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	snprintf(watch->name, sizeof(watch->name), "%s", slash != NULL ? slash + 1 : path);
	watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch->fd >= 0 && inotify_add_watch(watch->fd, dir, WATCH_EVENTS) < 0) {
		close(watch->fd);
		watch->fd = -1;
	}
	return watch;
}

void mb_file_watch_close(struct mb_file_watch **watchp)
{
	struct mb_file_watch *watch = *watchp;

	if (watch == NULL)
		return;
	if (watch->fd >= 0)
		close(watch->fd);
	free(watch);
	*watchp = NULL;
}

/* events_name_the_file - drain the inotify queue: whether an event was
   about the file, or one that may hide it (overflow, the directory
   itself moved or removed) */
static bool events_name_the_file(struct mb_file_watch *watch)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool named = false;
	ssize_t len;

	while ((len = read(watch->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *event = (const struct inotify_event *)p;
			if ((event->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0 ||
			    (event->len > 0 && strcmp(event->name, watch->name) == 0))
				named = true;
			p += sizeof(*event) + event->len;
		}
	}
	if (len < 0 && errno != EAGAIN && errno != EINTR) {
		/* the descriptor broke: fall back to the once-a-second answer */
		close(watch->fd);
		watch->fd = -1;
		named = true;
	}
	return named;
}

bool mb_file_watch_maybe_changed(struct mb_file_watch *watch)
{
	bool maybe = watch->fd >= 0 && events_name_the_file(watch);
	int64_t now = monotonic_ns();

	if (!maybe && now - watch->last_maybe_ns < WATCH_RECHECK_NS)
		return false;
	watch->last_maybe_ns = now;
	return true;
}
