/* cli.h - what the subcommands of `mailbag` share (see main.c). */
#ifndef MAILBAG_CLI_H
#define MAILBAG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "context.h"
#include "store.h"

struct cli {
	const char *context_path;
	bool json;
	struct mb_context *ctx;  /* loaded on demand by cli_context() */
	struct mb_store *store;  /* opened on demand by cli_store() */
	const char *command;     /* "user add", for messages */
};

/* Print "mailbag: COMMAND: message" on stderr and return exit_code. */
int cli_fail(struct cli *cli, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The sysexits code for a negative errno from the store. */
int cli_store_exit_code(int store_ret);

/* Load the context / open the store for writing; on failure print the
   reason and return -1 (and *exit_r the code to exit with). */
int cli_context(struct cli *cli, int *exit_r);
int cli_store(struct cli *cli, int *exit_r);

/* Parse an address (normalised, without the subaddress) or "@domain"
   into buf; prints the reason and returns -1 if it is not one. */
int cli_parse_address(struct cli *cli, const char *text, bool allow_domain_only,
		      char buf[MB_ADDRESS_MAX + 1]);
int cli_parse_domain(struct cli *cli, const char *text, char buf[MB_DOMAIN_MAX + 1]);

/* End a listing: on foreach failure print error and return EX_TEMPFAIL;
   otherwise print the JSON array (when --json collected one). Frees list. */
struct json_t;
int cli_list_done(struct cli *cli, struct json_t *list, int foreach_ret, const char *error);

/* A quota or size limit argument: a size (0 = none) or "default"
   (MB_LIMIT_DEFAULT); prints the reason and returns -1 if neither. */
int cli_parse_limit(struct cli *cli, const char *what, const char *text, uint64_t *bytes_r);
/* bytes as "1.5G" ("unlimited" for 0). */
void cli_format_size(uint64_t bytes, char *buf, size_t size);

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

/* When a user was last seen (*seen_r): 1 the last login Dovecot
   reported, 0 never logged in (the account's creation), -1 the state
   could not be read (error). */
struct mb_user;
int cli_user_last_seen(struct mb_store *store, const struct mb_user *user, int64_t now,
		       int64_t *seen_r, char *error, size_t error_size);

/* when as "YYYY-MM-DD" (UTC), "?" if it cannot be shown. */
void cli_format_day(int64_t when, char *buf, size_t size);

/* Delete a mailbox directory, refusing anything not below mail_root. */
int cli_purge_home(struct cli *cli, const char *home);
/* a user's home made for Dovecot (vmail-owned, 0700) when run as root,
   so the first delivery finds its duplicate database's place (cmd-user.c) */
int cli_make_home(struct cli *cli, const char *home);

/* Every domain record, sorted by name, read before a listing walks the
   users (a lookup inside a store walk is not allowed). */
struct cli_domains {
	struct mb_domain *items;
	size_t count;
};
int cli_domains_load(struct cli *cli, struct cli_domains *domains, char *error, size_t error_size);
const struct mb_domain *cli_domains_find(const struct cli_domains *domains, const char *name);
void cli_domains_free(struct cli_domains *domains);
/* The domains a command works on: the one named (already checked), or
   every domain of the store; -1 with *exit_r printed. */
int cli_target_domains(struct cli *cli, const char *named, struct cli_domains *domains, int *exit_r);

/* mkdir -p: parents 0755, the last one mode; 0 or -1 (errno). */
#include <sys/types.h>
int cli_mkdir_p(const char *path, mode_t mode);
/* Write text to path (a temporary file renamed into place) with mode,
   unless the file already holds exactly that: then *changed_r is false
   and nothing is touched. 0, or -1 printed. */
int cli_write_file(struct cli *cli, const char *path, const char *text, mode_t mode, bool *changed_r);
/* Whether made exists and is not older than source (which exists). */
bool cli_is_current(const char *made, const char *source);

/* the Dovecot whose configuration syntax to write: `dovecot --version`,
   or MAILBAG_DOVECOT_VERSION (dovecot-version.c) */
enum cli_dovecot { CLI_DOVECOT_23, CLI_DOVECOT_24 };
int cli_dovecot_version(enum cli_dovecot *version_r, char *error, size_t error_size);

/* The certificate file's key as a DANE TLSA "3 1 1" value (the SHA-256
   of its SubjectPublicKeyInfo, hex); 0, or -1 with error. */
int cli_tls_spki_sha256(const char *cert_file, char hex[65], char *error, size_t error_size);

/* The MTA-STS policy (RFC 8461 3.2) this host serves for every domain:
   `mailbag web build` writes it, `mailbag dns records` derives the id of
   the _mta-sts record from it. */
void cli_mta_sts_policy(const char *host, char *buf, size_t size);
/* The id of the _mta-sts TXT record for that policy text. */
void cli_mta_sts_id(const char *policy, char id[17]);
/* `mailbag dns check` (dns-check.c) */
int cli_dns_check(struct cli *cli, int argc, char **argv);

/* DNS lookups (dns-query.c): the system resolver (server NULL) or one
   server "IPv4[:PORT]". NULL with error when it cannot be set up. */
struct cli_dns;
struct cli_dns *cli_dns_open(const char *server, char *error, size_t error_size);
void cli_dns_close(struct cli_dns *dns);
struct cli_dns_answers {
	char **items;   /* zone-file text of each answer (see dns-query.c) */
	size_t count;
};
enum { CLI_DNS_TYPE_TLSA = 52 };
/* Every answer of type (ns_t_*) for name: how many (0: no such name or
   no such record), or -1 when DNS did not say (error). Free answers. */
int cli_dns_lookup(struct cli_dns *dns, const char *name, int type,
		   struct cli_dns_answers *answers, char *error, size_t error_size);
void cli_dns_answers_free(struct cli_dns_answers *answers);
/* The answers of type in a DNS reply packet (what cli_dns_lookup does
   with what it receives): how many, or -1 when the packet is malformed. */
int cli_dns_parse_answer(const unsigned char *packet, int len, int type,
			 struct cli_dns_answers *answers);
/* Whether two TXT record texts are the same, spaces and tabs aside. */
bool cli_same_record(const char *a, const char *b);

int cmd_user_import(struct cli *cli, int argc, char **argv);
int cmd_user_app_password(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_expire(struct cli *cli, int argc, char **argv);
int cmd_dkim(struct cli *cli, int argc, char **argv);
int cmd_dns(struct cli *cli, int argc, char **argv);
int cmd_tls(struct cli *cli, int argc, char **argv);
int cmd_web(struct cli *cli, int argc, char **argv);
int cmd_setup(struct cli *cli, int argc, char **argv);

/* The DKIM records a domain must have in DNS now (its signing, pending
   and still-retiring keys): cb per key. How many, or -1 (printed). */
typedef void cli_dkim_record_cb(const char *selector, const char *value, const char *state,
				void *context);
int cli_dkim_published(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context);
int cmd_domain(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_alias(struct cli *cli, int argc, char **argv);

#endif
