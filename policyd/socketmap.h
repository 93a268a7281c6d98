/* socketmap.h - answers to Postfix socketmap lookups (see socketmap.c). */
#ifndef MAILBAG_SOCKETMAP_H
#define MAILBAG_SOCKETMAP_H

#include <stddef.h>

#include "address.h"

struct mb_store;

#define SOCKETMAP_MAX_REQUEST 1024   /* "name key": a map name and an address */
#define SOCKETMAP_MAX_REPLY 100000   /* Postfix's own limit on a reply */

enum socketmap_map {
	SOCKETMAP_MAILBOX_DOMAINS,
	SOCKETMAP_ALIAS_DOMAINS,
	SOCKETMAP_MAILBOX_MAPS,
	SOCKETMAP_ALIAS_MAPS,
	SOCKETMAP_SENDER_LOGIN_MAPS,
	SOCKETMAP_RELAY_DOMAINS,     /* relay-maps.c */
	SOCKETMAP_RELAY_RECIPIENTS,
	SOCKETMAP_TRANSPORT,
	SOCKETMAP_RELAY_FROM_HOSTS,
	SOCKETMAP_SRS_FORWARD,          /* srs-map.c */
	SOCKETMAP_SRS_REVERSE,
	SOCKETMAP_SRS_UNROUTE,
	SOCKETMAP_SRS_RECIPIENT_ACCESS,
};

struct socketmap_request {
	enum socketmap_map map;
	char key[MB_ADDRESS_MAX + 1]; /* lower case */
};

/* Split "name key" (the netstring payload). Returns 0, or -1 with
   *error_r for a request that deserves PERM (unknown map, no key,
   overlong or binary key). Pure. */
int socketmap_parse_request(const char *payload, size_t len,
			    struct socketmap_request *req_r,
			    const char **error_r);

/* Answer one payload (delimiters: the context's recipient_delimiter): "OK value", "NOTFOUND ", "TEMP why" or "PERM why"
   into reply (at most SOCKETMAP_MAX_REPLY bytes, not NUL-terminated).
   Returns the reply's length. */
size_t socketmap_answer(struct mb_store *store, const char *delimiters,
			const char *payload, size_t len, char *reply, size_t reply_size);

#endif
