/* redis-location.h - where a Redis store is: parsed from the context (see redis-location.c). */
#ifndef MAILBAG_REDIS_LOCATION_H
#define MAILBAG_REDIS_LOCATION_H

#include <stdbool.h>
#include <stddef.h>

#define MB_REDIS_SENTINELS_MAX 8
#define MB_REDIS_SENTINEL_PORT 26379
#define MB_REDIS_MASTER_NAME_MAX 63

/* one server: a host name or address (IPv6 without brackets) and a port */
struct mb_redis_endpoint {
	char host[256];
	int port;
};

struct mb_redis_location {
	char host[256];        /* "" when socket_path is set; for Sentinel, the
				  master last found (filled by the backend) */
	int port;
	char socket_path[200]; /* a unix socket, or "" */
	char user[64];         /* Redis 6 ACL user, or "" */
	char password[256];    /* "" for none */
	int db;                /* SELECT index */

	/* sentinel:// only ("" and 0 otherwise): the master's name as the
	   sentinels know it, and where to ask them */
	char master_name[MB_REDIS_MASTER_NAME_MAX + 1];
	struct mb_redis_endpoint sentinels[MB_REDIS_SENTINELS_MAX];
	size_t sentinel_count;
	char sentinel_user[64];      /* for the sentinels themselves, or "" */
	char sentinel_password[256];
};

/* Parse the store location (the whole "redis://...", "unix:/..." or
   "sentinel://..."):
     redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]   (HOST may be [IPv6])
     unix:/PATH[?db=N][&password=PASSWORD]
     sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
		[?sentinel_password=P][&sentinel_user=U]
   (Sentinel's port defaults to 26379; USER and PASSWORD are the data
   nodes'.) 0, or -1 with *error_r. */
int mb_redis_location_parse(const char *text, struct mb_redis_location *loc,
			    const char **error_r);

/* A store location fit for logs and terminals: every password replaced
   by "***". Works on every location, Redis or not. */
void mb_store_location_redact(const char *location, char *out, size_t size);

/* Whether a store location is a Redis one ("redis:", "unix:" or "sentinel:"). */
bool mb_redis_location_is(const char *text);

#endif
