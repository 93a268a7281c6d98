/* notify.h - a datagram per delivery (see notify.c). */
#ifndef MAILBAG_NOTIFY_H
#define MAILBAG_NOTIFY_H

/* Tell the listener on the unix datagram socket at path that user's
   mailbox (folder) got a message: "delivered USER FOLDER\n". Never waits
   and never fails the delivery; a listener that is absent or slow misses
   the line (logged at most once a minute). */
void notify_delivered(const char *path, const char *user, const char *folder);

#endif
