/* usage.c - mailbox usage and last logins from Dovecot, over the dict protocol
 *
 * SUMMARY
 *	Dovecot's quota plugin knows each mailbox's size; its quota_clone
 *	plugin copies the figures to a dict whenever they change. Pointed at
 *	this socket ("quota_clone_dict = proxy:/run/mailbag/usage:usage"),
 *	the copies land in the store's state as "usage/ADDRESS" = "BYTES
 *	MESSAGES", where the policy check at RCPT (and, with Redis, every
 *	node) reads them. Dovecot's last_login plugin, pointed at the same
 *	socket, sets "shared/last-login/USER" to the login's time at each
 *	IMAP login; it is kept at day precision ("login/ADDRESS"), so a
 *	user's logins write once a day (mailbag user list --inactive,
 *	mailbag expire).
 *
 *	The dict protocol (Dovecot 2.3: lib-dict/dict-client.h; 2.4:
 *	lib-dict-extra/dict-client.h): lines of tab-separated fields.
 *	"H<major>\t<minor>\t<type>\t<user>\t<dict>" opens, and its major
 *	version says which protocol the connection speaks: 2.3 sends
 *	"H3\t2\t0\t\t<dict>", 2.4 "H4\t0\t0\t\t<dict>" (2 is taken as 3;
 *	others are refused). "B<id>\t<user>" begins a transaction for a
 *	user, in version 4 "B<id>\t<user>\t<expire_secs>" (the expiry is
 *	ignored); "S<id>\t<key>\t<value>" sets (priv/quota/storage,
 *	priv/quota/messages, shared/last-login/USER, which both versions'
 *	plugins write alike; other keys are ignored); "U" unsets, "A"
 *	increments, "T" sets a timestamp and, in version 4, "V" hides values
 *	from logs (all ignored: neither plugin needs them); "C<id>" commits
 *	and is answered "O<id>" (or "F<id>" when the store failed);
 *	version 3's "D<id>" commits answered "AO<id>" (version 4 has no "D":
 *	its async commits are "C" too); "R<id>" rolls back; "L<key>[\t<user>]"
 *	is answered "N" (nothing is served back). Anything else, iteration
 *	("I") included, closes the connection.
 *
 * SECURITY
 *	The socket is for Dovecot's mail processes (group vmail_gid): a
 *	client can only claim usage figures, which can only make mail be
 *	refused with a temporary 452, never accepted past a limit.
 */
#include "usage.h"

#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USAGE_LIFETIME (3650LL * 86400) /* kept until written again */

/* split_fields - cut line at tabs into at most max fields; the count */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t count = 0;

	while (count < max) {
		fields[count++] = line;
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return count;
}

static bool parse_id(const char *text, unsigned int *id_r)
{
	char *end;
	unsigned long id;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	id = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || id > 0xffffffffUL)
		return false;
	*id_r = (unsigned int)id;
	return true;
}

static bool parse_count(const char *text, int64_t *value_r)
{
	char *end;
	long long value;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*value_r = value;
	return true;
}

static struct usage_transaction *find_transaction(struct usage_connection *conn, const char *id_text)
{
	unsigned int id;

	if (!parse_id(id_text, &id))
		return NULL;
	for (size_t i = 0; i < USAGE_MAX_TRANSACTIONS; i++) {
		if (conn->transactions[i].open && conn->transactions[i].id == id)
			return &conn->transactions[i];
	}
	return NULL;
}

static int begin(struct usage_connection *conn, char **fields, size_t count,
		 const char *delimiters, char *error, size_t error_size)
{
	struct usage_transaction *free_slot = NULL;
	struct mb_address address;
	const char *why;
	unsigned int id;
	int64_t expire_secs;
	/* version 4 adds the expiry (0 from both plugins), which is ignored:
	   figures are kept until written again */
	bool v4 = conn->major >= 4;

	if (count != (v4 ? 3U : 2U) || !parse_id(fields[0], &id) || find_transaction(conn, fields[0]) != NULL ||
	    (v4 && !parse_count(fields[2], &expire_secs))) {
		snprintf(error, error_size, "%s", v4 ? "BEGIN needs a new numeric id, a user and an expiry in seconds"
						    : "BEGIN needs a new numeric id and a user");
		return -1;
	}
	for (size_t i = 0; i < USAGE_MAX_TRANSACTIONS && free_slot == NULL; i++) {
		if (!conn->transactions[i].open)
			free_slot = &conn->transactions[i];
	}
	if (free_slot == NULL) {
		snprintf(error, error_size, "more than %d open transactions", USAGE_MAX_TRANSACTIONS);
		return -1;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->open = true;
	free_slot->id = id;
	/* a user that is not an address is remembered as none: its figures
	   are dropped at commit (it cannot be one of our mailboxes) */
	if (mb_address_parse(fields[1], delimiters, &address, &why) == 0 && !address.has_detail)
		mb_address_format(&address, free_slot->user, sizeof(free_slot->user));
	return 0;
}

static int set(struct usage_connection *conn, char **fields, size_t count,
	       char *error, size_t error_size)
{
	struct usage_transaction *t = count == 3 ? find_transaction(conn, fields[0]) : NULL;
	int64_t value;

	if (t == NULL) {
		snprintf(error, error_size, "SET needs an open transaction, a key and a value");
		return -1;
	}
	if (strcmp(fields[1], "priv/quota/storage") == 0 && parse_count(fields[2], &value)) {
		t->bytes = value;
		t->has_bytes = true;
	} else if (strcmp(fields[1], "priv/quota/messages") == 0 && parse_count(fields[2], &value)) {
		t->messages = value;
		t->has_messages = true;
	} else if (strncmp(fields[1], "shared/last-login/", 18) == 0 && parse_count(fields[2], &value) &&
		   strcasecmp(fields[1] + 18, t->user) == 0) {
		/* the user in the key must be the transaction's own */
		t->login = value;
		t->has_login = true;
	}
	return 0;
}

/* commit - write the transaction's figures; 0, or -1 (store failure) */
static int commit(struct usage_transaction *t, struct mb_store *store, int64_t now,
		  char *error, size_t error_size)
{
	uint64_t bytes = 0, messages = 0;

	if (t->user[0] == '\0')
		return 0;
	if (t->has_login && mb_last_login_put(store, t->user, t->login, now, error, error_size) < 0)
		return -1;
	if (!t->has_bytes && !t->has_messages)
		return 0;
	/* a transaction may carry one figure: keep the other */
	if ((!t->has_bytes || !t->has_messages) &&
	    mb_usage_get(store, t->user, now, &bytes, &messages, error, error_size) < 0)
		return -1;
	if (t->has_bytes)
		bytes = t->bytes < 0 ? 0 : (uint64_t)t->bytes;
	if (t->has_messages)
		messages = t->messages < 0 ? 0 : (uint64_t)t->messages;
	return mb_usage_put(store, t->user, bytes, messages, now + USAGE_LIFETIME, error, error_size);
}

static void append(char *reply, size_t reply_size, size_t *reply_len, const char *text)
{
	size_t len = strlen(text);

	if (*reply_len + len <= reply_size) {
		memcpy(reply + *reply_len, text, len);
		*reply_len += len;
	}
}

/* one_line - handle one line (NUL-terminated, no newline): 0 or -1 */
static int one_line(struct usage_connection *conn, struct mb_store *store, const char *delimiters,
		    int64_t now, char *line, char *reply, size_t reply_size, size_t *reply_len,
		    char *error, size_t error_size)
{
	char command = line[0], *fields[6], answer[64], store_error[256];
	size_t count = split_fields(line + 1, fields, 6);
	struct usage_transaction *t;
	unsigned int major;

	if (!conn->hello_seen && command != 'H') {
		snprintf(error, error_size, "the first line must be HELLO");
		return -1;
	}
	switch (command) {
	case 'H':
		if (conn->hello_seen) {
			snprintf(error, error_size, "a second HELLO");
			return -1;
		}
		if (count < 5 || !parse_id(fields[0], &major) || major < 2 || major > 4) {
			snprintf(error, error_size, "HELLO of protocol version %.10s (2, 3 and 4 understood)", fields[0]);
			return -1;
		}
		conn->hello_seen = true;
		conn->major = major < 3 ? 3 : major;
		return 0;
	case 'B':
		return begin(conn, fields, count, delimiters, error, error_size);
	case 'S':
		return set(conn, fields, count, error, error_size);
	case 'V':
		if (conn->major < 4)
			goto unknown;
		/* fall through */
	case 'U':
	case 'A':
	case 'T':
		if (count < 2 || find_transaction(conn, fields[0]) == NULL) {
			snprintf(error, error_size, "%c needs an open transaction", command);
			return -1;
		}
		return 0;
	case 'D':
		if (conn->major >= 4)
			goto unknown;
		/* fall through */
	case 'C':
	case 'R':
		t = count >= 1 ? find_transaction(conn, fields[0]) : NULL;
		if (t == NULL) {
			snprintf(error, error_size, "%c of a transaction that is not open", command);
			return -1;
		}
		t->open = false;
		if (command == 'R')
			return 0;
		bool stored = commit(t, store, now, store_error, sizeof(store_error)) == 0;
		snprintf(answer, sizeof(answer), "%s%c%u\n", command == 'D' ? "A" : "",
			 stored ? 'O' : 'F', t->id);
		append(reply, reply_size, reply_len, answer);
		if (!stored)
			snprintf(error, error_size, "usage of %s not stored: %.150s", t->user, store_error);
		return 0;
	case 'L':
		append(reply, reply_size, reply_len, "N\n");
		return 0;
	default:
	unknown:
		snprintf(error, error_size, "unknown command '%c' in protocol version %u",
			 command >= ' ' && command < 127 ? command : '?', conn->major);
		return -1;
	}
}

size_t usage_process(struct usage_connection *conn, struct mb_store *store,
		     const char *delimiters, int64_t now, const char *in, size_t len,
		     char *reply, size_t reply_size, size_t *reply_len_r, bool *close_r,
		     char *error, size_t error_size)
{
	char line[USAGE_MAX_LINE + 1];
	size_t used = 0;

	*reply_len_r = 0;
	*close_r = false;
	error[0] = '\0';
	while (used < len) {
		const char *nl = memchr(in + used, '\n', len - used);
		size_t line_len = nl != NULL ? (size_t)(nl - in - used) : len - used;
		if (line_len > USAGE_MAX_LINE) {
			snprintf(error, error_size, "a line longer than %d bytes", USAGE_MAX_LINE);
			*close_r = true;
			return len;
		}
		if (nl == NULL)
			break;
		memcpy(line, in + used, line_len);
		line[line_len] = '\0';
		used += line_len + 1;
		if (memchr(line, '\0', line_len) != NULL || line_len == 0 ||
		    one_line(conn, store, delimiters, now, line, reply, reply_size, reply_len_r,
			     error, error_size) < 0) {
			if (error[0] == '\0')
				snprintf(error, error_size, "an empty line or a NUL byte");
			*close_r = true;
			return len;
		}
	}
	return used;
}
