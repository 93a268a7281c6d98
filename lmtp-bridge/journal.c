/* journal.c - deliveries remembered, so a retry is not delivered twice
 *
 * SUMMARY
 *	When Dovecot has said 250 for a recipient but mailbag-lmtpd dies
 *	before passing that 250 on, Postfix keeps the recipient queued and
 *	delivers again later: a duplicate in the mailbox. To recognise that
 *	retry, the bridge writes one entry per delivered recipient into the
 *	store's state (with expiry) before it answers 250, and looks for it
 *	before delivering.
 *
 *	The entry's key is a hash of the Postfix queue ID in the top
 *	Received: header (the one our Postfix's cleanup added: "... with
 *	ESMTP id 4Xb1Kq2vYpz9rS; date"), the Message-ID header and the
 *	recipient. The queue ID alone could repeat after a while; with the
 *	Message-ID and the recipient a false match needs all three to meet
 *	within the window. A message without a queue ID (not from Postfix)
 *	is never recognised, only delivered.
 *
 *	The journal can only be written after Dovecot's 250 has been read:
 *	if the bridge dies while Dovecot is saving, the save completes and
 *	no entry exists. For that window the bridge puts the message's
 *	delivery ID (journal_delivery_id) in an X-Mailbag-Delivery-Id header
 *	and Dovecot's sieve_before script drops a second delivery of it to
 *	the same user; Dovecot records the ID only once it has saved.
 *
 *	The window (lmtpd.dedupe_window, 5 days) should cover Postfix's
 *	maximal_queue_lifetime. In the LMDB store the state survives the
 *	process's death (the pages are written; only an OS crash before
 *	they reach the disk loses them); in Redis it is Redis's.
 */
#include "journal.h"

#include <ctype.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* header_value - the unfolded value of the first header called name in
   the header section of head, into buf; 1 found, 0 not */
static int header_value(const char *head, size_t len, const char *name, char *buf, size_t size)
{
	size_t name_len = strlen(name), pos = 0;

	while (pos < len) {
		const char *line = head + pos;
		const char *eol = memchr(line, '\n', len - pos);
		size_t line_len = eol != NULL ? (size_t)(eol - line) : len - pos;
		if (line_len == 0 || (line_len == 1 && line[0] == '\r'))
			return 0; /* end of the headers */
		pos += line_len + 1;
		if (line_len <= name_len || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
			continue;
		/* the value, with its continuation lines joined by a space */
		size_t used = 0;
		const char *value = line + name_len + 1;
		size_t value_len = line_len - name_len - 1;
		for (;;) {
			for (size_t i = 0; i < value_len && used + 1 < size; i++) {
				char c = value[i];
				if (c == '\r' || c == '\t')
					c = ' ';
				buf[used++] = c;
			}
			if (pos >= len || (head[pos] != ' ' && head[pos] != '\t'))
				break;
			value = head + pos;
			eol = memchr(value, '\n', len - pos);
			value_len = eol != NULL ? (size_t)(eol - value) : len - pos;
			pos += value_len + 1;
			if (used + 1 < size)
				buf[used++] = ' ';
		}
		buf[used] = '\0';
		return 1;
	}
	return 0;
}

/* trim - without leading and trailing spaces, in place */
static char *trim(char *s)
{
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
	return s;
}

int journal_message_ids(const char *head, size_t len, char queue_id[JOURNAL_QUEUE_ID_MAX + 1],
			char message_id[256])
{
	char received[2048], mid[256];

	queue_id[0] = '\0';
	message_id[0] = '\0';
	if (header_value(head, len, "Message-ID", mid, sizeof(mid)))
		snprintf(message_id, 256, "%s", trim(mid));
	if (!header_value(head, len, "Received", received, sizeof(received)))
		return 0;
	/* " id QUEUEID;" or " id QUEUEID " */
	for (char *p = received; (p = strstr(p, " id ")) != NULL; p += 4) {
		const char *id = p + 4;
		size_t id_len = strcspn(id, " ;");
		if (id_len == 0 || id_len > JOURNAL_QUEUE_ID_MAX)
			continue;
		bool alnum = true;
		for (size_t i = 0; i < id_len; i++)
			alnum = alnum && isalnum((unsigned char)id[i]);
		if (!alnum)
			continue;
		memcpy(queue_id, id, id_len);
		queue_id[id_len] = '\0';
		return 1;
	}
	return 0;
}

void journal_key(const char *queue_id, const char *message_id, const char *recipient,
		 char key[JOURNAL_KEY_MAX])
{
	unsigned char hash[16];
	char hex[sizeof(hash) * 2 + 1];
	crypto_generichash_state state;

	crypto_generichash_init(&state, NULL, 0, sizeof(hash));
	crypto_generichash_update(&state, (const unsigned char *)queue_id, strlen(queue_id) + 1);
	crypto_generichash_update(&state, (const unsigned char *)message_id, strlen(message_id) + 1);
	crypto_generichash_update(&state, (const unsigned char *)recipient, strlen(recipient) + 1);
	crypto_generichash_final(&state, hash, sizeof(hash));
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(key, JOURNAL_KEY_MAX, "delivered/%s", hex);
}

void journal_delivery_id(const char *queue_id, const char *message_id,
			 char id[JOURNAL_DELIVERY_ID_MAX])
{
	unsigned char hash[16];
	crypto_generichash_state state;

	crypto_generichash_init(&state, (const unsigned char *)"mailbag-delivery", 16, sizeof(hash));
	crypto_generichash_update(&state, (const unsigned char *)queue_id, strlen(queue_id) + 1);
	crypto_generichash_update(&state, (const unsigned char *)message_id, strlen(message_id) + 1);
	crypto_generichash_final(&state, hash, sizeof(hash));
	sodium_bin2hex(id, JOURNAL_DELIVERY_ID_MAX, hash, sizeof(hash));
}

int journal_seen(struct mb_store *store, const char *key, int64_t now,
		 char *error, size_t error_size)
{
	char value[8];

	return mb_state_get(store, key, now, value, sizeof(value), error, error_size);
}

int journal_record(struct mb_store *store, const char *key, int64_t now, int64_t window,
		   char *error, size_t error_size)
{
	return mb_state_put(store, key, "1", now + window, error, error_size);
}
