/* relay-maps.h - the socketmap maps of relaying (see relay-maps.c). */
#ifndef MAILBAG_RELAY_MAPS_H
#define MAILBAG_RELAY_MAPS_H

#include <stddef.h>

#include "socketmap.h"

struct mb_store;

/* Answer key for one of the relay maps (SOCKETMAP_RELAY_*): 1 found
   (value_r filled: Postfix's value), 0 not found, -1 the store failed
   (said in error). delimiters: the context's recipient_delimiter. */
int relay_maps_answer(struct mb_store *store, enum socketmap_map map, const char *key,
		      const char *delimiters, char *value_r, size_t value_size,
		      char *error, size_t error_size);

#endif
