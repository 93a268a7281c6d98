/* authcheck.c - who sent an inbound message, by SPF (libspf2), DKIM
 * (libopendkim) and DMARC (libopendmarc), as RFC 8601 results for the
 * Authentication-Results field and the milter's policies.
 *
 * Beyond what the libraries decide, mailbag's own rules:
 *	- each DKIM-Signature field is judged on its own (RFC 6376 6.1): one
 *	  that does not parse, names an unknown algorithm or lacks a required
 *	  tag is "neutral" (RFC 8601 2.7.1) and the others are still checked;
 *	- a key that does not exist (NXDOMAIN, no TXT, an empty or broken
 *	  record) is "permerror"; only a DNS timeout or failure (SERVFAIL) is
 *	  "temperror";
 *	- a signature on a message without a From field is "permerror";
 *	- rsa-sha1 signatures and RSA keys under 1024 bits fail (RFC 8301);
 *	- a signature whose l= leaves part of the body unsigned is "policy",
 *	  never "pass": what was added past l= is not trusted;
 *	- DMARC waits for DNS (dmarc_dkim_pending) only when a signature
 *	  whose key lookup failed is aligned with the From domain, that is
 *	  when its answer could still turn the failure into a pass.
 * libopendkim refuses a DKIM-Signature that does not parse in
 * dkim_header() and leaves it out of its list (DKIM_LIBFLAGS_BADSIGHANDLES
 * would keep it in, but then checks it like any other, so a field that
 * does not parse could still pass); so the fields are counted here, the
 * refused ones judged here, and the rest matched to libopendkim's list,
 * which keeps their order.
 * libopendkim and libspf2 keep resolver state in their handles, so no
 * two threads may use one at once. A session's callbacks do not stay on
 * one thread, though: Debian's libmilter is built with its worker pool
 * (_FFR_WORKERS_POOL), which runs each callback on whichever worker is
 * free and ends workers that are idle. So a libspf2 server, used within
 * one callback, is per thread; but a libopendkim handle, which lives from
 * MAIL FROM to the end of the message, is lent to that message alone
 * from a free list and given back when its check is freed.
 */
#include "authcheck.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>
#include <limits.h>
#include <pthread.h>
#include <spf2/spf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static unsigned int dkim_timeout = 10;
static const char *dkim_key_file; /* tests: keys from a file, not DNS */

#define PUBLIC_SUFFIX_LIST "/usr/share/publicsuffix/public_suffix_list.dat"

static pthread_key_t spf_server_key;
static pthread_once_t spf_server_key_once = PTHREAD_ONCE_INIT;

static void free_spf_server(void *server) { SPF_server_free(server); }
static void make_spf_server_key(void) { pthread_key_create(&spf_server_key, free_spf_server); }

/* thread_spf_server - this thread's libspf2 server (its resolver state
   is set up once per thread, not once per message); authcheck_spf is
   done with it before it returns, so a worker that ends takes nothing
   of a session's with it */
static SPF_server_t *thread_spf_server(void)
{
	SPF_server_t *server;

	pthread_once(&spf_server_key_once, make_spf_server_key);
	server = pthread_getspecific(spf_server_key);
	if (server == NULL && (server = SPF_server_new(SPF_DNS_RESOLV, 0)) != NULL)
		pthread_setspecific(spf_server_key, server);
	return server;
}

/* A libopendkim handle and its resolver state, lent to one message at a
   time: there are as many as messages checked at once, never more. */
struct dkim_lender {
	DKIM_LIB *lib;
	struct dkim_lender *next;
};

static pthread_mutex_t dkim_lenders_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dkim_lender *idle_dkim_lenders;

/* Key queries. Debian's libopendkim asks with res_nquery(), which fails
   alike for NXDOMAIN, no TXT, SERVFAIL and a timeout, and then calls every
   one "key DNS query failed". So the handle's resolver state (its own
   res_ninit()) is asked here with res_nsend(), which gives the answer
   whatever its rcode; libopendkim reads NXDOMAIN and an empty answer as
   no key (permanent) from it. What is no answer at all -- a timeout, an
   unreachable server, SERVFAIL or REFUSED from every server -- stays a
   failed query (temporary). The resolver state is the handle's own, and
   a handle serves one message at a time. */
struct key_query {
	int len;
};

/* key_resolver_init - the handle's own resolver state (libopendkim asks
   for it at the first key query) */
static int key_resolver_init(void **service)
{
	res_state statp = calloc(1, sizeof(*statp));

	if (statp == NULL)
		return -1;
	if (res_ninit(statp) != 0) {
		free(statp);
		return -1;
	}
	/* milter.dns_timeout for the whole lookup, not the resolver's
	   default 5 s times its tries times each server */
	statp->retrans = (int)dkim_timeout;
	statp->retry = 1;
	*service = statp;
	return 0;
}

static void key_resolver_close(void *service)
{
	res_nclose(service);
	free(service);
}

static int key_query_start(void *service, int type, unsigned char *name, unsigned char *buf,
			   size_t size, void **qh)
{
	res_state statp = service;
	unsigned char packet[HFIXEDSZ + NS_MAXDNAME + QFIXEDSZ + 16];
	struct key_query *q;
	HEADER header;
	int n, len;

	if (statp == NULL || size > INT_MAX)
		return DKIM_DNS_ERROR;
	n = res_nmkquery(statp, ns_o_query, (const char *)name, ns_c_in, type, NULL, 0, NULL,
			 packet, sizeof(packet));
	if (n < 0)
		return DKIM_DNS_ERROR;
	len = res_nsend(statp, packet, n, buf, (int)size);
	/* a reply longer than buf (truncated over TCP) is reported with its
	   whole length: never hand libopendkim more than buf holds */
	if (len < (int)sizeof(header) || len > (int)size)
		return DKIM_DNS_ERROR;
	/* only an answer or a name that does not exist says anything */
	memcpy(&header, buf, sizeof(header));
	if (header.rcode != ns_r_noerror && header.rcode != ns_r_nxdomain)
		return DKIM_DNS_ERROR;
	if ((q = malloc(sizeof(*q))) == NULL)
		return DKIM_DNS_ERROR;
	q->len = len;
	*qh = q;
	return DKIM_DNS_SUCCESS;
}

/* the answer is in before key_query_start returns */
static int key_query_wait(void *service, void *qh, struct timeval *timeout, size_t *bytes,
			  int *error, int *dnssec)
{
	const struct key_query *q = qh;

	(void)service;
	(void)timeout;
	if (bytes != NULL)
		*bytes = (size_t)q->len;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return DKIM_DNS_SUCCESS;
}

static int key_query_cancel(void *service, void *qh)
{
	(void)service;
	free(qh);
	return 0;
}

/* new_dkim_lib - a libopendkim handle with our options */
static DKIM_LIB *new_dkim_lib(void)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);

	if (lib == NULL)
		return NULL;
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF, min_bits = 1024;
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &dkim_timeout, sizeof(dkim_timeout));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof(min_bits));
	dkim_dns_set_init(lib, key_resolver_init);
	dkim_dns_set_close(lib, key_resolver_close);
	dkim_dns_set_query_start(lib, key_query_start);
	dkim_dns_set_query_waitreply(lib, key_query_wait);
	dkim_dns_set_query_cancel(lib, key_query_cancel);
	if (dkim_key_file != NULL) {
		dkim_query_t method = DKIM_QUERY_FILE;
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof(method));
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)dkim_key_file,
			     strlen(dkim_key_file));
	}
	return lib;
}

/* borrow_dkim_lib - an idle handle, or a new one; NULL when out of memory */
static struct dkim_lender *borrow_dkim_lib(void)
{
	struct dkim_lender *lender;

	pthread_mutex_lock(&dkim_lenders_lock);
	lender = idle_dkim_lenders;
	if (lender != NULL)
		idle_dkim_lenders = lender->next;
	pthread_mutex_unlock(&dkim_lenders_lock);
	if (lender != NULL)
		return lender;
	if ((lender = calloc(1, sizeof(*lender))) == NULL)
		return NULL;
	if ((lender->lib = new_dkim_lib()) == NULL) {
		free(lender);
		return NULL;
	}
	return lender;
}

/* return_dkim_lib - a handle no message uses any more, for the next */
static void return_dkim_lib(struct dkim_lender *lender)
{
	pthread_mutex_lock(&dkim_lenders_lock);
	lender->next = idle_dkim_lenders;
	idle_dkim_lenders = lender;
	pthread_mutex_unlock(&dkim_lenders_lock);
}

int authcheck_init(int dns_timeout_seconds, char *error, size_t error_size)
{
	static OPENDMARC_LIB_T dmarc_lib;
	struct stat st;

	dkim_timeout = dns_timeout_seconds > 0 ? (unsigned int)dns_timeout_seconds : 10;
	memset(&dmarc_lib, 0, sizeof(dmarc_lib));
	if (stat(PUBLIC_SUFFIX_LIST, &st) == 0) {
		dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
		snprintf((char *)dmarc_lib.tld_source_file, sizeof(dmarc_lib.tld_source_file), "%s",
			 PUBLIC_SUFFIX_LIST);
	}
	if (opendmarc_policy_library_init(&dmarc_lib) != DMARC_PARSE_OKAY) {
		snprintf(error, error_size, "libopendmarc could not start (public suffix list %s)",
			 PUBLIC_SUFFIX_LIST);
		return -1;
	}
	return 0;
}

void authcheck_use_key_file(const char *path) { dkim_key_file = path; }

void authcheck_deinit(void)
{
	struct dkim_lender *lender, *next;

	pthread_mutex_lock(&dkim_lenders_lock);
	lender = idle_dkim_lenders;
	idle_dkim_lenders = NULL;
	pthread_mutex_unlock(&dkim_lenders_lock);
	for (; lender != NULL; lender = next) {
		next = lender->next;
		dkim_close(lender->lib);
		free(lender);
	}
}

/* What the DKIM-Signature field itself says, for the A-R text of a
   signature libopendkim refused or never saw */
struct sig_field {
	bool refused;       /* dkim_header() found it does not parse */
	char reason[96];
	char domain[MB_DOMAIN_MAX + 1];
	char selector[MB_DKIM_SELECTOR_MAX + 1];
	char algorithm[AUTHCHECK_ALGORITHM_MAX + 1];
	char b[AUTHCHECK_B_SHOWN + 1];
};

struct authcheck {
	struct dkim_lender *lender; /* the handle dkim was made with: this message's alone */
	DKIM *dkim;
	bool no_signature;  /* libopendkim found none at the end of the header */
	bool failed;        /* libopendkim refused the message's shape */
	bool saw_from;      /* the header has a From field */
	char failure[128];
	struct sig_field fields[AUTHCHECK_MAX_SIGNATURES];
	size_t field_count; /* DKIM-Signature fields, up to the bound */
};

struct authcheck *authcheck_begin(const char *job_id)
{
	struct authcheck *check = calloc(1, sizeof(*check));
	DKIM_STAT status;

	if (check == NULL || (check->lender = borrow_dkim_lib()) == NULL) {
		free(check);
		return NULL;
	}
	check->dkim = dkim_verify(check->lender->lib, (const unsigned char *)job_id, NULL, &status);
	if (check->dkim == NULL) {
		return_dkim_lib(check->lender);
		free(check);
		return NULL;
	}
	return check;
}

/* copy_tag - value of tag into buf, its whitespace (FWS) removed */
static void copy_tag(const char *value, size_t len, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		if (value[i] != ' ' && value[i] != '\t' && value[i] != '\r' && value[i] != '\n')
			buf[n++] = value[i];
	}
	buf[n] = '\0';
}

/* parse_sig_field - d=, s=, a= and the start of b= of a DKIM-Signature
   value (RFC 6376 3.2 tag-list), as far as they can be read: only for
   naming the signature, never for judging it */
static void parse_sig_field(const char *value, struct sig_field *f)
{
	const char *p = value;

	while (*p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char name[8];

		eq = memchr(p, '=', len);
		if (eq != NULL) {
			copy_tag(p, (size_t)(eq - p), name, sizeof(name));
			const char *v = eq + 1;
			size_t vlen = len - (size_t)(v - p);
			if (strcmp(name, "d") == 0)
				copy_tag(v, vlen, f->domain, sizeof(f->domain));
			else if (strcmp(name, "s") == 0)
				copy_tag(v, vlen, f->selector, sizeof(f->selector));
			else if (strcmp(name, "a") == 0)
				copy_tag(v, vlen, f->algorithm, sizeof(f->algorithm));
			else if (strcmp(name, "b") == 0)
				copy_tag(v, vlen, f->b, sizeof(f->b));
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
}

void authcheck_header(struct authcheck *check, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);
	/* at worst every byte of the value a bare LF that becomes CRLF */
	char *field = check->failed ? NULL : malloc(name_len + 2 * value_len + 2);
	size_t n = 0;
	struct sig_field *sig = NULL;

	if (strcasecmp(name, "From") == 0)
		check->saw_from = true;
	if (field == NULL)
		return;
	if (strcasecmp(name, "DKIM-Signature") == 0 && check->field_count < AUTHCHECK_MAX_SIGNATURES) {
		sig = &check->fields[check->field_count++];
		parse_sig_field(value, sig);
	}
	/* "name:value", the value with its leading space (SMFIP_HDR_LEADSPC)
	   and its folding as CRLF, as the message had it on the wire */
	memcpy(field, name, name_len);
	n = name_len;
	field[n++] = ':';
	for (size_t i = 0; i < value_len; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			field[n++] = '\r';
		field[n++] = value[i];
	}
	DKIM_STAT status = dkim_header(check->dkim, (unsigned char *)field, n);
	if (status == DKIM_STAT_SYNTAX && strcasecmp(name, "DKIM-Signature") == 0) {
		/* RFC 6376 6.1.1: ignore this signature, go on with the others;
		   libopendkim has kept the field itself for the others' h= */
		if (sig != NULL) {
			sig->refused = true;
			snprintf(sig->reason, sizeof(sig->reason), "signature syntax error: %s",
				 dkim_geterror(check->dkim) ? dkim_geterror(check->dkim) : "does not parse");
		}
	} else if (status != DKIM_STAT_OK) {
		check->failed = true;
		snprintf(check->failure, sizeof(check->failure), "%s", dkim_geterror(check->dkim) ?
			 dkim_geterror(check->dkim) : "a header field libopendkim could not take");
	}
	free(field);
}

void authcheck_end_of_header(struct authcheck *check)
{
	if (check->failed)
		return;
	DKIM_STAT status = dkim_eoh(check->dkim);
	if (status == DKIM_STAT_NOSIG)
		check->no_signature = true;
	else if (status != DKIM_STAT_OK) {
		/* a broken signature field is still a failed signature */
		check->no_signature = false;
	}
}

void authcheck_body(struct authcheck *check, const unsigned char *data, size_t len)
{
	if (!check->failed && !check->no_signature)
		dkim_body(check->dkim, (unsigned char *)data, len);
}

/* sig_syntax_error - whether libopendkim's error says the signature
   field itself is unusable as written (a tag missing, empty or invalid) */
static bool sig_syntax_error(int error)
{
	switch (error) {
	case DKIM_SIGERROR_VERSION: case DKIM_SIGERROR_DOMAIN: case DKIM_SIGERROR_TIMESTAMPS:
	case DKIM_SIGERROR_INVALID_HC: case DKIM_SIGERROR_INVALID_BC:
	case DKIM_SIGERROR_MISSING_A: case DKIM_SIGERROR_INVALID_A:
	case DKIM_SIGERROR_MISSING_H: case DKIM_SIGERROR_EMPTY_H: case DKIM_SIGERROR_INVALID_H:
	case DKIM_SIGERROR_INVALID_L: case DKIM_SIGERROR_INVALID_Q: case DKIM_SIGERROR_INVALID_QO:
	case DKIM_SIGERROR_MISSING_D: case DKIM_SIGERROR_EMPTY_D:
	case DKIM_SIGERROR_MISSING_S: case DKIM_SIGERROR_EMPTY_S:
	case DKIM_SIGERROR_MISSING_B: case DKIM_SIGERROR_EMPTY_B: case DKIM_SIGERROR_CORRUPT_B:
	case DKIM_SIGERROR_MISSING_BH: case DKIM_SIGERROR_EMPTY_BH: case DKIM_SIGERROR_CORRUPT_BH:
	case DKIM_SIGERROR_SUBDOMAIN: case DKIM_SIGERROR_MISSING_V: case DKIM_SIGERROR_EMPTY_V:
		return true;
	default:
		return false;
	}
}

/* key_missing - whether libopendkim's error says there is no usable key
   record (RFC 6376 6.1.2: PERMFAIL), as against one DNS did not give */
static bool key_missing(int error)
{
	switch (error) {
	case DKIM_SIGERROR_NOKEY: case DKIM_SIGERROR_DNSSYNTAX: case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_KEYVERSION: case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH: case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING: case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
		return true;
	default:
		return false;
	}
}

/* name_field - a signature's names as its field gives them */
static void name_field(const struct sig_field *f, struct dkim_outcome *o)
{
	snprintf(o->domain, sizeof(o->domain), "%s", f->domain);
	snprintf(o->selector, sizeof(o->selector), "%s", f->selector);
	snprintf(o->algorithm, sizeof(o->algorithm), "%s", f->algorithm[0] ? f->algorithm : "unknown");
	snprintf(o->b, sizeof(o->b), "%s", f->b);
}

/* judge - one signature's result by libopendkim and our rules; f is
   what its field says (NULL when past the bound) */
static void judge(DKIM *dkim, DKIM_SIGINFO *sig, const struct sig_field *f, struct dkim_outcome *o)
{
	unsigned int flags = dkim_sig_getflags(sig);
	int error = dkim_sig_geterror(sig);
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	unsigned int bits = 0;
	ssize_t msglen = -1, canonlen = -1, signlen = -1;
	char b[256];
	size_t blen = sizeof(b);

	snprintf(o->domain, sizeof(o->domain), "%s", dkim_sig_getdomain(sig) ?
		 (const char *)dkim_sig_getdomain(sig) : "");
	snprintf(o->selector, sizeof(o->selector), "%s", dkim_sig_getselector(sig) ?
		 (const char *)dkim_sig_getselector(sig) : "");
	/* libopendkim leaves an a= it does not know as 0, which is rsa-sha1:
	   the name is the field's own */
	dkim_sig_getsignalg(sig, &alg);
	if (error == DKIM_SIGERROR_INVALID_A || error == DKIM_SIGERROR_MISSING_A)
		alg = DKIM_SIGN_UNKNOWN;
	snprintf(o->algorithm, sizeof(o->algorithm), "%s",
		 alg == DKIM_SIGN_RSASHA1 ? "rsa-sha1" : alg == DKIM_SIGN_RSASHA256 ? "rsa-sha256" :
		 alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256" :
		 f != NULL && f->algorithm[0] != '\0' ? f->algorithm : "unknown");
	if (dkim_get_sigsubstring(dkim, sig, b, &blen) == DKIM_STAT_OK)
		snprintf(o->b, sizeof(o->b), "%.*s", AUTHCHECK_B_SHOWN, b);
	else if (f != NULL)
		snprintf(o->b, sizeof(o->b), "%s", f->b);
	if (sig_syntax_error(error)) {
		o->result = AUTH_NEUTRAL;
		if (error == DKIM_SIGERROR_INVALID_A)
			snprintf(o->reason, sizeof(o->reason), "unknown algorithm %s", o->algorithm);
		else
			snprintf(o->reason, sizeof(o->reason), "signature syntax error: %s",
				 dkim_sig_geterrorstr(error));
		return;
	}
	if (alg == DKIM_SIGN_RSASHA1) {
		o->result = AUTH_FAIL;
		snprintf(o->reason, sizeof(o->reason), "rsa-sha1 is not accepted (RFC 8301)");
		return;
	}
	if (error == DKIM_SIGERROR_KEYFAIL) {
		o->result = AUTH_TEMPERROR;
		snprintf(o->reason, sizeof(o->reason), "key lookup failed: DNS timed out or failed");
		return;
	}
	if (key_missing(error)) {
		o->result = AUTH_PERMERROR;
		snprintf(o->reason, sizeof(o->reason), "%s", error == DKIM_SIGERROR_NOKEY ?
			 "no key for signature" : dkim_sig_geterrorstr(error));
		return;
	}
	if ((flags & DKIM_SIGFLAG_PROCESSED) == 0 || (flags & DKIM_SIGFLAG_IGNORE) != 0) {
		o->result = error == DKIM_SIGERROR_OK ? AUTH_NEUTRAL : AUTH_PERMERROR;
		snprintf(o->reason, sizeof(o->reason), "%s", error == DKIM_SIGERROR_OK ?
			 "not checked" : dkim_sig_geterrorstr(error));
		return;
	}
	if (alg == DKIM_SIGN_RSASHA256 && dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits < 1024) {
		o->result = AUTH_FAIL;
		snprintf(o->reason, sizeof(o->reason), "%u-bit key (1024 at least, RFC 8301)", bits);
		return;
	}
	if (!DKIM_SIG_CHECK(sig)) {
		o->result = AUTH_FAIL;
		snprintf(o->reason, sizeof(o->reason), "%s", error != DKIM_SIGERROR_OK ?
			 dkim_sig_geterrorstr(error) : dkim_sig_getbh(sig) != DKIM_SIGBH_MATCH ?
			 "body hash did not verify" : "signature did not verify");
		return;
	}
	dkim_sig_getcanonlen(dkim, sig, &msglen, &canonlen, &signlen);
	if (signlen >= 0 && msglen > signlen) {
		o->result = AUTH_POLICY;
		snprintf(o->reason, sizeof(o->reason), "l=%zd leaves %zd body bytes unsigned",
			 signlen, msglen - signlen);
		return;
	}
	o->result = AUTH_PASS;
}

/* judge_refused - a field libopendkim refused, or could not judge */
static void judge_refused(const struct sig_field *f, enum auth_result result, const char *reason,
			  struct dkim_outcome *o)
{
	name_field(f, o);
	o->result = result;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

void authcheck_dkim(struct authcheck *check, struct auth_outcome *out)
{
	DKIM_SIGINFO **sigs = NULL;
	int count = 0, next = 0;
	size_t accepted = 0;

	out->dkim_count = 0;
	if (check->failed) {
		out->dkim[0].result = AUTH_PERMERROR;
		snprintf(out->dkim[0].reason, sizeof(out->dkim[0].reason), "%s", check->failure);
		out->dkim_count = 1;
		return;
	}
	if (!check->saw_from) {
		/* RFC 6376 5.4: From is always signed; without one nothing is
		   verified and DMARC has no domain to align with */
		for (size_t i = 0; i < check->field_count; i++)
			judge_refused(&check->fields[i], AUTH_PERMERROR, "the message has no From field",
				      &out->dkim[out->dkim_count++]);
		return;
	}
	for (size_t i = 0; i < check->field_count; i++)
		accepted += !check->fields[i].refused;
	if (!check->no_signature) {
		dkim_eom(check->dkim, NULL);
		if (dkim_getsiglist(check->dkim, &sigs, &count) != DKIM_STAT_OK)
			count = 0;
	}
	/* libopendkim's list is the fields it took, in their order; past our
	   bound of fields it has more */
	if ((size_t)count < accepted) {
		for (size_t i = 0; i < check->field_count; i++)
			judge_refused(&check->fields[i], check->fields[i].refused ? AUTH_NEUTRAL : AUTH_PERMERROR,
				      check->fields[i].refused ? check->fields[i].reason :
				      "libopendkim could not check it", &out->dkim[out->dkim_count++]);
		return;
	}
	for (size_t i = 0; i < check->field_count; i++) {
		struct dkim_outcome *o = &out->dkim[out->dkim_count++];
		if (check->fields[i].refused)
			judge_refused(&check->fields[i], AUTH_NEUTRAL, check->fields[i].reason, o);
		else
			judge(check->dkim, sigs[next++], &check->fields[i], o);
	}
}

void authcheck_free(struct authcheck **checkp)
{
	struct authcheck *check = *checkp;

	if (check == NULL)
		return;
	dkim_free(check->dkim);
	return_dkim_lib(check->lender);
	free(check);
	*checkp = NULL;
}

static enum auth_result spf_result(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS: return AUTH_PASS;
	case SPF_RESULT_FAIL: return AUTH_FAIL;
	case SPF_RESULT_SOFTFAIL: return AUTH_SOFTFAIL;
	case SPF_RESULT_NEUTRAL: return AUTH_NEUTRAL;
	case SPF_RESULT_NONE: return AUTH_NONE;
	case SPF_RESULT_TEMPERROR: return AUTH_TEMPERROR;
	default: return AUTH_PERMERROR;
	}
}

void authcheck_spf(const char *client_ip, const char *helo, const char *mail_from,
		   struct auth_outcome *out)
{
	SPF_server_t *server = thread_spf_server();
	SPF_request_t *request = server != NULL ? SPF_request_new(server) : NULL;
	SPF_response_t *response = NULL;
	const char *at = strrchr(mail_from, '@');

	out->spf = AUTH_TEMPERROR;
	out->spf_from_helo = mail_from[0] == '\0' || at == NULL;
	snprintf(out->spf_domain, sizeof(out->spf_domain), "%s", out->spf_from_helo ? helo : at + 1);
	if (request == NULL)
		goto out;
	bool ip_ok = strchr(client_ip, ':') != NULL ?
		SPF_request_set_ipv6_str(request, client_ip) == SPF_E_SUCCESS :
		SPF_request_set_ipv4_str(request, client_ip) == SPF_E_SUCCESS;
	if (!ip_ok) {
		out->spf = AUTH_NONE;
		goto out;
	}
	SPF_request_set_helo_dom(request, helo[0] != '\0' ? helo : "unknown");
	if (!out->spf_from_helo)
		SPF_request_set_env_from(request, mail_from);
	SPF_request_query_mailfrom(request, &response);
	if (response != NULL)
		out->spf = spf_result(SPF_response_result(response));
out:
	if (response != NULL)
		SPF_response_free(response);
	if (request != NULL)
		SPF_request_free(request);
}

/* dkim_aligned - whether a signature with this result has a d= that is
   domain or a parent of it */
static bool dkim_aligned(const struct auth_outcome *out, const char *domain, enum auth_result result)
{
	size_t len = strlen(domain);

	for (size_t i = 0; i < out->dkim_count; i++) {
		const struct dkim_outcome *o = &out->dkim[i];
		size_t dlen = strlen(o->domain);
		if (o->result != result || dlen == 0)
			continue;
		if (strcasecmp(o->domain, domain) == 0 ||
		    (len > dlen && domain[len - dlen - 1] == '.' && strcasecmp(domain + len - dlen, o->domain) == 0))
			return true;
	}
	return false;
}

bool authcheck_dkim_aligned(const struct auth_outcome *out, const char *domain)
{
	return dkim_aligned(out, domain, AUTH_PASS);
}

bool authcheck_dkim_pending(const struct auth_outcome *out, const char *domain)
{
	return dkim_aligned(out, domain, AUTH_TEMPERROR);
}

static int dmarc_dkim_outcome(enum auth_result r)
{
	return r == AUTH_PASS ? DMARC_POLICY_DKIM_OUTCOME_PASS :
		r == AUTH_TEMPERROR ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL :
		r == AUTH_NONE ? DMARC_POLICY_DKIM_OUTCOME_NONE : DMARC_POLICY_DKIM_OUTCOME_FAIL;
}

static int dmarc_spf_outcome(enum auth_result r)
{
	return r == AUTH_PASS ? DMARC_POLICY_SPF_OUTCOME_PASS :
		r == AUTH_TEMPERROR ? DMARC_POLICY_SPF_OUTCOME_TMPFAIL :
		r == AUTH_NONE ? DMARC_POLICY_SPF_OUTCOME_NONE : DMARC_POLICY_SPF_OUTCOME_FAIL;
}

void authcheck_dmarc(const char *client_ip, const char *from_domain, struct auth_outcome *out)
{
	bool v6 = strchr(client_ip, ':') != NULL;
	DMARC_POLICY_T *policy = opendmarc_policy_connect_init((u_char *)client_ip, v6 ? 6 : 4);
	int p = 0;

	out->dmarc = AUTH_NONE;
	out->dmarc_policy = 0;
	out->dmarc_dkim_pending = false;
	snprintf(out->from_domain, sizeof(out->from_domain), "%s", from_domain);
	if (policy == NULL) {
		out->dmarc = AUTH_TEMPERROR;
		return;
	}
	opendmarc_policy_store_from_domain(policy, (u_char *)from_domain);
	/* passes last: libopendmarc keeps one DKIM result, and a non-pass of
	   an aligned domain stored after a pass of its parent drops the pass */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < out->dkim_count; i++) {
			if (out->dkim[i].domain[0] != '\0' && (out->dkim[i].result == AUTH_PASS) == pass)
				opendmarc_policy_store_dkim(policy, (u_char *)out->dkim[i].domain,
							    (u_char *)out->dkim[i].selector,
							    dmarc_dkim_outcome(out->dkim[i].result), NULL);
		}
	}
	if (out->spf_domain[0] != '\0')
		opendmarc_policy_store_spf(policy, (u_char *)out->spf_domain, dmarc_spf_outcome(out->spf),
					   out->spf_from_helo ? DMARC_POLICY_SPF_ORIGIN_HELO :
					   DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
	OPENDMARC_STATUS_T status = opendmarc_policy_query_dmarc(policy, (u_char *)from_domain);
	if (status == DMARC_DNS_ERROR_TMPERR) {
		out->dmarc = AUTH_TEMPERROR;
	} else if (status == DMARC_PARSE_OKAY) {
		OPENDMARC_STATUS_T enforce = opendmarc_get_policy_to_enforce(policy);
		switch (enforce) {
		case DMARC_POLICY_PASS:
			out->dmarc = AUTH_PASS;
			break;
		case DMARC_POLICY_REJECT: case DMARC_POLICY_QUARANTINE: case DMARC_POLICY_NONE:
			out->dmarc = AUTH_FAIL;
			break;
		default:
			out->dmarc = AUTH_NONE;
		}
		if (opendmarc_policy_fetch_p(policy, &p) == DMARC_PARSE_OKAY)
			out->dmarc_policy = (char)p;
		/* for a subdomain, sp= decides: what libopendmarc enforces */
		if (enforce == DMARC_POLICY_REJECT)
			out->dmarc_policy = DMARC_RECORD_P_REJECT;
		else if (enforce == DMARC_POLICY_QUARANTINE)
			out->dmarc_policy = DMARC_RECORD_P_QUARANTINE;
		/* a failure waits for DNS only if a key DNS did not give belongs
		   to a signature aligned under the record's adkim: its pass
		   would pass DMARC; any other could not change the result */
		int adkim = DMARC_RECORD_A_UNSPECIFIED;
		opendmarc_policy_fetch_adkim(policy, &adkim);
		for (size_t i = 0; out->dmarc == AUTH_FAIL && i < out->dkim_count; i++) {
			if (out->dkim[i].result == AUTH_TEMPERROR && out->dkim[i].domain[0] != '\0' &&
			    opendmarc_policy_check_alignment((u_char *)from_domain, (u_char *)out->dkim[i].domain,
							     adkim) == 0)
				out->dmarc_dkim_pending = true;
		}
	} else if (status != DMARC_DNS_ERROR_NO_RECORD && status != DMARC_DNS_ERROR_NXDOMAIN) {
		out->dmarc = AUTH_PERMERROR;
	}
	opendmarc_policy_connect_shutdown(policy);
}
