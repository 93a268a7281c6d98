/* usage.h - mailbox usage (quota_clone) and last logins (last_login) from Dovecot, over the dict protocol (see usage.c). */
#ifndef MAILBAG_USAGE_H
#define MAILBAG_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"

struct mb_store;

#define USAGE_MAX_LINE 4096
#define USAGE_MAX_TRANSACTIONS 8

struct usage_transaction {
	bool open;
	unsigned int id;
	char user[MB_ADDRESS_MAX + 1];
	bool has_bytes, has_messages, has_login;
	int64_t bytes, messages, login;
};

/* What one dict connection carries between requests. Zeroed at connect. */
struct usage_connection {
	bool hello_seen;
	/* the HELLO's protocol major version: 3 from Dovecot 2.3, 4 from 2.4
	   (whose BEGIN has a third field and which has no async commit) */
	unsigned int major;
	struct usage_transaction transactions[USAGE_MAX_TRANSACTIONS];
};

/* Handle the complete lines at the front of in: returns the bytes
   consumed, appends replies to reply (up to reply_size, length in
   *reply_len_r), and sets *close_r on a protocol error (the reason is in
   error). A line longer than USAGE_MAX_LINE is a protocol error. */
size_t usage_process(struct usage_connection *conn, struct mb_store *store,
		     const char *delimiters, int64_t now, const char *in, size_t len,
		     char *reply, size_t reply_size, size_t *reply_len_r, bool *close_r,
		     char *error, size_t error_size);


#endif
