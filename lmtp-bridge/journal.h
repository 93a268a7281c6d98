/* journal.h - deliveries remembered, so a retry is not delivered twice (see journal.c). */
#ifndef MAILBAG_JOURNAL_H
#define MAILBAG_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define JOURNAL_KEY_MAX 96
#define JOURNAL_QUEUE_ID_MAX 64

/* The Postfix queue ID in the message's top Received: header and its
   Message-ID, from the head of the message. Returns 1 when a queue ID
   was found, else 0 (nothing to recognise a retry by). */
int journal_message_ids(const char *head, size_t len, char queue_id[JOURNAL_QUEUE_ID_MAX + 1],
			char message_id[256]);

/* The journal key of one recipient of that message. */
void journal_key(const char *queue_id, const char *message_id, const char *recipient,
		 char key[JOURNAL_KEY_MAX]);

/* The message's delivery ID for the X-Mailbag-Delivery-Id header:
   the same for Postfix's every attempt at this queue file, different for
   any other message. Dovecot's sieve_before script (mailbag-dedupe.sieve)
   drops a second delivery of the same ID to the same user: that closes
   the window the journal cannot (Dovecot saved, the bridge died before
   reading its 250). */
#define JOURNAL_DELIVERY_ID_MAX 40
void journal_delivery_id(const char *queue_id, const char *message_id,
			 char id[JOURNAL_DELIVERY_ID_MAX]);

/* 1 delivered before, 0 not, -1 the store failed (error). */
int journal_seen(struct mb_store *store, const char *key, int64_t now,
		 char *error, size_t error_size);
/* Remember a delivery until now + window. 0 or -1. */
int journal_record(struct mb_store *store, const char *key, int64_t now, int64_t window,
		   char *error, size_t error_size);

#endif
