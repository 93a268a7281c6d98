/* sender.h - who may send as an address (see sender.c). */
#ifndef MAILBAG_SENDER_H
#define MAILBAG_SENDER_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* 1 when address is an enabled user, 0 when it is none or disabled, -1
   (error written) when the store failed. */
int mb_user_enabled(struct mb_store *store, const char *address, char *error, size_t size);

/* Called with each login that may send as the address; non-zero stops. */
typedef int mb_sender_login_cb(const char *login, void *context);

/* Each login that may send as address (lower case): its own enabled user,
   then the enabled users its alias reaches. The number found, or -1 with
   error written when the store failed. */
int mb_sender_logins_foreach(struct mb_store *store, const char *delimiters, const char *address,
			     mb_sender_login_cb *cb, void *context, char *error, size_t size);

/* 1 when login may send as address, 0 when not, -1 on a store failure. */
int mb_login_may_send_as(struct mb_store *store, const char *delimiters, const char *login,
			 const char *address, char *error, size_t size);

#endif
