/* redis-location.c - where a Redis store is
 *
 * SUMMARY
 *	Parses the context's "store" when it names Redis: a TCP URL
 *	(redis://[[user]:password@]host[:port][/db]) or a unix socket
 *	(unix:/path[?db=N][&password=...]). Pure; used by the context
 *	checks (so a bad location is refused when the file is read) and by
 *	the Redis backend.
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
	return strncmp(text, "redis:", 6) == 0 || strncmp(text, "unix:", 5) == 0;
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

static int parse_tcp(const char *text, struct mb_redis_location *loc, const char **error_r)
{
	const char *p = text + strlen("redis://");
	const char *at = strrchr(p, '@');
	const char *slash;

	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			*error_r = "the part before '@' is [USER]:PASSWORD";
			return -1;
		}
		if (!copy_part(p, (size_t)(colon - p), loc->user, sizeof(loc->user)) ||
		    !copy_part(colon + 1, (size_t)(at - colon - 1), loc->password, sizeof(loc->password)) ||
		    loc->password[0] == '\0') {
			*error_r = "bad user or password (no spaces or control characters, password up to 255 bytes)";
			return -1;
		}
		p = at + 1;
	}
	slash = strchr(p, '/');
	size_t hostport_len = slash != NULL ? (size_t)(slash - p) : strlen(p);
	const char *port_colon;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', hostport_len);
		if (close == NULL || !copy_part(p + 1, (size_t)(close - p - 1), loc->host, sizeof(loc->host))) {
			*error_r = "an IPv6 host is written [ADDRESS]";
			return -1;
		}
		port_colon = close + 1 < p + hostport_len ? close + 1 : NULL;
		if (port_colon != NULL && *port_colon != ':') {
			*error_r = "expected :PORT after ]";
			return -1;
		}
	} else {
		port_colon = memchr(p, ':', hostport_len);
		size_t host_len = port_colon != NULL ? (size_t)(port_colon - p) : hostport_len;
		if (!copy_part(p, host_len, loc->host, sizeof(loc->host))) {
			*error_r = "bad host name";
			return -1;
		}
	}
	if (loc->host[0] == '\0' || strspn(loc->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != strlen(loc->host)) {
		*error_r = "the host is a name or an address";
		return -1;
	}
	if (port_colon != NULL &&
	    !parse_number(port_colon + 1, (size_t)(p + hostport_len - port_colon - 1), 1, 65535, &loc->port)) {
		*error_r = "the port is a number from 1 to 65535";
		return -1;
	}
	if (slash != NULL && !parse_number(slash + 1, strlen(slash + 1), 0, 255, &loc->db)) {
		*error_r = "the database after '/' is a number from 0 to 255";
		return -1;
	}
	return 0;
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
	*error_r = "a Redis store is redis://HOST[:PORT][/DB] or unix:/PATH";
	return -1;
}

void mb_store_location_redact(const char *location, char *out, size_t size)
{
	const char *secret = NULL, *secret_end = NULL;

	if (strncmp(location, "redis://", 8) == 0) {
		const char *at = strrchr(location + 8, '@');
		const char *colon = at != NULL ? memchr(location + 8, ':', (size_t)(at - location - 8)) : NULL;
		if (colon != NULL) {
			secret = colon + 1;
			secret_end = at;
		}
	} else if (strncmp(location, "unix:", 5) == 0) {
		const char *p = strstr(location, "password=");
		if (p != NULL) {
			secret = p + 9;
			secret_end = strchr(secret, '&');
			if (secret_end == NULL)
				secret_end = secret + strlen(secret);
		}
	}
	if (secret == NULL) {
		snprintf(out, size, "%s", location);
		return;
	}
	snprintf(out, size, "%.*s***%s", (int)(secret - location), location, secret_end);
}
