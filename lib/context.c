/* context.c - the context file /etc/mailbag/context.json
 *
 * SUMMARY
 *	Reads the one settings file every mailbag part shares, checks every
 *	key against the schema below and freezes the result into a
 *	struct mb_context. The schema is one table: key, type, where it
 *	goes, default. An unknown key, a value of the wrong type or a value
 *	out of range is an error that names the key and says what is
 *	allowed; nothing is half-applied.
 *
 * DIAGNOSTICS
 *	"FILE: key 'policyd.socket_mode': expected ... (got ...)"
 */
#include "context.h"
#include "address.h"
#include "atomic-file.h"
#include "log.h"
#include "redis-location.h"
#include "sockaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbag-config.h"

enum field_type {
	FIELD_HOSTNAME,
	FIELD_STORE,
	FIELD_USER,
	FIELD_DELIMITER,
	FIELD_PATH,
	FIELD_OPTIONAL_PATH,
	FIELD_OPTIONAL_INET,
	FIELD_ID,
	FIELD_MODE,
	FIELD_SIZE,
	FIELD_BOOL,
	FIELD_COUNT,
	FIELD_DURATION,
	FIELD_RATE_LIMITS,
	FIELD_ALLOWLIST,
	FIELD_DOMAIN_LIST,
	FIELD_NODES,
	FIELD_NETWORK_LIST,
	FIELD_DOMAIN_PATTERNS,
	FIELD_CHOICE,
	FIELD_ADDRESS_LIST,
	FIELD_PORT,
	FIELD_CERTIFICATES,
	FIELD_OBJECT,
};

struct field {
	const char *key;
	enum field_type type;
	size_t offset;            /* into struct mb_context */
	const char *default_value; /* as text, parsed like a JSON string */
	const struct field *children; /* FIELD_OBJECT */
	const char *help;          /* what is allowed */
	bool restart;              /* fixed at a daemon's start: a reload
				      keeps the running value (string keys) */
};

#define END_OF_FIELDS { NULL, 0, 0, NULL, NULL, NULL, false }

static const struct field policyd_fields[] = {
	{ "socketmap_socket", FIELD_PATH, offsetof(struct mb_context, socketmap_socket),
	  "/var/spool/postfix/private/mailbag-socketmap", NULL, "an absolute path", true },
	{ "policy_socket", FIELD_PATH, offsetof(struct mb_context, policy_socket),
	  "/var/spool/postfix/private/mailbag-policy", NULL, "an absolute path", true },
	{ "usage_socket", FIELD_PATH, offsetof(struct mb_context, usage_socket),
	  "/run/mailbag/usage", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	END_OF_FIELDS
};

static const struct field defaults_fields[] = {
	{ "quota", FIELD_SIZE, offsetof(struct mb_context, default_quota_bytes),
	  "0", NULL, "bytes as a number, or a string like \"2G\"; 0 for no limit", false },
	{ "max_message_size", FIELD_SIZE, offsetof(struct mb_context, default_max_message_bytes),
	  "50M", NULL, "bytes as a number, or a string like \"50M\"; 0 for no limit", false },
	END_OF_FIELDS
};

static const struct field checks_fields[] = {
	{ "message_size", FIELD_BOOL, offsetof(struct mb_context, check_message_size),
	  "true", NULL, "true or false", false },
	{ "sender_login", FIELD_BOOL, offsetof(struct mb_context, check_sender_login),
	  "true", NULL, "true or false", false },
	{ "quota", FIELD_BOOL, offsetof(struct mb_context, check_quota),
	  "true", NULL, "true or false", false },
	{ "max_recipients_per_message", FIELD_COUNT,
	  offsetof(struct mb_context, max_recipients_per_message),
	  "0", NULL, "a number of recipients, 0 for no cap", false },
	END_OF_FIELDS
};

static const struct field greylisting_fields[] = {
	{ "enabled", FIELD_BOOL, offsetof(struct mb_context, greylisting),
	  "false", NULL, "true or false", false },
	{ "delay", FIELD_DURATION, offsetof(struct mb_context, greylist_delay),
	  "5m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "retry_window", FIELD_DURATION, offsetof(struct mb_context, greylist_retry_window),
	  "2d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "lifetime", FIELD_DURATION, offsetof(struct mb_context, greylist_lifetime),
	  "35d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "auto_allow_after", FIELD_COUNT, offsetof(struct mb_context, greylist_auto_allow),
	  "5", NULL, "a number of passed retries, 0 for never", false },
	{ "allowlist", FIELD_ALLOWLIST, offsetof(struct mb_context, greylist_allowlist),
	  "[\"127.0.0.0/8\", \"::1\"]", NULL, "a list of networks (\"192.0.2.0/24\", \"2001:db8::/32\") and domains (\"example.org\")", false },
	END_OF_FIELDS
};

static const struct field auth_fields[] = {
	{ "failures_per_ip", FIELD_COUNT, offsetof(struct mb_context, auth_failures_per_ip),
	  "10", NULL, "a number of failed logins, 0 for no limit", false },
	{ "failures_per_account", FIELD_COUNT, offsetof(struct mb_context, auth_failures_per_account),
	  "50", NULL, "a number of failed logins, 0 for no limit", false },
	{ "lockout", FIELD_DURATION, offsetof(struct mb_context, auth_lockout),
	  "15m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "lockout_max", FIELD_DURATION, offsetof(struct mb_context, auth_lockout_max),
	  "1d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	END_OF_FIELDS
};

static const struct field auto_create_fields[] = {
	{ "domains", FIELD_DOMAIN_LIST, offsetof(struct mb_context, auto_create_domains),
	  NULL, NULL, "a list of domain names whose unknown addresses a first login creates", false },
	{ "min_password_length", FIELD_COUNT, offsetof(struct mb_context, auto_create_min_password),
	  "12", NULL, "a number of characters", false },
	END_OF_FIELDS
};

static const struct field expire_fields[] = {
	{ "after", FIELD_DURATION, offsetof(struct mb_context, expire_after),
	  "0", NULL, "a duration such as \"180d\"; 0 never expires accounts", false },
	{ "delete", FIELD_BOOL, offsetof(struct mb_context, expire_delete),
	  "false", NULL, "true (delete accounts and their mail) or false (disable them)", false },
	END_OF_FIELDS
};

static const struct field lmtpd_fields[] = {
	{ "socket", FIELD_PATH, offsetof(struct mb_context, lmtpd_socket),
	  "/var/spool/postfix/private/mailbag-lmtp", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, lmtpd_socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, lmtpd_socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	{ "listen_tcp", FIELD_OPTIONAL_INET, offsetof(struct mb_context, lmtpd_listen_tcp),
	  "", NULL, "\"\" (off) or \"IP:PORT\" / \"[IPv6]:PORT\" to take LMTP over TCP too (no authentication: a private address)", true },
	{ "dovecot_lmtp", FIELD_PATH, offsetof(struct mb_context, lmtpd_dovecot_lmtp),
	  "/run/dovecot/mailbag-lmtp", NULL, "an absolute path (the local Dovecot's LMTP socket)", false },
	{ "nodes", FIELD_NODES, 0, NULL, NULL,
	  "an object of node names (1 to 32 of a-z 0-9 . _ -) to Dovecot LMTP addresses: "
	  "\"/unix/socket\", \"IP:PORT\" or \"[IPv6]:PORT\"", false },
	{ "spool_dir", FIELD_PATH, offsetof(struct mb_context, lmtpd_spool_dir),
	  "/var/spool/mailbag", NULL, "an absolute path", true },
	{ "max_message_size", FIELD_SIZE, offsetof(struct mb_context, lmtpd_max_message_bytes),
	  "100M", NULL, "bytes as a number, or a string like \"100M\"; 0 for no limit", false },
	{ "timeout", FIELD_DURATION, offsetof(struct mb_context, lmtpd_timeout),
	  "5m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\"", false },
	{ "notify_socket", FIELD_OPTIONAL_PATH, offsetof(struct mb_context, lmtpd_notify_socket),
	  "", NULL, "\"\" (off) or the absolute path of a unix datagram socket", false },
	{ "dedupe_window", FIELD_DURATION, offsetof(struct mb_context, lmtpd_dedupe_window),
	  "5d", NULL, "a duration at least as long as Postfix's maximal_queue_lifetime, such as \"5d\"", false },
	END_OF_FIELDS
};

static const struct field dkim_fields[] = {
	{ "key_dir", FIELD_PATH, offsetof(struct mb_context, dkim_key_dir),
	  "/etc/mailbag/dkim", NULL, "an absolute path (keys in DIR/DOMAIN/SELECTOR.key)", false },
	{ "rotation_delay", FIELD_DURATION, offsetof(struct mb_context, dkim_rotation_delay),
	  "2d", NULL, "a duration such as \"2d\": a rotated key signs this long after it is made, or as soon as `mailbag dkim activate` finds it in DNS", false },
	{ "retire_after", FIELD_DURATION, offsetof(struct mb_context, dkim_retire_after),
	  "7d", NULL, "a duration such as \"7d\": how long a replaced key's record stays published", false },
	END_OF_FIELDS
};

static const char *const dmarc_actions[] = { "reject", "quarantine", "none", NULL };

static const struct field milter_fields[] = {
	{ "socket", FIELD_PATH, offsetof(struct mb_context, milter_socket),
	  "/var/spool/postfix/private/mailbag-milter", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, milter_socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, milter_socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	{ "listen_tcp", FIELD_OPTIONAL_INET, offsetof(struct mb_context, milter_listen_tcp),
	  "", NULL, "\"\" (unix socket only) or \"IP:PORT\" / \"[IPv6]:PORT\" to serve the milter over TCP instead", true },
	{ "trusted_networks", FIELD_NETWORK_LIST, offsetof(struct mb_context, milter_trusted),
	  "[]", NULL, "a list of networks (\"192.0.2.0/24\", \"::1\") whose unauthenticated mail is outbound (signed, not checked)", false },
	{ "sign", FIELD_BOOL, offsetof(struct mb_context, milter_sign),
	  "true", NULL, "true or false", false },
	{ "verify", FIELD_BOOL, offsetof(struct mb_context, milter_verify),
	  "true", NULL, "true or false", false },
	{ "check_header_from", FIELD_BOOL, offsetof(struct mb_context, milter_check_header_from),
	  "true", NULL, "true or false", false },
	{ "strip_submitter_headers", FIELD_BOOL, offsetof(struct mb_context, milter_strip_submitter),
	  "true", NULL, "true or false", false },
	{ "dmarc_reject_action", FIELD_CHOICE, offsetof(struct mb_context, milter_dmarc_reject_action),
	  "reject", NULL, "\"reject\", \"quarantine\" (Postfix's hold queue) or \"none\"", false },
	{ "require_dkim", FIELD_BOOL, offsetof(struct mb_context, milter_require_dkim),
	  "false", NULL, "true or false (true: refuse inbound mail without a valid DKIM signature)", false },
	{ "dkim_required", FIELD_DOMAIN_PATTERNS, offsetof(struct mb_context, milter_dkim_required),
	  "[]", NULL, "a list of domains (\"example.org\") and wildcards (\"*.example.org\") whose mail must carry a valid DKIM signature of its From domain", false },
	{ "encryption_only_domains", FIELD_DOMAIN_PATTERNS, offsetof(struct mb_context, milter_encryption_only),
	  "[]", NULL, "a list of domains (\"chat.example.org\", \"*.example.org\") whose mail, both ways, must be OpenPGP-encrypted", false },
	{ "encryption_passthrough", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter_passthrough),
	  "[]", NULL, "a list of addresses (\"echo@example.org\") and domains (\"@example.org\") whose mail, to or from them, need not be encrypted", false },
	{ "encryption_passthrough_senders", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter_passthrough_senders),
	  "[]", NULL, "a list of addresses (\"news@example.org\") and domains (\"@example.org\") whose mail need not be encrypted", false },
	{ "encryption_passthrough_recipients", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter_passthrough_recipients),
	  "[]", NULL, "a list of addresses (\"echo@example.org\") and domains (\"@example.org\") mail to which need not be encrypted", false },
	{ "dns_timeout", FIELD_DURATION, offsetof(struct mb_context, milter_dns_timeout),
	  "10s", NULL, "a duration: seconds as a number, or \"10s\"", false },
	END_OF_FIELDS
};

static const struct field clients_fields[] = {
	{ "submission_port", FIELD_PORT, offsetof(struct mb_context, submission_port),
	  "587", NULL, "a port number, 0 when not offered", false },
	{ "submissions_port", FIELD_PORT, offsetof(struct mb_context, submissions_port),
	  "465", NULL, "a port number, 0 when not offered", false },
	{ "imap_port", FIELD_PORT, offsetof(struct mb_context, imap_port),
	  "143", NULL, "a port number, 0 when not offered", false },
	{ "imaps_port", FIELD_PORT, offsetof(struct mb_context, imaps_port),
	  "993", NULL, "a port number, 0 when not offered", false },
	END_OF_FIELDS
};

static const struct field tls_fields[] = {
	{ "certificates", FIELD_CERTIFICATES, 0, NULL, NULL,
	  "an object of host names to {\"cert\": \"/path/fullchain.pem\", \"key\": \"/path/privkey.pem\"}", false },
	{ "postfix_sni_map", FIELD_PATH, offsetof(struct mb_context, tls_postfix_sni_map),
	  "/etc/postfix/mailbag-sni", NULL, "an absolute path (Postfix's tls_server_sni_maps, hash: table)", false },
	{ "dovecot_conf", FIELD_PATH, offsetof(struct mb_context, tls_dovecot_conf),
	  "/etc/dovecot/conf.d/91-mailbag-tls.conf", NULL, "an absolute path (a Dovecot conf.d file)", false },
	END_OF_FIELDS
};

static const struct field top_fields[] = {
	{ "hostname", FIELD_HOSTNAME, offsetof(struct mb_context, hostname),
	  "localhost.localdomain", NULL, "a fully qualified host name", false },
	{ "store", FIELD_STORE, offsetof(struct mb_context, store),
	  "lmdb:/var/lib/mailbag/store", NULL,
	  "\"lmdb:/absolute/dir\", \"redis://[:PASSWORD@]HOST[:PORT][/DB]\" or \"unix:/PATH[?db=N&password=P]\"", true },
	{ "daemon_user", FIELD_USER, offsetof(struct mb_context, daemon_user),
	  "mailbag", NULL, "a user name", true },
	{ "recipient_delimiter", FIELD_DELIMITER, offsetof(struct mb_context, recipient_delimiter),
	  "+", NULL, "up to 4 characters from \"+-_=\", or \"\" for none", false },
	{ "mail_root", FIELD_PATH, offsetof(struct mb_context, mail_root),
	  "/var/vmail", NULL, "an absolute path", false },
	{ "vmail_uid", FIELD_ID, offsetof(struct mb_context, vmail_uid),
	  "5000", NULL, "a number from 1 to 4294967294", false },
	{ "vmail_gid", FIELD_ID, offsetof(struct mb_context, vmail_gid),
	  "5000", NULL, "a number from 1 to 4294967294", false },
	{ "policyd", FIELD_OBJECT, 0, NULL, policyd_fields, "an object", false },
	{ "defaults", FIELD_OBJECT, 0, NULL, defaults_fields, "an object", false },
	{ "checks", FIELD_OBJECT, 0, NULL, checks_fields, "an object", false },
	{ "rate_limits", FIELD_RATE_LIMITS, offsetof(struct mb_context, rate_limits), NULL, NULL,
	  "a list of {\"key\": sasl_username|sender_domain|client_address|client_network|recipient, "
	  "\"count\": messages|recipients, \"per\": minute|hour|day, \"limit\": N, \"name\": optional}", false },
	{ "greylisting", FIELD_OBJECT, 0, NULL, greylisting_fields, "an object", false },
	{ "auth", FIELD_OBJECT, 0, NULL, auth_fields, "an object", false },
	{ "expire", FIELD_OBJECT, 0, NULL, expire_fields, "an object", false },
	{ "auto_create", FIELD_OBJECT, 0, NULL, auto_create_fields, "an object", false },
	{ "lmtpd", FIELD_OBJECT, 0, NULL, lmtpd_fields, "an object", false },
	{ "dkim", FIELD_OBJECT, 0, NULL, dkim_fields, "an object", false },
	{ "milter", FIELD_OBJECT, 0, NULL, milter_fields, "an object", false },
	{ "clients", FIELD_OBJECT, 0, NULL, clients_fields, "an object", false },
	{ "tls", FIELD_OBJECT, 0, NULL, tls_fields, "an object", false },
	END_OF_FIELDS
};

static bool node_address_valid(const char *address);

struct parse_state {
	const char *name;
	char *error;
	size_t error_size;
	bool has_secret; /* a password in the store location */
};

static int fail(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse_state *st, const char *key, const char *fmt, ...)
{
	char detail[384];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	/* keys and values come from the file: keep the message one line */
	char safe_detail[512], safe_key[256];
	mb_log_sanitize(detail, strlen(detail), safe_detail, sizeof(safe_detail));
	if (key != NULL)
		snprintf(st->error, st->error_size, "%s: key '%s': %s", st->name,
			 mb_log_sanitize(key, strlen(key), safe_key, sizeof(safe_key)), safe_detail);
	else
		snprintf(st->error, st->error_size, "%s: %s", st->name, safe_detail);
	return -1;
}

/* fail_io - like fail(), for a file that could not be written: -EIO */
static int fail_io(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_io(struct parse_state *st, const char *key, const char *fmt, ...)
{
	char detail[384];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	fail(st, key, "%s", detail);
	return -EIO;
}

int mb_parse_size(const char *text, uint64_t *bytes_r, const char **error_r)
{
	char *end;
	unsigned long long value;
	uint64_t unit = 1;

	if (text[0] < '0' || text[0] > '9') {
		*error_r = "a size starts with a digit";
		return -1;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0) {
		*error_r = "the size is too large";
		return -1;
	}
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': unit = 1ULL << 10; end++; break;
	case 'm': case 'M': unit = 1ULL << 20; end++; break;
	case 'g': case 'G': unit = 1ULL << 30; end++; break;
	case 't': case 'T': unit = 1ULL << 40; end++; break;
	default:
		*error_r = "a size is a number with an optional K, M, G or T";
		return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0') {
		*error_r = "a size is a number with an optional K, M, G or T";
		return -1;
	}
	if (value > UINT64_MAX / unit) {
		*error_r = "the size is too large";
		return -1;
	}
	*bytes_r = value * unit;
	return 0;
}

/* check_string_value - the checks of the string-typed fields */
static int check_string_value(struct parse_state *st, const char *key,
			      const struct field *f, const char *value)
{
	const char *error;
	char domain[MB_DOMAIN_MAX + 1];

	switch (f->type) {
	case FIELD_HOSTNAME:
		if (mb_domain_parse(value, domain, &error) < 0)
			return fail(st, key, "expected %s: %s (got \"%.80s\")", f->help, error, value);
		return 0;
	case FIELD_STORE: {
		struct mb_redis_location loc;
		if (strncmp(value, "lmdb:/", 6) == 0 && strstr(value, "/../") == NULL)
			return 0;
		/* never echo a Redis location: it may carry a password */
		if (mb_redis_location_is(value) &&
		    mb_redis_location_parse(value, &loc, &error) < 0)
			return fail(st, key, "expected %s: %s", f->help, error);
		if (mb_redis_location_is(value)) {
			st->has_secret = loc.password[0] != '\0';
			explicit_bzero(&loc, sizeof(loc));
			return 0;
		}
		return fail(st, key, "expected %s (got \"%.80s\")", f->help, value);
	}
	case FIELD_USER:
		if (value[0] == '\0' || strlen(value) > 32 ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(value) ||
		    value[0] == '-')
			return fail(st, key, "expected %s of lower-case letters, digits, '_' and '-' (got \"%.80s\")", f->help, value);
		return 0;
	case FIELD_DELIMITER:
		if (strlen(value) > 4 || strspn(value, "+-_=") != strlen(value))
			return fail(st, key, "expected %s (got \"%.80s\")", f->help, value);
		return 0;
	case FIELD_OPTIONAL_INET:
		if (value[0] == '\0' || (value[0] != '/' && strlen(value) <= MB_NODE_ADDRESS_MAX &&
					  node_address_valid(value)))
			return 0;
		return fail(st, key, "expected %s (got \"%.80s\")", f->help, value);
	case FIELD_OPTIONAL_PATH:
		if (value[0] == '\0')
			return 0;
		/* else an absolute path, as below */
		__attribute__((fallthrough));
	case FIELD_PATH:
		if (value[0] != '/' || strlen(value) > 200 || strstr(value, "/../") != NULL)
			return fail(st, key, "expected %s of at most 200 characters without '/../' (got \"%.80s\")", f->help, value);
		return 0;
	default:
		return 0;
	}
}

int mb_parse_duration(const char *text, int64_t *seconds_r, const char **error_r)
{
	long long amount, unit = 1;
	char *end;

	errno = 0;
	amount = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || errno != 0) {
		*error_r = "a duration starts with a number";
		return -1;
	}
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default:
		*error_r = "a duration is a number with an optional s, m, h or d";
		return -1;
	}
	if (*end != '\0' && end[1] != '\0') {
		*error_r = "a duration is a number with an optional s, m, h or d";
		return -1;
	}
	/* ten years is more than any window or lock needs */
	if (amount > 3650LL * 86400 / unit) {
		*error_r = "a duration is at most 3650 days";
		return -1;
	}
	*seconds_r = (int64_t)(amount * unit);
	return 0;
}

/* parse_duration - a duration string or a JSON integer of seconds */
static int parse_duration(struct parse_state *st, const char *key, const struct field *f,
			  json_t *value, int64_t *seconds_r)
{
	const char *error;

	if (json_is_integer(value)) {
		json_int_t seconds = json_integer_value(value);
		if (seconds < 0 || seconds > 3650LL * 86400)
			return fail(st, key, "expected %s, from 0 to 3650 days", f->help);
		*seconds_r = (int64_t)seconds;
		return 0;
	}
	if (!json_is_string(value))
		return fail(st, key, "expected %s", f->help);
	if (mb_parse_duration(json_string_value(value), seconds_r, &error) < 0)
		return fail(st, key, "expected %s: %s (got \"%.40s\")", f->help, error,
			    json_string_value(value));
	return 0;
}

static int parse_count(struct parse_state *st, const char *key, const struct field *f,
		       json_t *value, uint64_t *count_r)
{
	if (!json_is_integer(value) || json_integer_value(value) < 0)
		return fail(st, key, "expected %s", f->help);
	*count_r = (uint64_t)json_integer_value(value);
	return 0;
}

/* lookup_word - the index of word in words (NULL-terminated), or -1 */
static int lookup_word(const char *const *words, const char *word)
{
	for (int i = 0; words[i] != NULL; i++) {
		if (strcmp(words[i], word) == 0)
			return i;
	}
	return -1;
}

static const char *const rate_subject_words[] = {
	"sasl_username", "sender_domain", "client_address", "client_network", "recipient", NULL
};
static const char *const rate_unit_words[] = { "messages", "recipients", NULL };
static const char *const rate_period_words[] = { "minute", "hour", "day", NULL };
static const int64_t rate_period_seconds[] = { 60, 3600, 86400 };

/* rate_word - one of words from obj[name], or -1 after failing */
static int rate_word(struct parse_state *st, const char *key, json_t *obj, const char *name,
		     const char *const *words, const char *allowed)
{
	json_t *value = json_object_get(obj, name);
	int index;

	if (value == NULL)
		return fail(st, key, "\"%s\" is missing; it is one of %s", name, allowed);
	index = json_is_string(value) ? lookup_word(words, json_string_value(value)) : -1;
	if (index < 0)
		return fail(st, key, "\"%s\" must be one of %s", name, allowed);
	return index;
}

static int parse_rate_limit(struct parse_state *st, const char *key, json_t *obj,
			    struct mb_rate_limit *limit)
{
	static const char *const members[] = { "name", "key", "count", "per", "limit", NULL };
	const char *member;
	json_t *value;
	int subject, unit, period;

	if (!json_is_object(obj))
		return fail(st, key, "expected an object with key, count, per and limit");
	json_object_foreach(obj, member, value) {
		if (lookup_word(members, member) < 0)
			return fail(st, key, "unknown member \"%.40s\"; allowed: name, key, count, per, limit", member);
	}
	if ((subject = rate_word(st, key, obj, "key", rate_subject_words,
				 "sasl_username, sender_domain, client_address, client_network, recipient")) < 0 ||
	    (unit = rate_word(st, key, obj, "count", rate_unit_words, "messages, recipients")) < 0 ||
	    (period = rate_word(st, key, obj, "per", rate_period_words, "minute, hour, day")) < 0)
		return -1;
	value = json_object_get(obj, "limit");
	if (!json_is_integer(value) || json_integer_value(value) < 1)
		return fail(st, key, "\"limit\" must be a number of at least 1");
	if (subject == MB_RATE_RECIPIENT && unit == MB_RATE_MESSAGES)
		return fail(st, key, "a limit per recipient counts recipients (a message has many)");
	limit->subject = (enum mb_rate_subject)subject;
	limit->unit = (enum mb_rate_unit)unit;
	limit->window_seconds = rate_period_seconds[period];
	limit->limit = (uint64_t)json_integer_value(value);
	value = json_object_get(obj, "name");
	if (value != NULL) {
		const char *name = json_is_string(value) ? json_string_value(value) : "";
		if (name[0] == '\0' || strlen(name) > MB_RATE_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(name))
			return fail(st, key, "\"name\" must be 1 to %d letters, digits, '_', '-' or '.'",
				    MB_RATE_NAME_MAX);
		snprintf(limit->name, sizeof(limit->name), "%s", name);
	} else {
		snprintf(limit->name, sizeof(limit->name), "%s-%s-per-%s",
			 rate_subject_words[subject], rate_unit_words[unit], rate_period_words[period]);
	}
	return 0;
}

static int set_rate_limits(struct parse_state *st, const char *key, const struct field *f,
			   json_t *value, struct mb_context *ctx)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	char item_key[160];

	if (!json_is_array(value))
		return fail(st, key, "expected %s", f->help);
	if (count > MB_RATE_LIMITS_MAX)
		return fail(st, key, "at most %d rate limits", MB_RATE_LIMITS_MAX);
	struct mb_rate_limit *limits = calloc(count + 1, sizeof(*limits));
	if (limits == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		snprintf(item_key, sizeof(item_key), "%.120s[%zu]", key, i);
		if (parse_rate_limit(st, item_key, json_array_get(value, i), &limits[i]) < 0) {
			free(limits);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(limits[j].name, limits[i].name) == 0) {
				fail(st, item_key, "a second limit named \"%s\"; give each a different \"name\"",
				     limits[i].name);
				free(limits);
				return -1;
			}
		}
	}
	free(ctx->rate_limits);
	ctx->rate_limits = limits;
	ctx->rate_limit_count = count;
	return 0;
}

static int set_allowlist(struct parse_state *st, const char *key, const struct field *f,
			 json_t *value, struct mb_context *ctx)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;

	if (!json_is_array(value))
		return fail(st, key, "expected %s", f->help);
	if (count > MB_ALLOWLIST_MAX)
		return fail(st, key, "at most %d entries", MB_ALLOWLIST_MAX);
	struct mb_allow_entry *entries = calloc(count + 1, sizeof(*entries));
	if (entries == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : NULL;
		const char *net_error, *domain_error;
		if (text == NULL) {
			free(entries);
			return fail(st, key, "entry %zu is not a string", i);
		}
		if (mb_network_parse(text, &entries[i].network, &net_error) == 0) {
			entries[i].is_network = true;
		} else if (strpbrk(text, ":/") != NULL ||
			   strspn(text, "0123456789.") == strlen(text)) {
			free(entries);
			return fail(st, key, "entry \"%.60s\": %s", text, net_error);
		} else if (mb_domain_parse(text, entries[i].domain, &domain_error) < 0) {
			free(entries);
			return fail(st, key, "entry \"%.60s\" is neither a network nor a domain: %s",
				    text, domain_error);
		}
	}
	free(ctx->greylist_allowlist);
	ctx->greylist_allowlist = entries;
	ctx->greylist_allow_count = count;
	return 0;
}

static int set_domain_list(struct parse_state *st, const char *key, const struct field *f,
			   json_t *value, struct mb_context *ctx)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > 1000)
		return fail(st, key, "expected %s (at most 1000)", f->help);
	char (*domains)[MB_DOMAIN_MAX + 1] = calloc(count + 1, sizeof(*domains));
	if (domains == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		if (!json_is_string(item) || mb_domain_parse(json_string_value(item), domains[i], &error) < 0) {
			free(domains);
			return fail(st, key, "entry %zu is not a domain name", i);
		}
	}
	free(ctx->auto_create_domains);
	ctx->auto_create_domains = domains;
	ctx->auto_create_domain_count = count;
	return 0;
}

static int set_network_list(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_network_list *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > MB_ALLOWLIST_MAX)
		return fail(st, key, "expected %s (at most %d)", f->help, MB_ALLOWLIST_MAX);
	struct mb_network *networks = calloc(count + 1, sizeof(*networks));
	if (networks == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		if (mb_network_parse(text, &networks[i], &error) < 0) {
			free(networks);
			return fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
	}
	free(list->items);
	list->items = networks;
	list->count = count;
	return 0;
}

/* set_domain_patterns - "example.org" (that domain) or "*.example.org"
   (its subdomains and itself) */
static int set_domain_patterns(struct parse_state *st, const char *key, const struct field *f,
			       json_t *value, struct mb_domain_patterns *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > 1000)
		return fail(st, key, "expected %s (at most 1000)", f->help);
	struct mb_domain_pattern *patterns = calloc(count + 1, sizeof(*patterns));
	if (patterns == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		patterns[i].wildcard = strncmp(text, "*.", 2) == 0;
		if (mb_domain_parse(text + (patterns[i].wildcard ? 2 : 0), patterns[i].domain, &error) < 0) {
			free(patterns);
			return fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
	}
	free(list->items);
	list->items = patterns;
	list->count = count;
	return 0;
}

static int set_address_list(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_address_list *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	struct mb_address parsed;
	const char *error;

	if (!json_is_array(value) || count > 10000)
		return fail(st, key, "expected %s (at most 10000)", f->help);
	char (*addresses)[MB_ADDRESS_MAX + 1] = calloc(count + 1, sizeof(*addresses));
	if (addresses == NULL)
		return fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		if (text[0] == '@') {
			/* "@example.org": every address of that domain */
			char domain[MB_DOMAIN_MAX + 1];
			if (mb_domain_parse(text + 1, domain, &error) < 0) {
				free(addresses);
				return fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
			}
			snprintf(addresses[i], sizeof(addresses[i]), "@%s", domain);
			continue;
		}
		if (mb_address_parse(text, "", &parsed, &error) < 0) {
			free(addresses);
			return fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
		mb_address_format(&parsed, addresses[i], sizeof(addresses[i]));
	}
	free(list->items);
	list->items = addresses;
	list->count = count;
	return 0;
}

bool mb_address_list_contains(const struct mb_address_list *list, const char *address)
{
	const char *at = strrchr(address, '@');

	for (size_t i = 0; i < list->count; i++) {
		if (list->items[i][0] == '@' ? at != NULL && strcasecmp(list->items[i], at) == 0 :
		    strcasecmp(list->items[i], address) == 0)
			return true;
	}
	return false;
}

/* field_choices - the words of a FIELD_CHOICE, stored as their index */
static const char *const *field_choices(const struct field *f)
{
	if (f->offset == offsetof(struct mb_context, milter_dmarc_reject_action))
		return dmarc_actions;
	return NULL;
}

static int set_choice(struct parse_state *st, const char *key, const struct field *f,
		      json_t *value, int *index_r)
{
	const char *text = json_is_string(value) ? json_string_value(value) : "";
	const char *const *choices = field_choices(f);

	for (int i = 0; choices != NULL && choices[i] != NULL; i++) {
		if (strcmp(choices[i], text) == 0) {
			*index_r = i;
			return 0;
		}
	}
	return fail(st, key, "expected %s", f->help);
}

bool mb_domain_patterns_match(const struct mb_domain_patterns *list, const char *domain)
{
	size_t len = strlen(domain);

	for (size_t i = 0; i < list->count; i++) {
		const struct mb_domain_pattern *p = &list->items[i];
		size_t plen = strlen(p->domain);
		if (strcasecmp(domain, p->domain) == 0)
			return true;
		if (p->wildcard && len > plen && domain[len - plen - 1] == '.' &&
		    strcasecmp(domain + len - plen, p->domain) == 0)
			return true;
	}
	return false;
}

bool mb_node_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= MB_NODE_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* node_address_valid - "/path", "IPv4:PORT" or "[IPv6]:PORT" */
static bool node_address_valid(const char *address)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return mb_sockaddr_parse(address, &ss, &len) == 0;
}

static int set_nodes(struct parse_state *st, const char *key, const struct field *f,
		     json_t *value, struct mb_context *ctx)
{
	const char *name;
	json_t *address;
	size_t count = 0;

	if (!json_is_object(value) || json_object_size(value) > MB_NODES_MAX)
		return fail(st, key, "expected %s (at most %d)", f->help, MB_NODES_MAX);
	struct mb_lmtp_node *nodes = calloc(json_object_size(value) + 1, sizeof(*nodes));
	if (nodes == NULL)
		return fail(st, key, "out of memory");
	json_object_foreach(value, name, address) {
		const char *text = json_is_string(address) ? json_string_value(address) : "";
		if (!mb_node_name_valid(name) || strcmp(name, "local") == 0) {
			free(nodes);
			return fail(st, key, "node name \"%.40s\": use 1 to 32 of a-z 0-9 . _ - (\"local\" is the local Dovecot)", name);
		}
		if (strlen(text) > MB_NODE_ADDRESS_MAX || !node_address_valid(text)) {
			free(nodes);
			return fail(st, key, "node %s: \"%.60s\" is not \"/unix/socket\", \"IP:PORT\" or \"[IPv6]:PORT\"", name, text);
		}
		snprintf(nodes[count].name, sizeof(nodes[count].name), "%s", name);
		snprintf(nodes[count].address, sizeof(nodes[count].address), "%s", text);
		count++;
	}
	free(ctx->lmtpd_nodes);
	ctx->lmtpd_nodes = nodes;
	ctx->lmtpd_node_count = count;
	return 0;
}

const struct mb_lmtp_node *mb_context_node(const struct mb_context *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->lmtpd_node_count; i++) {
		if (strcmp(ctx->lmtpd_nodes[i].name, name) == 0)
			return &ctx->lmtpd_nodes[i];
	}
	return NULL;
}

static int certificate_path(struct parse_state *st, const char *key, const char *hostname,
			    json_t *entry, const char *name, char *buf, size_t size)
{
	json_t *value = json_object_get(entry, name);
	const char *text = json_is_string(value) ? json_string_value(value) : "";

	if (text[0] != '/' || strlen(text) >= size || strstr(text, "/../") != NULL ||
	    strlen(text) != json_string_length(value))
		return fail(st, key, "%s: \"%s\" must be an absolute path of at most %zu characters (got \"%.80s\")",
			    hostname, name, size - 1, text);
	memcpy(buf, text, strlen(text) + 1);
	return 0;
}

/* check_certificate - one entry of tls.certificates into c */
static int check_certificate(struct parse_state *st, const char *key, const char *hostname,
			     json_t *entry, struct mb_tls_certificate *c)
{
	const char *error, *name;
	json_t *item;

	if (mb_domain_parse(hostname, c->hostname, &error) < 0)
		return fail(st, key, "\"%.80s\" is not a host name: %s", hostname, error);
	if (!json_is_object(entry))
		return fail(st, key, "%s: expected {\"cert\": PATH, \"key\": PATH}", c->hostname);
	json_object_foreach(entry, name, item) {
		if (strcmp(name, "cert") != 0 && strcmp(name, "key") != 0)
			return fail(st, key, "%s: unknown key '%.40s'; allowed: cert, key", c->hostname, name);
	}
	if (certificate_path(st, key, c->hostname, entry, "cert", c->cert_file, sizeof(c->cert_file)) < 0 ||
	    certificate_path(st, key, c->hostname, entry, "key", c->key_file, sizeof(c->key_file)) < 0)
		return -1;
	return 0;
}

/* set_certificates - tls.certificates: host name -> {cert, key} */
static int set_certificates(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_context *ctx)
{
	const char *hostname;
	json_t *entry;
	size_t count = 0;

	if (!json_is_object(value) || json_object_size(value) > MB_TLS_CERTIFICATES_MAX)
		return fail(st, key, "expected %s (at most %d)", f->help, MB_TLS_CERTIFICATES_MAX);
	struct mb_tls_certificate *certs = calloc(json_object_size(value) + 1, sizeof(*certs));
	if (certs == NULL)
		return fail(st, key, "out of memory");
	json_object_foreach(value, hostname, entry) {
		int ret = check_certificate(st, key, hostname, entry, &certs[count]);
		for (size_t i = 0; ret == 0 && i < count; i++) {
			if (strcmp(certs[i].hostname, certs[count].hostname) == 0)
				ret = fail(st, key, "%s is named twice", certs[i].hostname);
		}
		if (ret < 0) {
			free(certs);
			return -1;
		}
		count++;
	}
	free(ctx->tls_certificates);
	ctx->tls_certificates = certs;
	ctx->tls_certificate_count = count;
	return 0;
}

const struct mb_tls_certificate *mb_context_certificate(const struct mb_context *ctx,
							const char *hostname)
{
	for (size_t i = 0; i < ctx->tls_certificate_count; i++) {
		if (strcasecmp(ctx->tls_certificates[i].hostname, hostname) == 0)
			return &ctx->tls_certificates[i];
	}
	return NULL;
}

/* set_field - convert one JSON value and store it in the context */
static int set_field(struct parse_state *st, const char *key,
		     const struct field *f, json_t *value, struct mb_context *ctx)
{
	char *base = (char *)ctx + f->offset;
	const char *error;

	switch (f->type) {
	case FIELD_HOSTNAME: case FIELD_STORE: case FIELD_USER:
	case FIELD_DELIMITER: case FIELD_PATH: case FIELD_OPTIONAL_PATH: case FIELD_OPTIONAL_INET: {
		if (!json_is_string(value))
			return fail(st, key, "expected a string: %s", f->help);
		const char *s = json_string_value(value);
		if (strlen(s) != json_string_length(value))
			return fail(st, key, "the string contains a NUL byte");
		if (check_string_value(st, key, f, s) < 0)
			return -1;
		char *copy = strdup(s);
		if (copy == NULL)
			return fail(st, key, "out of memory");
		free(*(char **)base);
		*(char **)base = copy;
		return 0;
	}
	case FIELD_ID: {
		json_int_t id;
		if (json_is_string(value)) {
			char *end;
			errno = 0;
			id = strtoll(json_string_value(value), &end, 10);
			if (errno != 0 || *end != '\0' || end == json_string_value(value))
				return fail(st, key, "expected %s", f->help);
		} else if (json_is_integer(value)) {
			id = json_integer_value(value);
		} else {
			return fail(st, key, "expected %s", f->help);
		}
		if (id < 1 || id > 4294967294LL)
			return fail(st, key, "expected %s (got %lld)", f->help, (long long)id);
		*(long *)base = (long)id;
		return 0;
	}
	case FIELD_MODE: {
		if (!json_is_string(value))
			return fail(st, key, "expected %s", f->help);
		const char *s = json_string_value(value);
		char *end;
		unsigned long mode = strtoul(s, &end, 8);
		if (*s == '\0' || *end != '\0' || (mode & ~0666UL) != 0 || (mode & 0600) != 0600)
			return fail(st, key, "expected %s (got \"%.20s\")", f->help, s);
		*(unsigned int *)base = (unsigned int)mode;
		return 0;
	}
	case FIELD_SIZE: {
		uint64_t bytes;
		if (json_is_integer(value)) {
			if (json_integer_value(value) < 0)
				return fail(st, key, "expected %s (got a negative number)", f->help);
			bytes = (uint64_t)json_integer_value(value);
		} else if (json_is_string(value)) {
			if (mb_parse_size(json_string_value(value), &bytes, &error) < 0)
				return fail(st, key, "expected %s: %s", f->help, error);
		} else {
			return fail(st, key, "expected %s", f->help);
		}
		*(uint64_t *)base = bytes;
		return 0;
	}
	case FIELD_BOOL:
		if (!json_is_boolean(value))
			return fail(st, key, "expected %s", f->help);
		*(int *)base = json_is_true(value);
		return 0;
	case FIELD_COUNT:
		return parse_count(st, key, f, value, (uint64_t *)base);
	case FIELD_PORT:
		if (!json_is_integer(value) || json_integer_value(value) < 0 ||
		    json_integer_value(value) > 65535)
			return fail(st, key, "expected %s from 0 to 65535", f->help);
		*(uint64_t *)base = (uint64_t)json_integer_value(value);
		return 0;
	case FIELD_CERTIFICATES:
		return set_certificates(st, key, f, value, ctx);
	case FIELD_DURATION:
		return parse_duration(st, key, f, value, (int64_t *)base);
	case FIELD_RATE_LIMITS:
		return set_rate_limits(st, key, f, value, ctx);
	case FIELD_ALLOWLIST:
		return set_allowlist(st, key, f, value, ctx);
	case FIELD_DOMAIN_LIST:
		return set_domain_list(st, key, f, value, ctx);
	case FIELD_NODES:
		return set_nodes(st, key, f, value, ctx);
	case FIELD_NETWORK_LIST:
		return set_network_list(st, key, f, value, (struct mb_network_list *)base);
	case FIELD_DOMAIN_PATTERNS:
		return set_domain_patterns(st, key, f, value, (struct mb_domain_patterns *)base);
	case FIELD_CHOICE:
		return set_choice(st, key, f, value, (int *)base);
	case FIELD_ADDRESS_LIST:
		return set_address_list(st, key, f, value, (struct mb_address_list *)base);
	case FIELD_OBJECT:
		break;
	}
	return fail(st, key, "internal error: unknown field type");
}

static void list_keys(const struct field *fields, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct field *f = fields; f->key != NULL; f++) {
		int n = snprintf(buf + used, size - used, "%s%s",
				 used == 0 ? "" : ", ", f->key);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static int apply_defaults(struct parse_state *st, const char *prefix,
			  const struct field *fields, struct mb_context *ctx);

/* apply_object - check every key of obj against fields, then set them */
static int apply_object(struct parse_state *st, const char *prefix,
			const struct field *fields, json_t *obj,
			struct mb_context *ctx)
{
	const char *key;
	json_t *value;
	char path[128];

	json_object_foreach(obj, key, value) {
		const struct field *f;

		snprintf(path, sizeof(path), "%s%s", prefix, key);
		for (f = fields; f->key != NULL; f++) {
			if (strcmp(f->key, key) == 0)
				break;
		}
		if (f->key == NULL) {
			char allowed[512];
			list_keys(fields, allowed, sizeof(allowed));
			return fail(st, NULL, "unknown key '%.60s'; allowed here: %s", path, allowed);
		}
		if (f->type == FIELD_OBJECT) {
			char child_prefix[192];
			if (!json_is_object(value))
				return fail(st, path, "expected an object");
			snprintf(child_prefix, sizeof(child_prefix), "%.120s.", path);
			if (apply_object(st, child_prefix, f->children, value, ctx) < 0)
				return -1;
		} else if (set_field(st, path, f, value, ctx) < 0) {
			return -1;
		}
	}
	return 0;
}

/* apply_defaults - set every field from its default text first */
static int apply_defaults(struct parse_state *st, const char *prefix,
			  const struct field *fields, struct mb_context *ctx)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		char path[128];

		snprintf(path, sizeof(path), "%s%s", prefix, f->key);
		if (f->type == FIELD_OBJECT) {
			char child_prefix[192];
			snprintf(child_prefix, sizeof(child_prefix), "%.120s.", path);
			if (apply_defaults(st, child_prefix, f->children, ctx) < 0)
				return -1;
			continue;
		}
		/* a default is text: a boolean's is "true" or "false", a
		   count's digits, a list's JSON (none: empty) */
		json_t *value;
		if (f->type == FIELD_BOOL)
			value = json_boolean(strcmp(f->default_value, "true") == 0);
		else if (f->type == FIELD_COUNT || f->type == FIELD_PORT)
			value = json_integer(strtoll(f->default_value, NULL, 10));
		else if (f->type == FIELD_RATE_LIMITS || f->type == FIELD_ALLOWLIST ||
			 f->type == FIELD_DOMAIN_LIST || f->type == FIELD_NETWORK_LIST ||
			 f->type == FIELD_DOMAIN_PATTERNS || f->type == FIELD_ADDRESS_LIST)
			value = f->default_value != NULL ? json_loads(f->default_value, 0, NULL) :
				json_array();
		else if (f->type == FIELD_NODES || f->type == FIELD_CERTIFICATES)
			value = json_object();
		else
			value = json_string(f->default_value);
		int ret = set_field(st, path, f, value, ctx);
		json_decref(value);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int parse_text(struct parse_state *state, const char *text, size_t len,
		      struct mb_context **ctx_r);

/* check_relations - settings that are each fine but wrong together */
static int check_relations(struct parse_state *st, const struct mb_context *ctx)
{
	/* a retry can only pass after the delay: a window that closes first
	   would defer every first-time sender for ever */
	if (ctx->greylist_retry_window <= ctx->greylist_delay)
		return fail(st, "greylisting.retry_window",
			    "must be longer than greylisting.delay (%lld s), or no retry ever passes (got %lld s)",
			    (long long)ctx->greylist_delay, (long long)ctx->greylist_retry_window);
	if (ctx->auth_lockout_max < ctx->auth_lockout)
		return fail(st, "auth.lockout_max", "must not be shorter than auth.lockout (%lld s; got %lld s)",
			    (long long)ctx->auth_lockout, (long long)ctx->auth_lockout_max);
	return 0;
}

int mb_context_parse(const char *name, const char *text, size_t len,
		     struct mb_context **ctx_r, char *error, size_t error_size)
{
	struct parse_state st = { name, error, error_size, false };

	return parse_text(&st, text, len, ctx_r);
}

/* parse_text - the parser behind mb_context_parse and mb_context_load */
static int parse_text(struct parse_state *state, const char *text, size_t len,
		      struct mb_context **ctx_r)
{
	struct parse_state st = *state;
	struct mb_context *ctx;
	json_error_t jerr;
	json_t *root;

	*ctx_r = NULL;
	if (len > MB_CONTEXT_MAX_BYTES)
		return fail(&st, NULL, "larger than 1 MiB");
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return fail(&st, NULL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(&st, NULL, "the top level must be a JSON object");
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		json_decref(root);
		return fail(&st, NULL, "out of memory");
	}
	if (apply_defaults(&st, "", top_fields, ctx) < 0 ||
	    apply_object(&st, "", top_fields, root, ctx) < 0 || check_relations(&st, ctx) < 0) {
		json_decref(root);
		mb_context_free(&ctx);
		return -1;
	}
	json_decref(root);
	state->has_secret = st.has_secret;
	*ctx_r = ctx;
	return 0;
}

int mb_context_load(const char *path, struct mb_context **ctx_r,
		    char *error, size_t error_size)
{
	struct parse_state st = { path, error, error_size, false };
	struct stat file_stat;
	char *text;
	ssize_t got;
	size_t len = 0;
	int fd, ret;

	*ctx_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(&st, NULL, "cannot open: %s (name the server's context file with --context FILE or MAILBAG_CONTEXT; a new server gets one from 'mailbag setup' or 'mailbag init')", strerror(errno));
	if (fstat(fd, &file_stat) < 0) {
		close(fd);
		return fail(&st, NULL, "cannot stat: %s", strerror(errno));
	}
	text = malloc(MB_CONTEXT_MAX_BYTES + 1);
	if (text == NULL) {
		close(fd);
		return fail(&st, NULL, "out of memory");
	}
	while ((got = read(fd, text + len, MB_CONTEXT_MAX_BYTES + 1 - len)) > 0) {
		len += (size_t)got;
		if (len > MB_CONTEXT_MAX_BYTES)
			break;
	}
	close(fd);
	if (got < 0) {
		free(text);
		return fail(&st, NULL, "read failed: %s", strerror(errno));
	}
	ret = parse_text(&st, text, len, ctx_r);
	explicit_bzero(text, len);
	free(text);
	if (ret == 0 && st.has_secret && (file_stat.st_mode & S_IRWXO) != 0) {
		mb_context_free(ctx_r);
		return fail(&st, NULL, "refusing a context that holds the store's password while others may read it (mode %04o); run 'chmod o-rwx %s'",
			    (unsigned int)(file_stat.st_mode & 07777), path);
	}
	return ret;
}

void mb_context_free(struct mb_context **ctxp)
{
	struct mb_context *ctx = *ctxp;

	if (ctx == NULL)
		return;
	free(ctx->hostname);
	free(ctx->store);
	free(ctx->daemon_user);
	free(ctx->recipient_delimiter);
	free(ctx->mail_root);
	free(ctx->socketmap_socket);
	free(ctx->policy_socket);
	free(ctx->usage_socket);
	free(ctx->socket_group);
	free(ctx->rate_limits);
	free(ctx->greylist_allowlist);
	free(ctx->auto_create_domains);
	free(ctx->lmtpd_socket);
	free(ctx->lmtpd_socket_group);
	free(ctx->lmtpd_dovecot_lmtp);
	free(ctx->lmtpd_nodes);
	free(ctx->lmtpd_spool_dir);
	free(ctx->lmtpd_notify_socket);
	free(ctx->lmtpd_listen_tcp);
	free(ctx->dkim_key_dir);
	free(ctx->milter_socket);
	free(ctx->milter_socket_group);
	free(ctx->milter_listen_tcp);
	free(ctx->milter_trusted.items);
	free(ctx->milter_dkim_required.items);
	free(ctx->milter_encryption_only.items);
	free(ctx->milter_passthrough.items);
	free(ctx->milter_passthrough_senders.items);
	free(ctx->milter_passthrough_recipients.items);
	free(ctx->tls_certificates);
	free(ctx->tls_postfix_sni_map);
	free(ctx->tls_dovecot_conf);
	free(ctx);
	*ctxp = NULL;
}

/* keep_fixed_fields - the restart keys of fields (under prefix) keep
   their running value: swapped from running into fresh, so that
   freeing running frees the unused new text. Each changed one is
   named in a warning. */
static void keep_fixed_fields(const struct field *fields, const char *prefix,
			      struct mb_context *running, struct mb_context *fresh)
{
	for (const struct field *f = fields; f->key != NULL; f++) {
		char key[128];

		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", f->key);
		if (f->type == FIELD_OBJECT) {
			keep_fixed_fields(f->children, key, running, fresh);
			continue;
		}
		if (!f->restart)
			continue;
		char **running_value = (char **)((char *)running + f->offset);
		char **fresh_value = (char **)((char *)fresh + f->offset);
		if (strcmp(*running_value, *fresh_value) != 0)
			mb_warning("reload: %s changes only with a restart; keeping the running value", key);
		char *swap = *fresh_value;
		*fresh_value = *running_value;
		*running_value = swap;
	}
}

int mb_context_reload(struct mb_context **ctx, const char *path, struct mb_error_text *error_r)
{
	struct mb_context *fresh;

	if (mb_context_load(path, &fresh, error_r->text, sizeof(error_r->text)) < 0)
		return -1;
	keep_fixed_fields(top_fields, "", *ctx, fresh);
	mb_context_free(ctx);
	*ctx = fresh;
	return 0;
}

const char *mb_context_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("MAILBAG_CONTEXT");
	if (env != NULL && env[0] != '\0')
		return env;
	return MAILBAG_DEFAULT_CONTEXT;
}

int mb_context_write_new(const char *path, const char *hostname,
			 const char *store, long vmail_uid, long vmail_gid,
			 char *error, size_t error_size)
{
	struct parse_state st = { path, error, error_size, false };
	json_t *root;
	int ret;

	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
			 "hostname", hostname, "store", store,
			 "daemon_user", "mailbag", "recipient_delimiter", "+",
			 "mail_root", "/var/vmail",
			 "vmail_uid", (json_int_t)vmail_uid,
			 "vmail_gid", (json_int_t)vmail_gid);
	char *text = root == NULL ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		return fail_io(&st, NULL, "out of memory");
	/* never write a file the parser would refuse: check it as a reader will */
	struct mb_context *check;
	if (parse_text(&st, text, strlen(text), &check) < 0) {
		free(text);
		return -EINVAL;
	}
	mb_context_free(&check);
	/* a store password makes the file readable by its group only */
	mode_t mode = st.has_secret ? 0640 : 0644;
	size_t len = strlen(text);
	char *whole = realloc(text, len + 2);
	if (whole == NULL) {
		free(text);
		return fail_io(&st, NULL, "out of memory");
	}
	memcpy(whole + len, "\n", 2);
	/* exclusive: init never replaces a context that exists */
	char why[384];
	ret = mb_atomic_file_write(path, ".new", whole, len + 1, mode, (gid_t)-1,
				   MB_ATOMIC_FILE_EXCLUSIVE, why, sizeof(why));
	free(whole);
	return ret < 0 ? fail_io(&st, NULL, "%s", why) : 0;
}
