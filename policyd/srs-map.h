/* srs-map.h - the socketmap's SRS maps (see srs-map.c). */
#ifndef MAILBAG_SRS_MAP_H
#define MAILBAG_SRS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct mb_context;
struct mb_store;

/* The domain of the routing-only addresses that send a forwarded copy
   through the SRS smtpd: bob@gmail.com is bob=gmail.com@SRS_ROUTE_DOMAIN */
#define SRS_ROUTE_DOMAIN "mailbag-forward.invalid"

enum srs_map {
	SRS_MAP_FORWARD,          /* sender -> SRS address */
	SRS_MAP_REVERSE,          /* SRS address -> original address */
	SRS_MAP_UNROUTE,          /* routing-only address -> outside target */
	SRS_MAP_RECIPIENT_ACCESS, /* a bad SRS address at srs.domain -> 550 */
};

/* Take the context's srs settings (at start and after each reload):
   reads the secret file. An error leaves SRS off until the file is good
   (each lookup notices a change of the file) and is logged. */
void srs_map_configure(const struct mb_context *ctx);
/* Forget the secrets (at shutdown). */
void srs_map_clear(void);

/* One lookup of map for key (lower case): 1 with value (OK), 0
   (NOTFOUND), -1 with value holding why (TEMP: the store failed). */
int srs_map_lookup(enum srs_map map, struct mb_store *store, const char *key, time_t now,
		   char *value, size_t size);

/* virtual_alias_maps: target as it is answered. With SRS on, a target
   outside the domains served here becomes its routing-only address in
   out (1); else 0 (out unused), or -1 (with out holding why: the store
   failed). */
int srs_map_route_target(struct mb_store *store, const char *target, char *out, size_t size);

#endif
