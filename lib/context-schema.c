/* context-schema.c - the keys of the context file, their types and defaults
 *
 * SUMMARY
 *	One table per section of /etc/mailbag/context.json, and the top
 *	level that leads to them: each row is a key, its type, where in
 *	struct mb_context the value goes, its default as text, what is
 *	allowed (said in error messages) and whether a reload keeps the
 *	running value. A new key is one row here and one field in
 *	context.h; context.c and context-value.c do the rest.
 */
#include "context-internal.h"

#include <stddef.h>
#include <string.h>

static const struct field policyd_fields[] = {
	{ "socketmap_socket", FIELD_PATH, offsetof(struct mb_context, policyd.socketmap_socket),
	  "/var/spool/postfix/private/mailbag-socketmap", NULL, "an absolute path", true },
	{ "policy_socket", FIELD_PATH, offsetof(struct mb_context, policyd.policy_socket),
	  "/var/spool/postfix/private/mailbag-policy", NULL, "an absolute path", true },
	{ "usage_socket", FIELD_PATH, offsetof(struct mb_context, policyd.usage_socket),
	  "/run/mailbag/usage", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, policyd.socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, policyd.socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	{ "store_timeout", FIELD_DURATION, offsetof(struct mb_context, policyd.store_timeout),
	  "2s", NULL, "a duration: seconds as a number, or \"2s\"; at least 1", false },
	END_OF_FIELDS
};

static const struct field defaults_fields[] = {
	{ "quota", FIELD_SIZE, offsetof(struct mb_context, defaults.quota_bytes),
	  "0", NULL, "bytes as a number, or a string like \"2G\"; 0 for no limit", false },
	{ "max_message_size", FIELD_SIZE, offsetof(struct mb_context, defaults.max_message_bytes),
	  "50M", NULL, "bytes as a number, or a string like \"50M\"; 0 for no limit", false },
	END_OF_FIELDS
};

static const struct field checks_fields[] = {
	{ "message_size", FIELD_BOOL, offsetof(struct mb_context, checks.message_size),
	  "true", NULL, "true or false", false },
	{ "sender_login", FIELD_BOOL, offsetof(struct mb_context, checks.sender_login),
	  "true", NULL, "true or false", false },
	{ "quota", FIELD_BOOL, offsetof(struct mb_context, checks.quota),
	  "true", NULL, "true or false", false },
	{ "max_recipients_per_message", FIELD_COUNT,
	  offsetof(struct mb_context, checks.max_recipients_per_message),
	  "0", NULL, "a number of recipients, 0 for no cap", false },
	END_OF_FIELDS
};

static const struct field greylisting_fields[] = {
	{ "enabled", FIELD_BOOL, offsetof(struct mb_context, greylisting.enabled),
	  "false", NULL, "true or false", false },
	{ "delay", FIELD_DURATION, offsetof(struct mb_context, greylisting.delay),
	  "5m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "retry_window", FIELD_DURATION, offsetof(struct mb_context, greylisting.retry_window),
	  "2d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "lifetime", FIELD_DURATION, offsetof(struct mb_context, greylisting.lifetime),
	  "35d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "auto_allow_after", FIELD_COUNT, offsetof(struct mb_context, greylisting.auto_allow_after),
	  "5", NULL, "a number of passed retries, 0 for never", false },
	{ "allowlist", FIELD_ALLOWLIST, offsetof(struct mb_context, greylisting.allowlist),
	  "[\"127.0.0.0/8\", \"::1\"]", NULL, "a list of networks (\"192.0.2.0/24\", \"2001:db8::/32\") and domains (\"example.org\")", false },
	END_OF_FIELDS
};

static const struct field auth_fields[] = {
	{ "failures_per_ip", FIELD_COUNT, offsetof(struct mb_context, auth.failures_per_ip),
	  "10", NULL, "a number of failed logins, 0 for no limit", false },
	{ "failures_per_account", FIELD_COUNT, offsetof(struct mb_context, auth.failures_per_account),
	  "50", NULL, "a number of failed logins, 0 for no limit", false },
	{ "lockout", FIELD_DURATION, offsetof(struct mb_context, auth.lockout),
	  "15m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "lockout_max", FIELD_DURATION, offsetof(struct mb_context, auth.lockout_max),
	  "1d", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "credential_cache_entries", FIELD_COUNT, offsetof(struct mb_context, auth.credential_cache_entries),
	  "10000", NULL, "a number of verified logins to remember, 0 to verify every login", false },
	{ "credential_cache_lifetime", FIELD_DURATION, offsetof(struct mb_context, auth.credential_cache_lifetime),
	  "1h", NULL, "a duration: seconds as a number, or \"300s\", \"5m\", \"2h\", \"35d\"", false },
	{ "verify_in_worker", FIELD_BOOL, offsetof(struct mb_context, auth.verify_in_worker),
	  "true", NULL, "true or false", false },
	END_OF_FIELDS
};

static const struct field auto_create_fields[] = {
	{ "domains", FIELD_DOMAIN_LIST, offsetof(struct mb_context, auto_create.domains),
	  NULL, NULL, "a list of domain names whose unknown addresses a first login creates", false },
	{ "min_password_length", FIELD_COUNT, offsetof(struct mb_context, auto_create.min_password_length),
	  "12", NULL, "a number of characters", false },
	END_OF_FIELDS
};

static const struct field expire_fields[] = {
	{ "after", FIELD_DURATION, offsetof(struct mb_context, expire.after),
	  "0", NULL, "a duration such as \"180d\"; 0 never expires accounts", false },
	{ "delete", FIELD_BOOL, offsetof(struct mb_context, expire.delete),
	  "false", NULL, "true (delete accounts and their mail) or false (disable them)", false },
	END_OF_FIELDS
};

static const struct field lmtpd_fields[] = {
	{ "socket", FIELD_PATH, offsetof(struct mb_context, lmtpd.socket),
	  "/var/spool/postfix/private/mailbag-lmtp", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, lmtpd.socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, lmtpd.socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	{ "listen_tcp", FIELD_OPTIONAL_INET, offsetof(struct mb_context, lmtpd.listen_tcp),
	  "", NULL, "\"\" (off) or \"IP:PORT\" / \"[IPv6]:PORT\" to take LMTP over TCP too (no authentication: a private address)", true },
	{ "dovecot_lmtp", FIELD_PATH, offsetof(struct mb_context, lmtpd.dovecot_lmtp),
	  "/run/dovecot/mailbag-lmtp", NULL, "an absolute path (the local Dovecot's LMTP socket)", false },
	{ "nodes", FIELD_NODES, offsetof(struct mb_context, lmtpd.nodes), NULL, NULL,
	  "an object of node names (1 to 32 of a-z 0-9 . _ -) to Dovecot LMTP addresses: "
	  "\"/unix/socket\", \"IP:PORT\" or \"[IPv6]:PORT\"", false },
	{ "spool_dir", FIELD_PATH, offsetof(struct mb_context, lmtpd.spool_dir),
	  "/var/spool/mailbag", NULL, "an absolute path", true },
	{ "max_message_size", FIELD_SIZE, offsetof(struct mb_context, lmtpd.max_message_bytes),
	  "100M", NULL, "bytes as a number, or a string like \"100M\"; 0 for no limit", false },
	{ "timeout", FIELD_DURATION, offsetof(struct mb_context, lmtpd.timeout),
	  "5m", NULL, "a duration: seconds as a number, or \"300s\", \"5m\"", false },
	{ "notify_socket", FIELD_OPTIONAL_PATH, offsetof(struct mb_context, lmtpd.notify_socket),
	  "", NULL, "\"\" (off) or the absolute path of a unix datagram socket", false },
	{ "dedupe_window", FIELD_DURATION, offsetof(struct mb_context, lmtpd.dedupe_window),
	  "5d", NULL, "a duration at least as long as Postfix's maximal_queue_lifetime, such as \"5d\"", false },
	END_OF_FIELDS
};

static const struct field dkim_fields[] = {
	{ "key_dir", FIELD_PATH, offsetof(struct mb_context, dkim.key_dir),
	  "/etc/mailbag/dkim", NULL, "an absolute path (keys in DIR/DOMAIN/SELECTOR.key)", false },
	{ "rotation_delay", FIELD_DURATION, offsetof(struct mb_context, dkim.rotation_delay),
	  "2d", NULL, "a duration such as \"2d\": a rotated key signs this long after it is made, or as soon as `mailbag dkim activate` finds it in DNS", false },
	{ "retire_after", FIELD_DURATION, offsetof(struct mb_context, dkim.retire_after),
	  "7d", NULL, "a duration such as \"7d\": how long a replaced key's record stays published", false },
	END_OF_FIELDS
};

static const char *const dmarc_actions[] = { "reject", "quarantine", "none", NULL };

static const struct field milter_fields[] = {
	{ "socket", FIELD_PATH, offsetof(struct mb_context, milter.socket),
	  "/var/spool/postfix/private/mailbag-milter", NULL, "an absolute path", true },
	{ "socket_group", FIELD_USER, offsetof(struct mb_context, milter.socket_group),
	  "postfix", NULL, "a group name", false },
	{ "socket_mode", FIELD_MODE, offsetof(struct mb_context, milter.socket_mode),
	  "0660", NULL, "an octal mode as a string, \"0600\" to \"0666\", no execute bits", false },
	{ "listen_tcp", FIELD_OPTIONAL_INET, offsetof(struct mb_context, milter.listen_tcp),
	  "", NULL, "\"\" (unix socket only) or \"IP:PORT\" / \"[IPv6]:PORT\" to serve the milter over TCP instead", true },
	{ "trusted_networks", FIELD_NETWORK_LIST, offsetof(struct mb_context, milter.trusted_networks),
	  "[]", NULL, "a list of networks (\"192.0.2.0/24\", \"::1\") whose unauthenticated mail is outbound (signed, not checked)", false },
	{ "sign", FIELD_BOOL, offsetof(struct mb_context, milter.sign),
	  "true", NULL, "true or false", false },
	{ "verify", FIELD_BOOL, offsetof(struct mb_context, milter.verify),
	  "true", NULL, "true or false", false },
	{ "check_header_from", FIELD_BOOL, offsetof(struct mb_context, milter.check_header_from),
	  "true", NULL, "true or false", false },
	{ "strip_submitter_headers", FIELD_BOOL, offsetof(struct mb_context, milter.strip_submitter_headers),
	  "true", NULL, "true or false", false },
	{ "dmarc_reject_action", FIELD_CHOICE, offsetof(struct mb_context, milter.dmarc_reject_action),
	  "reject", NULL, "\"reject\", \"quarantine\" (Postfix's hold queue) or \"none\"", false },
	{ "require_dkim", FIELD_BOOL, offsetof(struct mb_context, milter.require_dkim),
	  "false", NULL, "true or false (true: refuse inbound mail without a valid DKIM signature)", false },
	{ "dkim_required", FIELD_DOMAIN_PATTERNS, offsetof(struct mb_context, milter.dkim_required),
	  "[]", NULL, "a list of domains (\"example.org\") and wildcards (\"*.example.org\") whose mail must carry a valid DKIM signature of its From domain", false },
	{ "encryption_only_domains", FIELD_DOMAIN_PATTERNS, offsetof(struct mb_context, milter.encryption_only_domains),
	  "[]", NULL, "a list of domains (\"chat.example.org\", \"*.example.org\") whose mail, both ways, must be OpenPGP-encrypted", false },
	{ "encryption_passthrough", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter.encryption_passthrough),
	  "[]", NULL, "a list of addresses (\"echo@example.org\") and domains (\"@example.org\") whose mail, to or from them, need not be encrypted", false },
	{ "encryption_passthrough_senders", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter.encryption_passthrough_senders),
	  "[]", NULL, "a list of addresses (\"news@example.org\") and domains (\"@example.org\") whose mail need not be encrypted", false },
	{ "encryption_passthrough_recipients", FIELD_ADDRESS_LIST, offsetof(struct mb_context, milter.encryption_passthrough_recipients),
	  "[]", NULL, "a list of addresses (\"echo@example.org\") and domains (\"@example.org\") mail to which need not be encrypted", false },
	{ "dns_timeout", FIELD_DURATION, offsetof(struct mb_context, milter.dns_timeout),
	  "10s", NULL, "a duration: seconds as a number, or \"10s\"", false },
	END_OF_FIELDS
};

static const struct field clients_fields[] = {
	{ "submission_port", FIELD_PORT, offsetof(struct mb_context, clients.submission_port),
	  "587", NULL, "a port number, 0 when not offered", false },
	{ "submissions_port", FIELD_PORT, offsetof(struct mb_context, clients.submissions_port),
	  "465", NULL, "a port number, 0 when not offered", false },
	{ "imap_port", FIELD_PORT, offsetof(struct mb_context, clients.imap_port),
	  "143", NULL, "a port number, 0 when not offered", false },
	{ "imaps_port", FIELD_PORT, offsetof(struct mb_context, clients.imaps_port),
	  "993", NULL, "a port number, 0 when not offered", false },
	{ "sieve_port", FIELD_PORT, offsetof(struct mb_context, clients.sieve_port),
	  "4190", NULL, "a port number, 0 when not offered (ManageSieve: `mailbag setup` writes Dovecot's listener)", false },
	END_OF_FIELDS
};

static const struct field tls_fields[] = {
	{ "certificates", FIELD_CERTIFICATES, offsetof(struct mb_context, tls.certificates), NULL, NULL,
	  "an object of host names to {\"cert\": \"/path/fullchain.pem\", \"key\": \"/path/privkey.pem\"}", false },
	{ "postfix_sni_map", FIELD_PATH, offsetof(struct mb_context, tls.postfix_sni_map),
	  "/etc/postfix/mailbag-sni", NULL, "an absolute path (Postfix's tls_server_sni_maps, hash: table)", false },
	{ "dovecot_conf", FIELD_PATH, offsetof(struct mb_context, tls.dovecot_conf),
	  "/etc/dovecot/conf.d/91-mailbag-tls.conf", NULL, "an absolute path (a Dovecot conf.d file)", false },
	END_OF_FIELDS
};

static const struct field move_fields[] = {
	{ "doveadm_password_file", FIELD_PATH, offsetof(struct mb_context, move.doveadm_password_file),
	  "/etc/dovecot/mailbag-doveadm.password", NULL,
	  "an absolute path (mode 0600 or 0640; the config templates' doveadm_password reads it)", false },
	{ "dovecot_config", FIELD_PATH, offsetof(struct mb_context, move.dovecot_config),
	  "/etc/dovecot/dovecot.conf", NULL, "an absolute path (this node's dovecot.conf)", false },
	{ "freeze", FIELD_DURATION, offsetof(struct mb_context, move.freeze),
	  "10m", NULL, "a duration: seconds as a number, or \"10m\"", false },
	{ "grace", FIELD_DURATION, offsetof(struct mb_context, move.grace),
	  "2s", NULL, "a duration: seconds as a number, or \"2s\"", false },
	END_OF_FIELDS
};

static const struct field sieve_fields[] = {
	{ "before_dir", FIELD_PATH, offsetof(struct mb_context, sieve.before_dir),
	  "/etc/mailbag/sieve/before", NULL,
	  "an absolute path (a directory of *.sieve scripts run before each user's own; `mailbag setup` compiles them)", false },
	{ "after_dir", FIELD_PATH, offsetof(struct mb_context, sieve.after_dir),
	  "/etc/mailbag/sieve/after", NULL,
	  "an absolute path (a directory of *.sieve scripts run after each user's own; `mailbag setup` compiles them)", false },
	END_OF_FIELDS
};

static const struct field srs_fields[] = {
	{ "enabled", FIELD_BOOL, offsetof(struct mb_context, srs.enabled),
	  "true", NULL, "true or false", false },
	{ "domain", FIELD_OPTIONAL_HOSTNAME, offsetof(struct mb_context, srs.domain),
	  "", NULL, "\"\" (the context's hostname) or a domain that receives mail here", false },
	{ "secret_file", FIELD_PATH, offsetof(struct mb_context, srs.secret_file),
	  "/etc/mailbag/srs.secrets", NULL,
	  "an absolute path (one secret a line, the first signs; mode 0600, or 0640 with the daemon's group)", false },
	{ "max_age", FIELD_DURATION, offsetof(struct mb_context, srs.max_age),
	  "21d", NULL, "a duration of whole days from \"1d\" to \"1000d\"", false },
	{ "forward_port", FIELD_PORT, offsetof(struct mb_context, srs.forward_port),
	  "10027", NULL, "a port number (on 127.0.0.1) for the smtpd that forwarded copies pass", false },
	END_OF_FIELDS
};

const struct field context_schema[] = {
	{ "hostname", FIELD_HOSTNAME, offsetof(struct mb_context, hostname),
	  "localhost.localdomain", NULL, "a fully qualified host name", false },
	{ "store", FIELD_STORE, offsetof(struct mb_context, store),
	  "lmdb:/var/lib/mailbag/store", NULL,
	  "\"lmdb:/absolute/dir\", \"redis://[:PASSWORD@]HOST[:PORT][/DB]\", \"unix:/PATH[?db=N&password=P]\" or \"sentinel://[:PASSWORD@]HOST[:PORT],HOST[:PORT].../MASTER[/DB]\"", true },
	{ "node", FIELD_NODE_NAME, offsetof(struct mb_context, node),
	  "", NULL, "\"\" (a single node) or this node's name: 1 to 32 of a-z 0-9 . _ - (not \"local\")", false },
	{ "nodes", FIELD_NODE_MAP, offsetof(struct mb_context, nodes), NULL, NULL,
	  "an object of node names to {\"host\": IP or name, \"lmtp\": \"IP:PORT\", \"imap_port\", "
	  "\"pop3_port\", \"sieve_port\", \"doveadm_port\": N, \"ssl\": \"no\"|\"starttls\"|\"yes\"}", false },
	{ "store_cache_entries", FIELD_COUNT, offsetof(struct mb_context, store_cache_entries),
	  "10000", NULL, "a number of entries, 0 for no cache (daemons on a Redis store)", false },
	{ "daemon_user", FIELD_USER, offsetof(struct mb_context, daemon_user),
	  "mailbag", NULL, "a user name", true },
	{ "recipient_delimiter", FIELD_DELIMITER, offsetof(struct mb_context, recipient_delimiter),
	  "+", NULL, "up to 4 characters from \"+-_=\", or \"\" for none", false },
	{ "postmaster", FIELD_ADDRESS_LIST, offsetof(struct mb_context, postmaster),
	  "[]", NULL, "a list of addresses (\"admin@example.org\") that postmaster@ of every served domain reaches when it has no alias of its own and there is no global one (mailbag init writes [\"root@HOSTNAME\"]); [] for none", false },
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
	{ "move", FIELD_OBJECT, 0, NULL, move_fields, "an object", false },
	{ "sieve", FIELD_OBJECT, 0, NULL, sieve_fields, "an object", false },
	{ "srs", FIELD_OBJECT, 0, NULL, srs_fields, "an object", false },
	END_OF_FIELDS
};

/* field_choices - the words of a FIELD_CHOICE, stored as their index */
const char *const *context_field_choices(const struct field *f)
{
	if (f->offset == offsetof(struct mb_context, milter.dmarc_reject_action))
		return dmarc_actions;
	return NULL;
}

const struct field *context_find_field(const char *key)
{
	const struct field *fields = context_schema;
	const char *part = key;

	for (;;) {
		size_t len = strcspn(part, ".");
		const struct field *f;
		for (f = fields; f->key != NULL; f++) {
			if (strlen(f->key) == len && strncmp(f->key, part, len) == 0)
				break;
		}
		if (f->key == NULL)
			return NULL;
		if (part[len] == '\0')
			return f;
		if (f->type != FIELD_OBJECT)
			return NULL;
		fields = f->children;
		part += len + 1;
	}
}

const char *mb_context_default(const char *key)
{
	const struct field *f = context_find_field(key);

	return f != NULL && f->type != FIELD_OBJECT ? f->default_value : NULL;
}
