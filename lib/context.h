/* context.h - the context file /etc/mailbag/context.json (see context.c). */
#ifndef MAILBAG_CONTEXT_H
#define MAILBAG_CONTEXT_H

#include "error-text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "network.h"
#include "store.h"  /* MB_NODE_NAME_MAX */

#define MB_CONTEXT_MAX_BYTES (1024 * 1024)

/* What a rate limit counts per: one value of this request attribute. */
enum mb_rate_subject {
	MB_RATE_SASL_USERNAME,  /* the authenticated login */
	MB_RATE_SENDER_DOMAIN,  /* the envelope sender's domain */
	MB_RATE_CLIENT_ADDRESS, /* the client's IP address */
	MB_RATE_CLIENT_NETWORK, /* its /24 (IPv4) or /64 (IPv6) */
	MB_RATE_RECIPIENT,      /* the recipient address */
};

enum mb_rate_unit {
	MB_RATE_MESSAGES,   /* counted once per message, at END-OF-MESSAGE */
	MB_RATE_RECIPIENTS, /* counted per accepted RCPT */
};

#define MB_RATE_LIMITS_MAX 32
#define MB_RATE_NAME_MAX 48

struct mb_rate_limit {
	char name[MB_RATE_NAME_MAX + 1]; /* shown in answers and logs */
	enum mb_rate_subject subject;
	enum mb_rate_unit unit;
	int64_t window_seconds;          /* 60, 3600 or 86400 */
	uint64_t limit;                  /* at most this many per window */
};

#define MB_ALLOWLIST_MAX 1000

/* A greylisting allowlist entry: a network, or a domain matched against
   the client's verified host name (itself or a subdomain). */
struct mb_allow_entry {
	bool is_network;
	struct mb_network network;
	char domain[MB_DOMAIN_MAX + 1];
};

/* Each list key is one of these (pointer, count) pairs in struct
   mb_context, at the offset its schema row names. */
struct mb_rate_limits {
	struct mb_rate_limit *items;
	size_t count;
};

struct mb_allowlist {
	struct mb_allow_entry *items;
	size_t count;
};

struct mb_domain_list {
	char (*items)[MB_DOMAIN_MAX + 1];
	size_t count;
};

#define MB_NODES_MAX 64
#define MB_NODE_ADDRESS_MAX 200

/* A Dovecot LMTP service mailbag-lmtpd delivers to: "/unix/socket" or
   "IP:PORT" ("[IPv6]:PORT"). */
struct mb_lmtp_node {
	char name[MB_NODE_NAME_MAX + 1];
	char address[MB_NODE_ADDRESS_MAX + 1];
};

struct mb_lmtp_nodes {
	struct mb_lmtp_node *items;
	size_t count;
};

/* TLS from a proxying node to a node of `nodes` */
enum mb_node_ssl { MB_NODE_SSL_NO, MB_NODE_SSL_STARTTLS, MB_NODE_SSL_YES };

/* One node of the context's `nodes`: where the other nodes reach it. */
struct mb_node {
	struct mb_lmtp_node lmtp;        /* its name and Dovecot LMTP address
					    (what mb_context_node answers) */
	char host[MB_DOMAIN_MAX + 1];    /* IP address or host name */
	unsigned int imap_port;          /* 143 (993 with ssl yes) */
	unsigned int pop3_port;          /* 110 (995 with ssl yes) */
	unsigned int sieve_port;         /* 4190 (ManageSieve) */
	unsigned int doveadm_port;       /* 2425, its doveadm server over TCP */
	enum mb_node_ssl ssl;            /* to its login ports (ManageSieve:
					    STARTTLS for "yes") */
};

struct mb_nodes {
	struct mb_node *items;
	size_t count;
};

struct mb_network_list {
	struct mb_network *items;
	size_t count;
};

/* "example.org" matches that domain; "*.example.org" it and its subdomains. */
struct mb_domain_pattern {
	bool wildcard;
	char domain[MB_DOMAIN_MAX + 1];
};

struct mb_domain_patterns {
	struct mb_domain_pattern *items;
	size_t count;
};

bool mb_domain_patterns_match(const struct mb_domain_patterns *list, const char *domain);

/* whole addresses, and "@example.org" for every address of a domain */
struct mb_address_list {
	char (*items)[MB_ADDRESS_MAX + 1];   /* lower case */
	size_t count;
};

bool mb_address_list_contains(const struct mb_address_list *list, const char *address);

/* One certificate of tls.certificates: the one served to clients that
   ask for hostname (SNI), or by default when hostname is the context's. */
struct mb_tls_certificate {
	char hostname[MB_DOMAIN_MAX + 1];
	char cert_file[201];       /* PEM, the certificate then its chain */
	char key_file[201];        /* PEM private key */
};

#define MB_TLS_CERTIFICATES_MAX 100

struct mb_tls_certificates {
	struct mb_tls_certificate *items;
	size_t count;
};

/* milter.dmarc_reject_action */
enum mb_dmarc_action { MB_DMARC_REJECT, MB_DMARC_QUARANTINE, MB_DMARC_NONE };

/* The sections of the context file, one struct each (their keys are
   context-schema.c's); struct mb_context holds one of each. */
struct mb_context_policyd {
	char *socketmap_socket;    /* policyd's socketmap listener */
	char *policy_socket;       /* policyd's policy delegation listener */
	char *usage_socket;        /* policyd's dict listener for quota_clone */
	char *socket_group;        /* group that may connect (postfix) */
	unsigned int socket_mode;
	int64_t store_timeout;     /* seconds a decision waits for Redis */
};

struct mb_context_defaults {
	uint64_t quota_bytes;       /* 0: no limit */
	uint64_t max_message_bytes; /* 0: no limit */
};

/* the policy checks */
struct mb_context_checks {
	int message_size;          /* SIZE= against recipients' limits */
	int sender_login;          /* authenticated senders own their address */
	int quota;                 /* full mailboxes refused at RCPT */
	uint64_t max_recipients_per_message; /* 0 for no cap */
};

struct mb_context_greylisting {
	int enabled;               /* greylist unauthenticated clients */
	int64_t delay;             /* seconds before a retry passes */
	int64_t retry_window;      /* seconds a first attempt is remembered */
	int64_t lifetime;          /* seconds a passed triplet stays known */
	uint64_t auto_allow_after; /* passed retries before a network is
				      allowed outright; 0 never */
	struct mb_allowlist allowlist;
};

/* lock-out of failing logins */
struct mb_context_auth {
	uint64_t failures_per_ip;      /* thresholds; 0 off */
	uint64_t failures_per_account;
	int64_t lockout;               /* seconds, doubled per failure past */
	int64_t lockout_max;
	/* verified logins remembered by the Dovecot driver; 0 off */
	uint64_t credential_cache_entries;
	int64_t credential_cache_lifetime; /* seconds */
	/* hashes verified in Dovecot's auth-worker processes */
	int verify_in_worker;
};

struct mb_context_auto_create {
	struct mb_domain_list domains;  /* first login creates */
	uint64_t min_password_length;   /* a created account's password needs */
};

struct mb_context_expire {
	int64_t after;             /* seconds without a login; 0: never expire */
	int delete;                /* delete (and purge) instead of disable */
};

struct mb_context_lmtpd {
	char *socket;              /* mailbag-lmtpd's listener (Postfix's virtual_transport) */
	char *socket_group;
	unsigned int socket_mode;
	char *dovecot_lmtp;        /* the local Dovecot's LMTP socket */
	struct mb_lmtp_nodes nodes; /* other Dovecot nodes, by name */
	char *spool_dir;           /* messages over the memory bound are spooled here */
	uint64_t max_message_bytes; /* 552 above it; 0: no limit */
	int64_t timeout;           /* seconds a Dovecot step may take */
	int64_t dedupe_window;     /* seconds a delivery is remembered */
	char *notify_socket;       /* a datagram per delivery ("" off) */
	char *listen_tcp;          /* "IP:PORT" LMTP listener too ("" off) */
};

struct mb_context_dkim {
	char *key_dir;             /* DKIM private keys: DIR/DOMAIN/SELECTOR.key */
	int64_t rotation_delay;    /* a rotated key signs this long after it is made */
	int64_t retire_after;      /* a replaced key's record stays in DNS this long */
};

struct mb_context_milter {
	char *socket;              /* mailbag-milter's unix listener */
	char *socket_group;
	unsigned int socket_mode;
	char *listen_tcp;          /* "IP:PORT" instead of the unix socket ("" off) */
	struct mb_network_list trusted_networks; /* unauthenticated but outbound */
	int sign;                  /* DKIM-sign outbound mail */
	int verify;                /* SPF/DKIM/DMARC on inbound mail */
	int check_header_from;     /* From: must be the login's to use */
	int strip_submitter_headers; /* remove the submitter's Received/IP headers */
	int dmarc_reject_action;   /* enum mb_dmarc_action for p=reject failures */
	int require_dkim;          /* refuse inbound mail without a valid signature */
	struct mb_domain_patterns dkim_required; /* From domains that must be signed */
	int64_t dns_timeout;       /* seconds for one DNS answer */
	struct mb_domain_patterns encryption_only_domains; /* OpenPGP-only domains */
	struct mb_address_list encryption_passthrough; /* exempt from encryption-only, to or from */
	struct mb_address_list encryption_passthrough_senders; /* ... from them */
	struct mb_address_list encryption_passthrough_recipients; /* ... to them */
};

/* the ports clients are told about (SRV, autoconfig); 0: not offered */
struct mb_context_clients {
	uint64_t submission_port;  /* STARTTLS, 587 */
	uint64_t submissions_port; /* implicit TLS, 465 */
	uint64_t imap_port;        /* STARTTLS, 143 */
	uint64_t imaps_port;       /* implicit TLS, 993 */
	uint64_t sieve_port;       /* ManageSieve, STARTTLS, 4190 */
};

struct mb_context_tls {
	struct mb_tls_certificates certificates; /* by hostname */
	char *postfix_sni_map;     /* written by `mailbag tls apply` */
	char *dovecot_conf;        /* written by `mailbag tls apply` */
};

/* `mailbag user move` (cli/user-move.c): how this node's doveadm reaches
   the others' doveadm servers (context nodes: host, doveadm_port) */
struct mb_context_move {
	char *doveadm_password_file; /* the password the nodes share, 0600/0640;
					Dovecot's doveadm_password reads it */
	char *dovecot_config;      /* the local Dovecot's config, for doveadm -c */
	int64_t freeze;            /* seconds a freeze lasts at most (its lease) */
	int64_t grace;             /* seconds for deliveries under way to finish */
};

/* Sieve (cli/setup-dovecot.c, config-templates/dovecot*-mailbag.conf):
   the administrator's scripts run for every user, before and after the
   user's own; mailbag's dedupe script runs before all of them */
struct mb_context_sieve {
	char *before_dir;          /* /etc/mailbag/sieve/before */
	char *after_dir;           /* /etc/mailbag/sieve/after */
};

/* the Sender Rewriting Scheme of forwarded mail (lib/srs.c, policyd/srs-map.c) */
struct mb_context_srs {
	int enabled;               /* rewrite the sender of forwarded mail */
	char *domain;              /* where SRS addresses live; "" the hostname */
	char *secret_file;         /* one secret a line, the first signs */
	int64_t max_age;           /* seconds an SRS address stays good */
	uint64_t forward_port;     /* the loopback smtpd forwarded copies pass */
};

/* The checked, frozen settings. Strings are owned by the context. */
struct mb_context {
	char *hostname;            /* this host's name, used in banners */
	char *node;                /* this node's name; "" a single node */
	struct mb_nodes nodes;     /* every node, by name (this one may be among them) */
	char *store;               /* "lmdb:/var/lib/mailbag/store" */
	uint64_t store_cache_entries; /* the daemons' Redis read cache; 0 off */
	char *daemon_user;         /* daemons drop to this user */
	char *recipient_delimiter; /* "+" by default, "" for none */
	struct mb_address_list postmaster; /* postmaster@ any domain, when nothing else */
	char *mail_root;           /* homes are mail_root/domain/local */
	long vmail_uid;            /* owner of the mailboxes */
	long vmail_gid;
	struct mb_rate_limits rate_limits; /* the policy's rate_limits[] */
	struct mb_context_policyd policyd;
	struct mb_context_defaults defaults;
	struct mb_context_checks checks;
	struct mb_context_greylisting greylisting;
	struct mb_context_auth auth;
	struct mb_context_auto_create auto_create;
	struct mb_context_expire expire;
	struct mb_context_lmtpd lmtpd;
	struct mb_context_dkim dkim;
	struct mb_context_milter milter;
	struct mb_context_clients clients;
	struct mb_context_tls tls;
	struct mb_context_move move;
	struct mb_context_sieve sieve;
	struct mb_context_srs srs;
};

/* The certificate for hostname (case-insensitive), NULL if none. */
const struct mb_tls_certificate *mb_context_certificate(const struct mb_context *ctx,
							const char *hostname);

/* The LMTP address of the node named name, from `nodes` or else
   `lmtpd.nodes` (NULL if the context has none of that name). */
const struct mb_lmtp_node *mb_context_node(const struct mb_context *ctx, const char *name);
/* The whole entry of `nodes` named name (NULL if none: a node only in
   lmtpd.nodes has no login addresses). */
const struct mb_node *mb_context_node_entry(const struct mb_context *ctx, const char *name);
/* Whether a user record's node name means this node: "" (or "local"),
   or the context's own `node`. */
bool mb_context_node_is_local(const struct mb_context *ctx, const char *name);
/* "no", "starttls" or "yes" */
const char *mb_node_ssl_name(enum mb_node_ssl ssl);
/* Whether name is a possible node name: 1 to 32 of a-z 0-9 . _ - */
bool mb_node_name_valid(const char *name);

/* Read and check path. On error returns -1 and writes a one-line message
   naming the file, the key and what is allowed into error. A file whose
   store location holds a password is refused if others may read it. */
int mb_context_load(const char *path, struct mb_context **ctx_r,
		    char *error, size_t error_size);
/* The same for text already in memory (name is used in messages). */
int mb_context_parse(const char *name, const char *text, size_t len,
		     struct mb_context **ctx_r, char *error, size_t error_size);
void mb_context_free(struct mb_context **ctx);

/* On SIGHUP: read path again and put it in place of *ctx. The keys the
   schema marks as fixed at start (the store, daemon_user, the daemons'
   listening sockets, lmtpd.spool_dir) keep their running values, each
   changed one named in a warning. A file that does not load leaves *ctx
   as it was: -1 with the reason in error_r. Anything that points into
   the old context must be done with it before the call. */
int mb_context_reload(struct mb_context **ctx, const char *path, struct mb_error_text *error_r);

/* The context file to use: explicit path, else $MAILBAG_CONTEXT, else
   the built-in default. */
const char *mb_context_path(const char *explicit_path);

/* Parse "300", "300s", "5m", "2h", "90d" into seconds (up to 3650
   days). 0 or -1 with *error_r. */
int mb_parse_duration(const char *text, int64_t *seconds_r, const char **error_r);

/* Parse "1048576", "512K", "50M", "2G", "1T" into bytes. 0 or -1. */
int mb_parse_size(const char *text, uint64_t *bytes_r, const char **error_r);

/* The schema's default for key ("lmtpd.spool_dir"), as text (a list's
   as JSON); NULL for a key the schema does not have or one without a
   default. */
const char *mb_context_default(const char *key);

/* Put into obj, a JSON object (json_t), every path key of the schema
   with its default below root ("" for /), each section an object in
   obj (added to when there), and the store as an lmdb store below root:
   the paths `mailbag setup --root DIR` gives a new host. 0, or -1 when
   out of memory. */
struct json_t;
int mb_context_put_path_defaults(struct json_t *obj, const char *root);

/* Write a new context file with defaults and the given values (atomic,
   mode 0644, or 0640 when the store location holds a password; refuses
   to replace an existing file). The values are checked
   with the schema first: a bad one is an error naming its key and
   nothing is written. 0, -EINVAL for a bad value, -EIO when writing
   failed. */
int mb_context_write_new(const char *path, const char *hostname,
			 const char *store, long vmail_uid, long vmail_gid,
			 char *error, size_t error_size);

#endif
