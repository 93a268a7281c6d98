/* system-alias-map.h - virtual_alias_maps for the host's own names (see system-alias-map.c). */
#ifndef MAILBAG_SYSTEM_ALIAS_MAP_H
#define MAILBAG_SYSTEM_ALIAS_MAP_H

#include <stddef.h>

struct mb_context;
struct mb_store;

/* Take the host's names from the context's hostname (at start and after
   each reload). Until called, no key is at a host name. */
void system_alias_map_configure(const struct mb_context *ctx);
/* The same from a host name directly (tests, fuzzing); NULL: none. */
void system_alias_map_set_hostname(const char *hostname);

/* virtual_alias_maps for key (lower case): when key is an address at one
   of the host's names, the answer ("OK targets", "NOTFOUND ", "TEMP
   why" or "PERM why") into reply (not NUL-terminated), its length in
   *len_r, and 1; 0 when key is not at a host name (the virtual domains'
   route answers it). */
int system_alias_map_answer(struct mb_store *store, const char *delimiters, const char *key,
			    char *reply, size_t size, size_t *len_r);

#endif
