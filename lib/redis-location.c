/* redis-location.c - where a Redis store is
 *
 * SUMMARY
 *	Parses the context's "store" when it names Redis: a TCP URL
 *	(redis://[[user]:password@]host[:port][/db]), a unix socket
 *	(unix:/path[?db=N][&password=...]) or a set watched by Sentinel
 *	(sentinel://[[user]:password@]host[:port],host[:port].../master[/db]
 *	[?sentinel_password=...&sentinel_user=...]: the sentinels to ask,
 *	the master's name they know, the data nodes' credentials and db).
 *	Pure; used by the context checks (so a bad location is refused when
 *	the file is read) and by the Redis backend (redis-sentinel.c finds
 *	the master).
 *
 *	In a sentinel location the data nodes' PASSWORD may not hold '?'
 *	(the query starts there) and sentinel_password not '&'.
 *
 * SECURITY
 *	A location may carry a password: the context loader refuses such a
 *	file when others can read it, and nothing here logs it.
 */
#include "redis-location.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mb_redis_location_is(const char *text)
{
	return strncmp(text, "redis:", 6) == 0 || strncmp(text, "unix:", 5) == 0 ||
	       strncmp(text, "sentinel:", 9) == 0;
}

/* copy_part - text[0..len) into out; false if it does not fit or has
   bytes that have no business in a location */
static bool copy_part(const char *text, size_t len, char *out, size_t size)
{
	if (len >= size)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	memcpy(out, text, len);
	out[len] = '\0';
	return true;
}

static bool parse_number(const char *text, size_t len, long min, long max, int *out)
{
	char buf[16], *end;
	long value;

	if (len == 0 || len >= sizeof(buf) || strspn(text, "0123456789") < len)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	errno = 0;
	value = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || value < min || value > max)
		return false;
	*out = (int)value;
	return true;
}

/* parse_userinfo - "[USER]:PASSWORD@" at the start of *p, if there is an
   '@' before end; *p is moved past it */
static int parse_userinfo(const char **p, const char *end, struct mb_redis_location *loc,
			  const char **error_r)
{
	const char *at = NULL;

	for (const char *q = *p; q < end; q++) {
		if (*q == '@')
			at = q;
	}
	if (at == NULL)
		return 0;
	const char *colon = memchr(*p, ':', (size_t)(at - *p));
	if (colon == NULL) {
		*error_r = "the part before '@' is [USER]:PASSWORD";
		return -1;
	}
	if (!copy_part(*p, (size_t)(colon - *p), loc->user, sizeof(loc->user)) ||
	    !copy_part(colon + 1, (size_t)(at - colon - 1), loc->password, sizeof(loc->password)) ||
	    loc->password[0] == '\0') {
		*error_r = "bad user or password (no spaces or control characters, password up to 255 bytes)";
		return -1;
	}
	*p = at + 1;
	return 0;
}

/* parse_host_port - "HOST[:PORT]" or "[IPV6][:PORT]" in text[0..len) */
static int parse_host_port(const char *p, size_t len, struct mb_redis_endpoint *ep,
			   const char **error_r)
{
	const char *port_colon;

	if (len > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', len);
		if (close == NULL || !copy_part(p + 1, (size_t)(close - p - 1), ep->host, sizeof(ep->host))) {
			*error_r = "an IPv6 host is written [ADDRESS]";
			return -1;
		}
		port_colon = close + 1 < p + len ? close + 1 : NULL;
		if (port_colon != NULL && *port_colon != ':') {
			*error_r = "expected :PORT after ]";
			return -1;
		}
	} else {
		port_colon = memchr(p, ':', len);
		size_t host_len = port_colon != NULL ? (size_t)(port_colon - p) : len;
		if (!copy_part(p, host_len, ep->host, sizeof(ep->host))) {
			*error_r = "bad host name";
			return -1;
		}
	}
	if (ep->host[0] == '\0' || strspn(ep->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != strlen(ep->host)) {
		*error_r = "the host is a name or an address";
		return -1;
	}
	if (port_colon != NULL &&
	    !parse_number(port_colon + 1, (size_t)(p + len - port_colon - 1), 1, 65535, &ep->port)) {
		*error_r = "the port is a number from 1 to 65535";
		return -1;
	}
	return 0;
}

static int parse_tcp(const char *text, struct mb_redis_location *loc, const char **error_r)
{
	const char *p = text + strlen("redis://");
	const char *slash;
	struct mb_redis_endpoint ep = { .port = loc->port };

	if (parse_userinfo(&p, p + strlen(p), loc, error_r) < 0)
		return -1;
	slash = strchr(p, '/');
	if (parse_host_port(p, slash != NULL ? (size_t)(slash - p) : strlen(p), &ep, error_r) < 0)
		return -1;
	memcpy(loc->host, ep.host, sizeof(loc->host));
	loc->port = ep.port;
	if (slash != NULL && !parse_number(slash + 1, strlen(slash + 1), 0, 255, &loc->db)) {
		*error_r = "the database after '/' is a number from 0 to 255";
		return -1;
	}
	return 0;
}

/* parse_sentinels - "HOST[:PORT],HOST[:PORT]..." in text[0..len) */
static int parse_sentinels(const char *p, size_t len, struct mb_redis_location *loc,
			   const char **error_r)
{
	const char *end = p + len;

	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma != NULL ? comma : end;
		if (loc->sentinel_count == MB_REDIS_SENTINELS_MAX) {
			*error_r = "at most 8 sentinels";
			return -1;
		}
		struct mb_redis_endpoint *ep = &loc->sentinels[loc->sentinel_count];
		ep->port = MB_REDIS_SENTINEL_PORT;
		if (item_end == p) {
			*error_r = "a sentinel is HOST[:PORT], the sentinels are separated by ','";
			return -1;
		}
		if (parse_host_port(p, (size_t)(item_end - p), ep, error_r) < 0)
			return -1;
		loc->sentinel_count++;
		p = item_end + 1;
	}
	return 0;
}

static bool master_name_valid(const char *p, size_t len)
{
	if (len == 0 || len > MB_REDIS_MASTER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* parse_sentinel_query - "sentinel_password=P&sentinel_user=U" */
static int parse_sentinel_query(const char *p, struct mb_redis_location *loc, const char **error_r)
{
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > 18 && strncmp(p, "sentinel_password=", 18) == 0) {
			if (!copy_part(p + 18, len - 18, loc->sentinel_password, sizeof(loc->sentinel_password))) {
				*error_r = "bad sentinel_password (no spaces or control characters, up to 255 bytes)";
				return -1;
			}
		} else if (len > 14 && strncmp(p, "sentinel_user=", 14) == 0) {
			if (!copy_part(p + 14, len - 14, loc->sentinel_user, sizeof(loc->sentinel_user))) {
				*error_r = "bad sentinel_user (no spaces or control characters, up to 63 bytes)";
				return -1;
			}
		} else {
			*error_r = "after '?' only sentinel_password=P and sentinel_user=U are known";
			return -1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	if (loc->sentinel_user[0] != '\0' && loc->sentinel_password[0] == '\0') {
		*error_r = "sentinel_user needs a sentinel_password";
		return -1;
	}
	return 0;
}

/* parse_sentinel - sentinel://[[USER]:PASSWORD@]SENTINELS/MASTER[/DB][?QUERY] */
static int parse_sentinel(const char *text, struct mb_redis_location *loc, const char **error_r)
{
	const char *p = text + strlen("sentinel://");
	const char *query = strchr(p, '?');
	const char *end = query != NULL ? query : p + strlen(p);

	if (parse_userinfo(&p, end, loc, error_r) < 0)
		return -1;
	const char *slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL) {
		*error_r = "a Sentinel location is sentinel://HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]: the master's name is missing";
		return -1;
	}
	if (parse_sentinels(p, (size_t)(slash - p), loc, error_r) < 0)
		return -1;
	const char *name = slash + 1;
	const char *db_slash = memchr(name, '/', (size_t)(end - name));
	const char *name_end = db_slash != NULL ? db_slash : end;
	if (!master_name_valid(name, (size_t)(name_end - name))) {
		*error_r = "the master's name is 1 to 63 letters, digits, '.', '-' or '_'";
		return -1;
	}
	memcpy(loc->master_name, name, (size_t)(name_end - name));
	loc->master_name[name_end - name] = '\0';
	if (db_slash != NULL &&
	    !parse_number(db_slash + 1, (size_t)(end - db_slash - 1), 0, 255, &loc->db)) {
		*error_r = "the database after the master's name is a number from 0 to 255";
		return -1;
	}
	return query != NULL ? parse_sentinel_query(query + 1, loc, error_r) : 0;
}

static int parse_unix(const char *text, struct mb_redis_location *loc, const char **error_r)
{
	const char *path = text + strlen("unix:");
	const char *query = strchr(path, '?');
	size_t path_len = query != NULL ? (size_t)(query - path) : strlen(path);

	if (path[0] != '/' || !copy_part(path, path_len, loc->socket_path, sizeof(loc->socket_path))) {
		*error_r = "a unix socket is an absolute path of under 200 bytes";
		return -1;
	}
	for (const char *p = query; p != NULL && *p != '\0';) {
		p++; /* '?' or '&' */
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > 3 && strncmp(p, "db=", 3) == 0) {
			if (!parse_number(p + 3, len - 3, 0, 255, &loc->db)) {
				*error_r = "db= is a number from 0 to 255";
				return -1;
			}
		} else if (len > 9 && strncmp(p, "password=", 9) == 0) {
			if (!copy_part(p + 9, len - 9, loc->password, sizeof(loc->password))) {
				*error_r = "bad password (no spaces or control characters, up to 255 bytes)";
				return -1;
			}
		} else {
			*error_r = "after '?' only db=N and password=P are known";
			return -1;
		}
		p = end;
	}
	return 0;
}

int mb_redis_location_parse(const char *text, struct mb_redis_location *loc,
			    const char **error_r)
{
	memset(loc, 0, sizeof(*loc));
	loc->port = 6379;
	if (strncmp(text, "redis://", 8) == 0)
		return parse_tcp(text, loc, error_r);
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text, loc, error_r);
	if (strncmp(text, "sentinel://", 11) == 0)
		return parse_sentinel(text, loc, error_r);
	*error_r = "a Redis store is redis://HOST[:PORT][/DB], unix:/PATH or sentinel://HOST[:PORT],.../MASTER[/DB]";
	return -1;
}

/* userinfo_secret - where the password of "scheme://USER:PASSWORD@"
   starts and (*end_r) ends, the last '@' before stop counting, as for
   the parsers; or NULL */
static const char *userinfo_secret(const char *start, const char *stop, const char **end_r)
{
	const char *at = NULL;

	for (const char *q = start; q < stop; q++) {
		if (*q == '@')
			at = q;
	}
	const char *colon = at != NULL ? memchr(start, ':', (size_t)(at - start)) : NULL;
	if (colon == NULL)
		return NULL;
	*end_r = at;
	return colon + 1;
}

/* append - out[*used..) gets text[0..len), truncated to fit */
static void append(char *out, size_t size, size_t *used, const char *text, size_t len)
{
	if (*used + 1 >= size)
		return;
	if (len > size - 1 - *used)
		len = size - 1 - *used;
	memcpy(out + *used, text, len);
	*used += len;
	out[*used] = '\0';
}

/* append_query - NAME=VALUE&...: a password's value hidden, and any item
   the parsers do not know hidden whole (on a location that would not
   load, hide too much rather than too little) */
static void append_query(char *out, size_t size, size_t *used, const char *p)
{
	static const char *const secrets[] = { "password=", "sentinel_password=" };
	static const char *const shown[] = { "db=", "sentinel_user=" };

	while (*p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		bool done = false;
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]) && !done; i++) {
			size_t name_len = strlen(secrets[i]);
			if (len >= name_len && strncmp(p, secrets[i], name_len) == 0) {
				append(out, size, used, p, name_len);
				append(out, size, used, "***", 3);
				done = true;
			}
		}
		for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]) && !done; i++) {
			if (len >= strlen(shown[i]) && strncmp(p, shown[i], strlen(shown[i])) == 0) {
				append(out, size, used, p, len);
				done = true;
			}
		}
		if (!done)
			append(out, size, used, "***", 3);
		if (end == NULL)
			break;
		append(out, size, used, "&", 1);
		p = end + 1;
	}
}

void mb_store_location_redact(const char *location, char *out, size_t size)
{
	const char *p = location, *secret = NULL, *secret_end = NULL;
	const char *query = NULL;
	size_t used = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (strncmp(location, "redis://", 8) == 0) {
		/* no query: the parser takes the last '@' of all */
		secret = userinfo_secret(location + 8, location + strlen(location), &secret_end);
	} else if (strncmp(location, "sentinel://", 11) == 0) {
		query = strchr(location, '?');
		secret = userinfo_secret(location + 11, query != NULL ? query : location + strlen(location),
					 &secret_end);
	} else if (strncmp(location, "unix:", 5) == 0) {
		query = strchr(location, '?');
	}
	if (secret != NULL) {
		append(out, size, &used, p, (size_t)(secret - p));
		append(out, size, &used, "***", 3);
		p = secret_end;
	}
	if (query == NULL) {
		append(out, size, &used, p, strlen(p));
		return;
	}
	append(out, size, &used, p, (size_t)(query - p) + 1);
	append_query(out, size, &used, query + 1);
}
