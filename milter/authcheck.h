/* authcheck.h - SPF, DKIM and DMARC of one inbound message, with
   Debian's libspf2, libopendkim and libopendmarc (see authcheck.c). */
#ifndef MAILBAG_MILTER_AUTHCHECK_H
#define MAILBAG_MILTER_AUTHCHECK_H

#include "dkim-rotation.h" /* MB_DKIM_SELECTOR_MAX */
#include "headers.h"

#include <stdbool.h>
#include <stddef.h>

/* RFC 8601 results */
enum auth_result {
	AUTH_NONE, AUTH_PASS, AUTH_FAIL, AUTH_SOFTFAIL, AUTH_NEUTRAL,
	AUTH_POLICY, AUTH_TEMPERROR, AUTH_PERMERROR,
};

#define AUTHCHECK_MAX_SIGNATURES 8
/* a= as results name it ("ed25519-sha256"); a longer unknown one is cut */
#define AUTHCHECK_ALGORITHM_MAX 15
/* header.b: the first characters of the signature (RFC 6008 2) */
#define AUTHCHECK_B_SHOWN 8
/* room for an Authentication-Results value: SPF, DMARC and
   AUTHCHECK_MAX_SIGNATURES DKIM results, folded */
#define AUTHCHECK_VALUE_SIZE 4096

struct dkim_outcome {
	enum auth_result result;
	char domain[MB_DOMAIN_MAX + 1];
	char selector[MB_DKIM_SELECTOR_MAX + 1]; /* a longer one (several labels) is cut */
	char algorithm[AUTHCHECK_ALGORITHM_MAX + 1];
	char b[AUTHCHECK_B_SHOWN + 1];   /* header.b */
	char reason[128];
};

struct auth_outcome {
	enum auth_result spf;
	char spf_domain[MB_DOMAIN_MAX + 1]; /* the MAIL FROM domain, or HELO's */
	bool spf_from_helo;
	struct dkim_outcome dkim[AUTHCHECK_MAX_SIGNATURES];
	size_t dkim_count;
	enum auth_result dmarc;
	char dmarc_policy;          /* 'r', 'q', 'n' or 0: the p= (sp=) in force */
	bool dmarc_dkim_pending;    /* a failure a DKIM key DNS did not give could turn */
	char from_domain[MB_DOMAIN_MAX + 1];
};

/* Process-wide set-up: the DKIM DNS timeout, the public suffix list
   for DMARC's organizational domains. -1 with error written. */
int authcheck_init(int dns_timeout_seconds, char *error, size_t error_size);
/* For tests: DKIM keys from a file of "selector._domainkey.domain TXT"
   lines instead of DNS. */
void authcheck_use_key_file(const char *path);
/* At exit: closes the libopendkim handles no check holds. */
void authcheck_deinit(void);

struct authcheck;

/* One message's check; NULL when out of memory. */
struct authcheck *authcheck_begin(const char *job_id);
void authcheck_header(struct authcheck *check, const char *name, const char *value);
void authcheck_end_of_header(struct authcheck *check);
void authcheck_body(struct authcheck *check, const unsigned char *data, size_t len);
/* The DKIM results of every signature (DNS is asked here). */
void authcheck_dkim(struct authcheck *check, struct auth_outcome *out);
void authcheck_free(struct authcheck **check);

/* SPF of the client (RFC 7208), for MAIL FROM (or HELO when null). */
void authcheck_spf(const char *client_ip, const char *helo, const char *mail_from,
		   struct auth_outcome *out);

/* DMARC (RFC 7489) of the From domain with the SPF and DKIM results. */
void authcheck_dmarc(const char *client_ip, const char *from_domain, struct auth_outcome *out);

/* Whether a DKIM signature passed whose d= is domain or a parent of it
   (relaxed alignment). */
bool authcheck_dkim_aligned(const struct auth_outcome *out, const char *domain);
/* Whether a signature whose key DNS did not give (temperror) has such a
   d=: its answer could still make the first true. */
bool authcheck_dkim_pending(const struct auth_outcome *out, const char *domain);

const char *auth_result_name(enum auth_result result);

/* The Authentication-Results value (after the field name), folded. */
int authcheck_format(const struct auth_outcome *out, const char *authserv_id,
		     char *buf, size_t size);

#endif
