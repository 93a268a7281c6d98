/* notify.c - a datagram per delivery, for push notifications
 *
 * SUMMARY
 *	The chatmail seed wakes its users' phones when mail arrives (a
 *	Dovecot push_notification Lua script). mailbag-lmtpd offers the
 *	same hook without a script language in the mail server: after
 *	Dovecot's 250 for a recipient, one line "delivered USER FOLDER\n"
 *	goes to the unix datagram socket lmtpd.notify_socket, where any
 *	notifier (a push gateway, a webhook relay) can read it. A datagram
 *	is sent whole or not at all and never blocks: MSG_DONTWAIT, errors
 *	counted and logged once a minute, the delivery never waits for it.
 */
#include "notify.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;
static unsigned long missed;
static time_t last_complaint;

void notify_delivered(const char *path, const char *user, const char *folder)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[600];

	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return;
	if (notify_fd < 0)
		notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int len = snprintf(line, sizeof(line), "delivered %s %s\n", user, folder);
	if (notify_fd >= 0 && len > 0 && (size_t)len < sizeof(line) &&
	    sendto(notify_fd, line, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&sun, sizeof(sun)) == len)
		return;
	int saved = errno;
	missed++;
	time_t now = time(NULL);
	if (now - last_complaint >= 60) {
		last_complaint = now;
		mb_warning("delivery notices to %s not sent (%lu so far): %s", path, missed, strerror(saved));
	}
}
