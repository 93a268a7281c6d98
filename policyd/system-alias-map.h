/* system-alias-map.h - virtual_alias_maps for the host's own names (see system-alias-map.c). */
#ifndef MAILBAG_SYSTEM_ALIAS_MAP_H
#define MAILBAG_SYSTEM_ALIAS_MAP_H

#include <stddef.h>

struct mb_context;
struct mb_alias;
struct mb_store;

/* Take the host's names from the context's hostname (at start and after
   each reload). Until called, no key is at a host name. */
void system_alias_map_configure(const struct mb_context *ctx);
/* The same from a host name directly (tests, fuzzing); NULL: none. */
void system_alias_map_set_hostname(const char *hostname);

enum system_alias_found {
	SYSTEM_ALIAS_NOT_HOST, /* key is not at a host name: the virtual domains' route answers */
	SYSTEM_ALIAS_NONE,     /* at a host name, no live system alias: NOTFOUND (local(8) delivers) */
	SYSTEM_ALIAS_FOUND,    /* its live targets in *live_r (to mb_alias_clear) */
};

/* virtual_alias_maps for key (lower case): an enum system_alias_found,
   or -1 with error when the store cannot answer. */
int system_alias_map_lookup(struct mb_store *store, const char *delimiters, const char *key,
			    struct mb_alias *live_r, char *error, size_t error_size);

#endif
