/* store.h - domains, users and aliases behind one API (see store.c). */
#ifndef MAILBAG_STORE_H
#define MAILBAG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"

struct mb_store;

#define MB_APP_PASSWORDS_MAX 20
#define MB_APP_PASSWORD_NAME_MAX 32
#define MB_NODE_NAME_MAX 32  /* a Dovecot node (context lmtpd.nodes, a user's node) */

/* A revocable per-device password: only its hash is kept. */
struct mb_app_password {
	char name[MB_APP_PASSWORD_NAME_MAX + 1];
	char *hash;                /* {ARGON2ID} */
	int64_t created;
};

/* A quota or message-size limit of a user or domain that is not set
   there: a user's comes from its domain, a domain's from the context. */
#define MB_LIMIT_DEFAULT UINT64_MAX

struct mb_domain {
	char name[MB_DOMAIN_MAX + 1];
	uint64_t quota_bytes;       /* for its users; 0 no limit, or MB_LIMIT_DEFAULT */
	uint64_t max_message_bytes; /* likewise */
	int64_t created;
};

/* A move of the mailbox to another node (`mailbag user move`, see
   lib/user-move.c): the progress is kept in the record, so every node's
   mailbag-lmtpd and Dovecot passdb see a freeze at once. */
enum mb_move_phase {
	MB_MOVE_NONE,    /* no move */
	MB_MOVE_COPY,    /* first copy to `to`; the mailbox is live on `from` */
	MB_MOVE_FREEZE,  /* until `until`: deliveries 4xx, logins fail temporarily */
	MB_MOVE_FINAL,   /* node is `to` now, still frozen until `until`: the last sync */
	MB_MOVE_DONE,    /* moved; the old copy on `from` is kept until --purge */
};

struct mb_user_move {
	enum mb_move_phase phase;
	char from[MB_NODE_NAME_MAX + 1]; /* the node the mailbox leaves */
	char to[MB_NODE_NAME_MAX + 1];   /* the node it goes to */
	int64_t started;                 /* unix time the move began */
	int64_t until;                   /* FREEZE, FINAL: the freeze's end (a lease) */
};

struct mb_user {
	char address[MB_ADDRESS_MAX + 1];
	char *password_hash;       /* "{SCHEME}..." */
	uint64_t quota_bytes;      /* 0: no limit; MB_LIMIT_DEFAULT: the domain's */
	uint64_t max_message_bytes; /* likewise */
	bool enabled;
	int64_t created;           /* unix time */
	char *home;                /* absolute; "" means the default */
	struct mb_app_password *app_passwords; /* malloc'ed, or NULL */
	size_t app_password_count;
	bool app_passwords_only;   /* the main password does not log in */
	/* the Dovecot node holding the mailbox (context lmtpd.nodes); "" the local one */
	char node[MB_NODE_NAME_MAX + 1];
	struct mb_user_move move;  /* phase MB_MOVE_NONE: none */
};

/* Whether the user's mailbox is frozen for a move at now: deliveries
   get 4xx, logins a temporary failure (only doveadm opens it). */
bool mb_user_frozen(const struct mb_user *user, int64_t now);
/* "copy", "freeze", "final", "done" ("" for none); parse: 0 or -1 */
const char *mb_move_phase_name(enum mb_move_phase phase);
int mb_move_phase_parse(const char *name, enum mb_move_phase *phase_r);

#define MB_ALIAS_MAX_TARGETS 1000

struct mb_alias {
	/* "local@domain", or "@domain" for a catch-all or a domain alias */
	char source[MB_ADDRESS_MAX + 1];
	size_t target_count;
	/* addresses, or "@domain" for a domain alias */
	char **targets;
};

enum mb_store_mode {
	MB_STORE_READ,       /* lookups only */
	MB_STORE_WRITE,      /* lookups and changes */
	MB_STORE_CREATE,     /* like WRITE, creating an empty store if none */
};

/* location: "lmdb:/dir". Returns 0, or -1 with a message in error. */
int mb_store_open(const char *location, enum mb_store_mode mode,
		  struct mb_store **store_r, char *error, size_t error_size);
void mb_store_close(struct mb_store **store);
/* Keep a read cache of domains, users and aliases (at most max_entries
   entries, 0 for none), coherent with every change made by any client:
   for long-lived processes on a store that is not local (Redis); a no-op
   for LMDB. 0, or -1 with error. */
int mb_store_enable_cache(struct mb_store *store, size_t max_entries, char *error, size_t error_size);
/* The store's change generation: a number that changes whenever a domain,
   user or alias record changes (by any process), so that what was decoded
   under one number may be kept while it stays. 1 with *generation_r set,
   0 when the store has no such number (Redis: read every time), -1. */
int mb_store_generation(struct mb_store *store, uint64_t *generation_r, char *error, size_t error_size);

/* Lookups: 1 found, 0 not found, -1 the store could not answer. */
int mb_store_domain_exists(struct mb_store *store, const char *domain,
			   char *error, size_t error_size);
int mb_store_domain_get(struct mb_store *store, const char *domain,
			struct mb_domain *domain_r, char *error, size_t error_size);
int mb_store_user_get(struct mb_store *store, const char *address,
		      struct mb_user *user_r, char *error, size_t error_size);
/* The user mail to address reaches: the exact address (normalised), else
   the address without its subaddress (after one of delimiters). 1 found
   (user_r to clear), 0 none (or not an address), -1 failure. */
int mb_store_user_find(struct mb_store *store, const char *address, const char *delimiters,
		       struct mb_user *user_r, char *error, size_t error_size);
int mb_store_alias_get(struct mb_store *store, const char *source,
		       struct mb_alias *alias_r, char *error, size_t error_size);
void mb_user_clear(struct mb_user *user);
void mb_alias_clear(struct mb_alias *alias);
/* the domain a domain alias's record ("@a" -> "@b") points at: 1 with
   target_r filled, 0 when the record is not a domain alias */
int mb_alias_domain_target(const struct mb_alias *alias, char target_r[MB_DOMAIN_MAX + 1]);

/* Changes. Each is one atomic transaction. 0 on success, or a negative
   errno: -EEXIST, -ENOENT, -ENOTEMPTY for the caller's logic, -EIO for a
   store failure; error always says what happened. */
int mb_store_domain_add(struct mb_store *store, const char *domain,
			char *error, size_t error_size);
/* Add a domain with its record (name, limits, created); -EEXIST. */
int mb_store_domain_create(struct mb_store *store, const struct mb_domain *domain,
			   char *error, size_t error_size);
/* Replace an existing domain's record (its default limits); -ENOENT. */
int mb_store_domain_update(struct mb_store *store, const struct mb_domain *domain,
			   char *error, size_t error_size);
/* With force=false, -ENOTEMPTY while users or aliases of it remain. */
int mb_store_domain_del(struct mb_store *store, const char *domain, bool force,
			char *error, size_t error_size);
int mb_store_user_add(struct mb_store *store, const struct mb_user *user,
		      char *error, size_t error_size);
/* Add many users in one transaction: all or none (-EEXIST, -ENOENT
   naming the first user refused). For imports. */
int mb_store_users_add(struct mb_store *store, const struct mb_user *users, size_t count,
		       char *error, size_t error_size);
/* Replace an existing user's record (password, quota, state, home). */
int mb_store_user_update(struct mb_store *store, const struct mb_user *user,
			 char *error, size_t error_size);
int mb_store_user_del(struct mb_store *store, const char *address,
		      char *error, size_t error_size);
/* Add targets to source, creating the alias if needed. */
int mb_store_alias_add(struct mb_store *store, const char *source,
		       const char *const *targets, size_t count,
		       char *error, size_t error_size);
/* Remove targets, or the whole alias when count is 0. */
int mb_store_alias_del(struct mb_store *store, const char *source,
		       const char *const *targets, size_t count,
		       char *error, size_t error_size);

/* Iteration over one domain, or every domain when domain is NULL.
   The callback returns 0 to go on, non-zero to stop. 0 or -1. */
typedef int mb_domain_cb(const char *domain, void *context);
typedef int mb_user_cb(const struct mb_user *user, void *context);
typedef int mb_alias_cb(const struct mb_alias *alias, void *context);
int mb_store_domains_foreach(struct mb_store *store, mb_domain_cb *cb,
			     void *context, char *error, size_t error_size);
int mb_store_users_foreach(struct mb_store *store, const char *domain,
			   mb_user_cb *cb, void *context,
			   char *error, size_t error_size);
int mb_store_aliases_foreach(struct mb_store *store, const char *domain,
			     mb_alias_cb *cb, void *context,
			     char *error, size_t error_size);

/* Where mail to an address goes here: the one rule behind policyd's
   virtual_alias_maps answer (so Postfix's routing), the policy checks that
   follow it, alias add's check and alias list's marks. Tried in order: an
   alias of the address, an enabled user of it, the same two without its
   "+detail" (after one of delimiters); for a domain that is only a domain
   alias, the same local part at the target domain if an alias or enabled
   user there receives it; then a global alias of the local part
   ("LOCAL@*", below; for postmaster without one, the context's
   postmaster default); last the domain's catch-all. An alias (or
   catch-all) counts only with its live targets: a target on a domain
   served here (a mailbox domain or a domain alias) that nothing would
   receive, or a disabled user, is left out, and an alias left with none
   is as if it did not exist. Aliases are followed at most
   MB_ROUTE_MAX_DEPTH deep (deeper, or in a loop, a target is dead) and
   with at most MB_ROUTE_MAX_LOOKUPS store lookups per call. */
#define MB_ROUTE_MAX_DEPTH 10
#define MB_ROUTE_MAX_LOOKUPS 20000

enum mb_route {
	MB_ROUTE_NONE,         /* nothing here receives it */
	MB_ROUTE_USER,         /* an enabled user: the address or its base */
	MB_ROUTE_ALIAS,        /* an alias: alias holds its live targets */
	MB_ROUTE_DOMAIN_ALIAS, /* rewritten: the address at the target domain */
	MB_ROUTE_CATCH_ALL,    /* the catch-all: alias holds its live targets */
};

struct mb_route_result {
	enum mb_route route;
	struct mb_alias alias;   /* ALIAS, CATCH_ALL; clear with mb_route_clear */
	char rewritten[MB_ADDRESS_MAX + 1]; /* DOMAIN_ALIAS */
	bool disabled;           /* a disabled user of the address (or its base) was passed over */
};

/* 0 (r to clear), -1 the store failed, -2 the aliases need more than
   MB_ROUTE_MAX_LOOKUPS lookups; error says which. */
int mb_store_route(struct mb_store *store, const char *delimiters, const char *address,
		   struct mb_route_result *r, char *error, size_t error_size);
void mb_route_clear(struct mb_route_result *r);

/* What a target of an alias is, by that rule. */
enum mb_target_state {
	MB_TARGET_OUTSIDE,   /* not on a domain served here: sent on as it is */
	MB_TARGET_LIVE,      /* an enabled user, an alias with a live target, a domain alias's */
	MB_TARGET_CATCH_ALL, /* no user or alias: only the domain's catch-all receives it */
	MB_TARGET_DISABLED,  /* a disabled user: left out */
	MB_TARGET_MISSING,   /* nothing receives it: left out */
};

/* The state of target (an address, or "@domain": a domain alias's
   target, MISSING unless a mailbox domain). The state (>= 0), or -1/-2
   as mb_store_route. */
int mb_store_target_state(struct mb_store *store, const char *delimiters, const char *target,
			  char *error, size_t error_size);
const char *mb_target_state_name(enum mb_target_state state);

/* Each alias one of whose targets is address, or address with a
   "+detail" (after one of delimiters), handed to cb; 0 or -1. */
int mb_store_aliases_naming(struct mb_store *store, const char *address, const char *delimiters,
			    mb_alias_cb *cb, void *context, char *error, size_t error_size);
/* Delete a user and take it (and its +detail spellings) out of every
   alias naming it, in one transaction; an alias left with no target is
   deleted. changed (may be NULL) is given each alias as it is left
   (target_count 0: deleted); its return value is ignored. 0, -ENOENT,
   -EIO, -ENOMEM. */
int mb_store_user_del_unalias(struct mb_store *store, const char *address, const char *delimiters,
			      mb_alias_cb *changed, void *context, char *error, size_t error_size);

#define MB_STATE_KEY_MAX 400
#define MB_STATE_VALUE_MAX 256

/* Fast-changing state with expiry: rate counters, greylist entries (see
   store-backend.h). Writable even in a store opened MB_STORE_READ. Keys
   up to 400 bytes, values up to 256; times in unix seconds.
   get: 1 found, 0 absent or expired, -1. The others: 0 or -1. */
int mb_state_get(struct mb_store *store, const char *key, int64_t now,
		 char *value, size_t value_size, char *error, size_t error_size);
int mb_state_put(struct mb_store *store, const char *key, const char *value,
		 int64_t expires, char *error, size_t error_size);
/* Add delta to a counter; a new (or expired) one expires at `expires`. */
int mb_state_add(struct mb_store *store, const char *key, int64_t delta,
		 int64_t expires, int64_t now, int64_t *value_r,
		 char *error, size_t error_size);
/* A mailbox's usage as Dovecot last reported it (policyd's usage
   socket), kept in the state as "usage/ADDRESS" = "BYTES MESSAGES".
   get: 1 found, 0 never reported, -1. put: 0 or -1. */
int mb_usage_get(struct mb_store *store, const char *address, int64_t now,
		 uint64_t *bytes_r, uint64_t *messages_r, char *error, size_t error_size);
int mb_usage_put(struct mb_store *store, const char *address, uint64_t bytes,
		 uint64_t messages, int64_t expires, char *error, size_t error_size);

/* The last login (unix time, at day precision) Dovecot's last_login
   plugin reported, kept as "login/ADDRESS". get: 1 found, 0 never, -1. */
int mb_last_login_get(struct mb_store *store, const char *address, int64_t now,
		      int64_t *when_r, char *error, size_t error_size);
/* Record a login at when, rounded down to its day (UTC); a login on a
   day already recorded writes nothing. 0 or -1. */
int mb_last_login_put(struct mb_store *store, const char *address, int64_t when,
		      int64_t now, char *error, size_t error_size);

/* Send the state calls (mb_state_*, the usage and last-login ones
   included) to journal instead of the backend, until set to NULL: how
   a daemon runs a decision without waiting for Redis (state-journal.c). */
struct mb_state_journal;
void mb_store_set_journal(struct mb_store *store, struct mb_state_journal *journal);
/* Whether the journal stopped this run for a result not in yet: a
   failure now is not one to report (the decision is run again). */
bool mb_store_waiting(const struct mb_store *store);

/* Call about once a second in a daemon that writes state. */
int mb_state_maintain(struct mb_store *store, int64_t now,
		      char *error, size_t error_size);

/* Routing records (store-routing.c): global aliases, the domains we
   relay for (backup MX) and the networks that relay without logging in.
   They live in the aliases table under keys that no domain can spell
   (their "domain" starts with '*'), so they need no migration, are live
   at once on every node and are cached and invalidated like any alias:
     "*" /LOCAL          a global alias: LOCAL@ every served domain
                         (an alias record, source "LOCAL@*")
     "*relay-to" /DOMAIN a relay domain (source "DOMAIN@*relay-to"):
                         its recipient list as the targets, its next hop
     "*relay-from" /     the relay networks (source "@*relay-from"),
                         one record whose targets are the CIDR texts */
#define MB_GLOBAL_DOMAIN "*"
#define MB_RELAY_TO_DOMAIN "*relay-to"
#define MB_RELAY_FROM_SOURCE "@*relay-from"
#define MB_RELAY_MAX_NETWORKS 1000
#define MB_NEXT_HOP_MAX 300

/* Whether an alias source is a routing record rather than an alias of
   a domain (its domain starts with '*'); global: "LOCAL@*" only. */
bool mb_alias_is_routing(const char *source);
bool mb_alias_is_global(const char *source);

/* Global aliases: LOCAL (a local part, lower case) -> targets. The
   route (mb_store_route) tries one after the address's own alias and
   user and before the domain's catch-all. add/del as mb_store_alias_*. */
int mb_store_global_alias_get(struct mb_store *store, const char *local,
			      struct mb_alias *alias_r, char *error, size_t error_size);
int mb_store_global_alias_add(struct mb_store *store, const char *local,
			      const char *const *targets, size_t count, char *error, size_t error_size);
int mb_store_global_alias_del(struct mb_store *store, const char *local,
			      const char *const *targets, size_t count, char *error, size_t error_size);
/* What postmaster@ of a served domain reaches when neither it nor a
   global "postmaster" alias exists (the context's postmaster key): the
   caller keeps targets alive while the store uses them; count 0: none. */
void mb_store_set_postmaster(struct mb_store *store, const char (*targets)[MB_ADDRESS_MAX + 1],
			     size_t count);

/* A domain we are backup MX for: mail to it is accepted, queued and
   sent on to next_hop (its DNS MX when ""), never delivered here. */
struct mb_relay_domain {
	char name[MB_DOMAIN_MAX + 1];
	char next_hop[MB_NEXT_HOP_MAX + 1]; /* "" MX; else Postfix's "[host]:port" */
	char **recipients;        /* the only addresses accepted; none: any */
	size_t recipient_count;
	int64_t created;
};

void mb_relay_domain_clear(struct mb_relay_domain *relay);
/* Whether relay accepts mail to address (at its domain). */
bool mb_relay_domain_accepts(const struct mb_relay_domain *relay, const char *address);
/* "HOST", "HOST:PORT", "[HOST]:PORT" (HOST a domain name, an IPv4
   address or a bracketed IPv6 one) as Postfix's next hop "[HOST]:PORT"
   (brackets: no MX lookup; port 25 when none). 0, or -1 with *why_r. */
int mb_next_hop_parse(const char *text, char out[MB_NEXT_HOP_MAX + 1], const char **why_r);
/* 1 found (relay_r to clear), 0 not a relay domain, -1 */
int mb_store_relay_domain_get(struct mb_store *store, const char *domain,
			      struct mb_relay_domain *relay_r, char *error, size_t error_size);
/* Make domain a relay domain, or change one: the recipients are added
   to its list, next_hop (NULL: keep; "": DNS MX) replaces its own.
   -EEXIST when domain is served here (a mailbox or alias domain),
   -E2BIG past MB_ALIAS_MAX_TARGETS recipients, -EINVAL a recipient not
   at domain. 0, or the negative errno with error. */
int mb_store_relay_domain_add(struct mb_store *store, const char *domain,
			      const char *const *recipients, size_t count, const char *next_hop,
			      char *error, size_t error_size);
/* Take recipients from its list, or with none the whole relay domain;
   -ENOENT for one it does not have. */
int mb_store_relay_domain_del(struct mb_store *store, const char *domain,
			      const char *const *recipients, size_t count,
			      char *error, size_t error_size);
typedef int mb_relay_domain_cb(const struct mb_relay_domain *relay, void *context);
int mb_store_relay_domains_foreach(struct mb_store *store, mb_relay_domain_cb *cb, void *context,
				   char *error, size_t error_size);

/* The relay networks (CIDR texts as mb_network_parse reads them, kept
   as given). add: -EINVAL a bad network, -E2BIG past
   MB_RELAY_MAX_NETWORKS; an existing one is no change. del: -ENOENT. */
int mb_store_relay_network_add(struct mb_store *store, const char *cidr,
			       char *error, size_t error_size);
int mb_store_relay_network_del(struct mb_store *store, const char *cidr,
			       char *error, size_t error_size);
/* The list as one alias record (targets: the networks); 1, 0 none, -1 */
int mb_store_relay_networks_get(struct mb_store *store, struct mb_alias *list_r,
				char *error, size_t error_size);
/* Whether a client address lies in a relay network: 1, 0, -1 */
int mb_store_relay_from(struct mb_store *store, const char *client_address,
			char *error, size_t error_size);

#endif
