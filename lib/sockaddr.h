/* sockaddr.h - "/unix/path", "IP:PORT" or "[IPv6]:PORT" (see sockaddr.c). */
#ifndef MAILBAG_SOCKADDR_H
#define MAILBAG_SOCKADDR_H

#include <sys/socket.h>

/* Parse address into ss (AF_UNIX, AF_INET or AF_INET6) and its length.
   IP literals only: nothing is resolved. 0, or -1 when it is none of
   these. */
int mb_sockaddr_parse(const char *address, struct sockaddr_storage *ss, socklen_t *len_r);

#endif
