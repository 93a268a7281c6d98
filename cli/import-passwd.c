/* import-passwd.c - one line of a Dovecot passwd-file, for `mailbag user import`
 *
 * SUMMARY
 *	The format Dovecot's passwd-file driver reads, and the one most
 *	self-hosted set-ups keep their users in (the dockerised seed's
 *	users, the mi-poop seed's passwd/<domain> files with bare local
 *	parts):
 *
 *	    LOGIN:{SCHEME}HASH:UID:GID:GECOS:HOME:SHELL:EXTRA
 *
 *	Only LOGIN and the hash are required; a hash without {SCHEME} is a
 *	crypt(3) string (Dovecot's default CRYPT) and gets the scheme its
 *	magic names ($6$ SHA512-CRYPT, $5$, $2y$, $argon2id$ ...). UID, GID, GECOS and SHELL are
 *	ignored (mailbag's mailboxes all belong to the context's vmail
 *	uid/gid); an absolute HOME is kept so that existing mailboxes stay
 *	where they are; in EXTRA (space-separated key=value pairs) the
 *	user's quota is Dovecot 2.3's userdb_quota_rule=*:storage=SIZE
 *	(KiB without a unit) or *:bytes=N, or Dovecot 2.4's
 *	userdb_quota_storage_size=SIZE (bytes without a unit; "unlimited"
 *	is no limit). Every other extra field is ignored.
 *
 *	The parser is pure: it reads one line and fills one entry, so the
 *	command can check a whole file before it changes anything. Error
 *	messages never repeat the hash.
 */
#include "import-passwd.h"
#include "store.h"
#include "stringify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWD_FIELDS 8

/* split - the line's colon-separated fields (at most PASSWD_FIELDS, the
   last one keeping any further colons, as Dovecot does for EXTRA) */
static size_t split(char *line, char *fields[PASSWD_FIELDS])
{
	size_t count = 0;
	char *p = line;

	while (count < PASSWD_FIELDS - 1) {
		fields[count++] = p;
		char *colon = strchr(p, ':');
		if (colon == NULL)
			return count;
		*colon = '\0';
		p = colon + 1;
	}
	fields[count++] = p;
	return count;
}

/* parse_size - a Dovecot size: a number of unit_bytes (2.3's storage=:
   KiB; 2.4's sizes: bytes), or with a unit (B, k, M, G, T,
   case-insensitive, optional i and B after k..T) */
static int parse_size(const char *value, uint64_t unit_bytes, uint64_t *bytes_r)
{
	char *end;
	unsigned long long n;

	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno != 0)
		return -1;
	uint64_t unit = unit_bytes;
	switch (*end) {
	case '\0': break;
	case 'b': case 'B': unit = 1; end++; break;
	case 'k': case 'K': unit = 1024; end++; break;
	case 'm': case 'M': unit = 1024ULL * 1024; end++; break;
	case 'g': case 'G': unit = 1024ULL * 1024 * 1024; end++; break;
	case 't': case 'T': unit = 1024ULL * 1024 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (unit > 1 && end[-1] != 'b' && end[-1] != 'B' && (*end == 'i' || *end == 'I'))
		end++;
	if (unit > 1 && end[-1] != 'b' && end[-1] != 'B' && (*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0' || (n != 0 && unit > UINT64_MAX / n) || n * unit == MB_LIMIT_DEFAULT)
		return -1;
	*bytes_r = n * unit;
	return 0;
}

static int parse_storage(const char *value, uint64_t *bytes_r)
{
	return parse_size(value, 1024, bytes_r);
}

/* parse_storage_size - Dovecot 2.4's quota_storage_size */
static int parse_storage_size(const char *value, uint64_t *bytes_r, const char **error_r)
{
	if (strcmp(value, "unlimited") == 0) {
		*bytes_r = 0;
		return 0;
	}
	if (parse_size(value, 1, bytes_r) == 0)
		return 0;
	*error_r = "userdb_quota_storage_size must be a size (1073741824, 100M, 1G) or unlimited";
	return -1;
}

/* parse_quota_rule - "*:storage=1G" or "*:bytes=1000" (other mailbox
   patterns and rules are Dovecot's own and not imported) */
static int parse_quota_rule(const char *rule, uint64_t *bytes_r, const char **error_r)
{
	if (strncmp(rule, "*:storage=", 10) == 0) {
		if (parse_storage(rule + 10, bytes_r) == 0)
			return 0;
	} else if (strncmp(rule, "*:bytes=", 8) == 0) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(rule + 8, &end, 10);
		if (rule[8] >= '0' && rule[8] <= '9' && errno == 0 && *end == '\0' &&
		    n != MB_LIMIT_DEFAULT) {
			*bytes_r = n;
			return 0;
		}
	}
	*error_r = "userdb_quota_rule must be *:storage=SIZE or *:bytes=N";
	return -1;
}

/* parse_extra - the space-separated key=value pairs of the last field */
static int parse_extra(char *extra, struct mb_passwd_entry *entry, const char **error_r)
{
	char *save = NULL;

	for (char *pair = strtok_r(extra, " \t", &save); pair != NULL;
	     pair = strtok_r(NULL, " \t", &save)) {
		if (strncmp(pair, "userdb_quota_rule=", 18) == 0 &&
		    parse_quota_rule(pair + 18, &entry->quota_bytes, error_r) < 0)
			return -1;
		if (strncmp(pair, "userdb_quota_storage_size=", 26) == 0 &&
		    parse_storage_size(pair + 26, &entry->quota_bytes, error_r) < 0)
			return -1;
	}
	return 0;
}

static int parse_login(const char *login, const char *default_domain,
		       struct mb_passwd_entry *entry, const char **error_r)
{
	char text[MB_ADDRESS_MAX + 2];
	struct mb_address address;

	if (login[0] == '\0') {
		*error_r = "the login (first field) is empty";
		return -1;
	}
	if (strchr(login, '@') == NULL) {
		if (default_domain == NULL) {
			*error_r = "the login has no @domain (give --domain for bare names)";
			return -1;
		}
		if ((size_t)snprintf(text, sizeof(text), "%s@%s", login, default_domain) >= sizeof(text)) {
			*error_r = "the login is too long for an address";
			return -1;
		}
		login = text;
	}
	if (mb_address_parse(login, NULL, &address, error_r) < 0)
		return -1;
	mb_address_format(&address, entry->address, sizeof(entry->address));
	return 0;
}

/* A bare crypt(3) hash (Dovecot's default scheme CRYPT) by its magic. */
static const struct {
	const char *magic, *scheme;
} crypt_magics[] = {
	{ "$6$", "{SHA512-CRYPT}" },
	{ "$5$", "{SHA256-CRYPT}" },
	{ "$2y$", "{BLF-CRYPT}" },
	{ "$2b$", "{BLF-CRYPT}" },
	{ "$2a$", "{BLF-CRYPT}" },
	{ "$argon2id$", "{ARGON2ID}" },
	{ "$argon2i$", "{ARGON2I}" },
};

static const char *crypt_scheme(const char *hash)
{
	for (size_t i = 0; i < sizeof(crypt_magics) / sizeof(crypt_magics[0]); i++) {
		if (strncmp(hash, crypt_magics[i].magic, strlen(crypt_magics[i].magic)) == 0)
			return crypt_magics[i].scheme;
	}
	return NULL;
}

static int parse_hash(const char *hash, struct mb_passwd_entry *entry, const char **error_r)
{
	char prefixed[MB_HASH_MAX + 32];
	const char *scheme = crypt_scheme(hash);

	if (scheme != NULL) {
		snprintf(prefixed, sizeof(prefixed), "%s%.*s", scheme, MB_HASH_MAX, hash);
		hash = prefixed;
	}
	if (hash[0] == '\0') {
		*error_r = "the password hash (second field) is empty";
		return -1;
	}
	if (strncmp(hash, "{PLAIN}", 7) == 0 || strncmp(hash, "{CLEAR}", 7) == 0 ||
	    strncmp(hash, "{CLEARTEXT}", 11) == 0) {
		*error_r = "plain-text passwords are not imported; hash them first (doveadm pw)";
		return -1;
	}
	if (strlen(hash) >= sizeof(entry->hash)) {
		*error_r = "the password hash is too long";
		return -1;
	}
	if (mb_password_hash_check(hash, error_r) < 0)
		return -1;
	memcpy(entry->hash, hash, strlen(hash) + 1);
	return 0;
}

static int parse_home(const char *home, struct mb_passwd_entry *entry, const char **error_r)
{
	if (home[0] == '\0')
		return 0;
	if (home[0] != '/' || strstr(home, "/../") != NULL || strlen(home) >= sizeof(entry->home)) {
		*error_r = "the home (sixth field) must be an absolute path without '..'";
		return -1;
	}
	memcpy(entry->home, home, strlen(home) + 1);
	return 0;
}

int mb_passwd_line_parse(const char *line, size_t len, const char *default_domain,
			 struct mb_passwd_entry *entry, const char **error_r)
{
	char copy[MB_PASSWD_LINE_MAX + 1], *fields[PASSWD_FIELDS];
	size_t start = 0;

	memset(entry, 0, sizeof(*entry));
	entry->quota_bytes = MB_LIMIT_DEFAULT;
	while (start < len && (line[start] == ' ' || line[start] == '\t'))
		start++;
	if (start == len || line[start] == '#')
		return 0;
	if (len > MB_PASSWD_LINE_MAX) {
		*error_r = "the line is longer than " MB_STRINGIFY(MB_PASSWD_LINE_MAX) " bytes";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "the line holds a NUL byte";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
			*error_r = "the line holds a control character";
			return -1;
		}
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	size_t count = split(copy, fields);
	if (count < 2) {
		*error_r = "expected LOGIN:HASH[:UID:GID:GECOS:HOME:SHELL:EXTRA]";
		return -1;
	}
	if (parse_login(fields[0], default_domain, entry, error_r) < 0 ||
	    parse_hash(fields[1], entry, error_r) < 0 ||
	    (count > 5 && parse_home(fields[5], entry, error_r) < 0) ||
	    (count > 7 && parse_extra(fields[7], entry, error_r) < 0))
		return -1;
	return 1;
}
