/* import-plan.h - what `mailbag import FORMAT PATH` will make, in one form
 * for every format.
 *
 * A format's reader (import-courier.c, import-mailorama.c,
 * import-exim-mibe.c, import-postfix-dovecot.c) reads the other set-up's
 * tree and fills a plan: it never touches the store. Every refused line
 * goes into the plan's problems as FILE:LINE and the reason; what the
 * reader understood but mailbag cannot carry over goes into its notices
 * (said to the user, not an error). The applier (import-apply.c) checks
 * the plan against the store, writes nothing when there is one problem,
 * and otherwise makes what the plan says; a second run changes nothing.
 *
 * Strings are the plan's own (malloc'd, freed by import_plan_free).
 * The adders copy their arguments; they return 0, or -1 when out of
 * memory (the plan stays valid).
 */
#ifndef MAILBAG_IMPORT_PLAN_H
#define MAILBAG_IMPORT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* where an item came from, for messages: "FILE:LINE" (line 0: the file) */
struct import_origin {
	char *file;
	size_t line;
};

struct import_domain {
	char *name;
	struct import_origin origin;
};

struct import_user {
	char *address;      /* normalised local@domain */
	char *hash;         /* "{SCHEME}..." Dovecot verifies, or NULL: no usable
	                       password (needs_reset says why) */
	char *home;         /* absolute, or NULL for mailbag's default */
	char *maildir;      /* an existing Maildir with the user's mail, or NULL */
	uint64_t quota_bytes; /* 0 none given (the domain's default) */
	char *reset_reason; /* non-NULL: the login cannot work until a new
	                       password is set (`mailbag user passwd`) */
	struct import_origin origin;
};

/* source "local@domain" or "@domain" (catch-all, or a domain alias when
   the one target is "@domain" too); targets local or outside addresses */
struct import_alias {
	char *source;
	char **targets;
	size_t target_count;
	struct import_origin origin;
};

/* mail the host's programs send to a system account ("root"): name -> a
   mailbox or outside address (the `aliases` file of /etc) */
struct import_system_alias {
	char *name;
	char *target;
	struct import_origin origin;
};

/* an address in every served domain ("postmaster") -> one target */
struct import_global_alias {
	char *local_part;
	char *target;
	struct import_origin origin;
};

/* a domain we are backup MX for: recipients NULL (count 0) accepts any */
struct import_relay_domain {
	char *domain;
	char **recipients;
	size_t recipient_count;
	struct import_origin origin;
};

/* networks that relay without authentication, "10.0.0.0/8", "192.0.2.1" */
struct import_network {
	char *cidr;
	struct import_origin origin;
};

/* a DKIM private key (PEM) to keep signing with, so no DNS change */
struct import_dkim_key {
	char *domain;
	char *selector;
	char *private_key_file;
	struct import_origin origin;
};

/* a domain pattern ("*.example.org") whose inbound mail must carry a valid
   DKIM signature */
struct import_pattern {
	char *pattern;
	struct import_origin origin;
};

/* a TLS certificate to serve for a name (SNI) */
struct import_certificate {
	char *name;
	char *cert_file;   /* the certificate with its chain, PEM */
	char *key_file;
	struct import_origin origin;
};

/* a problem (refused input) or a notice (kept back, said to the user) */
struct import_message {
	char *text;
	struct import_origin origin;
};

struct import_plan {
	struct import_domain *domains;
	size_t domain_count, domain_capacity;
	struct import_user *users;
	size_t user_count, user_capacity;
	struct import_alias *aliases;
	size_t alias_count, alias_capacity;
	struct import_system_alias *system_aliases;
	size_t system_alias_count, system_alias_capacity;
	struct import_global_alias *global_aliases;
	size_t global_alias_count, global_alias_capacity;
	struct import_relay_domain *relay_domains;
	size_t relay_domain_count, relay_domain_capacity;
	struct import_network *relay_networks;
	size_t relay_network_count, relay_network_capacity;
	struct import_dkim_key *dkim_keys;
	size_t dkim_key_count, dkim_key_capacity;
	struct import_pattern *dkim_required;
	size_t dkim_required_count, dkim_required_capacity;
	struct import_certificate *certificates;
	size_t certificate_count, certificate_capacity;
	char *sieve_before_dir;  /* global scripts run before each user's, or NULL */
	char *sieve_after_dir;   /* and after */
	struct import_message *problems;
	size_t problem_count, problem_capacity;
	struct import_message *notices;
	size_t notice_count, notice_capacity;
};

void import_plan_init(struct import_plan *plan);
void import_plan_free(struct import_plan *plan);

int import_plan_domain(struct import_plan *plan, const char *name,
		       const char *file, size_t line);
/* the user's strings are copied; user->origin is ignored (file, line used) */
int import_plan_user(struct import_plan *plan, const struct import_user *user,
		     const char *file, size_t line);
int import_plan_alias(struct import_plan *plan, const char *source,
		      const char *const *targets, size_t target_count,
		      const char *file, size_t line);
int import_plan_system_alias(struct import_plan *plan, const char *name, const char *target,
			     const char *file, size_t line);
int import_plan_global_alias(struct import_plan *plan, const char *local_part, const char *target,
			     const char *file, size_t line);
int import_plan_relay_domain(struct import_plan *plan, const char *domain,
			     const char *const *recipients, size_t recipient_count,
			     const char *file, size_t line);
int import_plan_relay_network(struct import_plan *plan, const char *cidr,
			      const char *file, size_t line);
int import_plan_dkim_key(struct import_plan *plan, const char *domain, const char *selector,
			 const char *private_key_file, const char *file, size_t line);
int import_plan_dkim_required(struct import_plan *plan, const char *pattern,
			      const char *file, size_t line);
int import_plan_certificate(struct import_plan *plan, const char *name, const char *cert_file,
			    const char *key_file, const char *file, size_t line);
int import_plan_sieve_dirs(struct import_plan *plan, const char *before_dir, const char *after_dir);
/* printf-style text; never pass a password or a hash into it */
int import_plan_problem(struct import_plan *plan, const char *file, size_t line,
			const char *format, ...) __attribute__((format(printf, 4, 5)));
int import_plan_notice(struct import_plan *plan, const char *file, size_t line,
		       const char *format, ...) __attribute__((format(printf, 4, 5)));

/* the user with this address in the plan, or NULL */
struct import_user *import_plan_find_user(struct import_plan *plan, const char *address);
/* the domain of this name (case-insensitive), the alias of this source, or NULL */
const struct import_domain *import_plan_find_domain(const struct import_plan *plan, const char *name);
const struct import_alias *import_plan_find_alias(const struct import_plan *plan, const char *source);

#endif
