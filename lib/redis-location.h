/* redis-location.h - where a Redis store is: parsed from the context (see redis-location.c). */
#ifndef MAILBAG_REDIS_LOCATION_H
#define MAILBAG_REDIS_LOCATION_H

#include <stdbool.h>
#include <stddef.h>

struct mb_redis_location {
	char host[256];        /* "" when socket_path is set */
	int port;
	char socket_path[200]; /* a unix socket, or "" */
	char user[64];         /* Redis 6 ACL user, or "" */
	char password[256];    /* "" for none */
	int db;                /* SELECT index */
};

/* Parse the store location (the whole "redis://..." or "unix:/..."):
     redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]   (HOST may be [IPv6])
     unix:/PATH[?db=N][&password=PASSWORD]
   0, or -1 with *error_r. */
int mb_redis_location_parse(const char *text, struct mb_redis_location *loc,
			    const char **error_r);

/* A store location fit for logs and terminals: any password replaced by
   "***". Works on every location, Redis or not. */
void mb_store_location_redact(const char *location, char *out, size_t size);

/* Whether a store location is a Redis one ("redis:" or "unix:"). */
bool mb_redis_location_is(const char *text);

#endif
