/* authcheck.c - who sent an inbound message, by SPF (libspf2), DKIM
 * (libopendkim) and DMARC (libopendmarc), as RFC 8601 results for the
 * Authentication-Results field and the milter's policies.
 *
 * Beyond what the libraries decide, mailbag's own rules:
 *	- rsa-sha1 signatures and RSA keys under 1024 bits fail (RFC 8301);
 *	- a signature whose l= leaves part of the body unsigned is "policy",
 *	  never "pass": what was added past l= is not trusted;
 *	- a key that DNS could not give in time is "temperror", not "fail".
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
#include <netinet/in.h>
#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>
#include <pthread.h>
#include <spf2/spf.h>
#include <stdarg.h>
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

struct authcheck {
	struct dkim_lender *lender; /* the handle dkim was made with: this message's alone */
	DKIM *dkim;
	bool no_signature;  /* libopendkim found none at the end of the header */
	bool failed;        /* libopendkim refused the message's shape */
	char failure[128];
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

void authcheck_header(struct authcheck *check, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);
	/* at worst every byte of the value a bare LF that becomes CRLF */
	char *field = check->failed ? NULL : malloc(name_len + 2 * value_len + 2);
	size_t n = 0;

	if (field == NULL)
		return;
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
	if (dkim_header(check->dkim, (unsigned char *)field, n) != DKIM_STAT_OK) {
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

/* judge - one signature's result by libopendkim and our rules */
static void judge(DKIM *dkim, DKIM_SIGINFO *sig, struct dkim_outcome *o)
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
	dkim_sig_getsignalg(sig, &alg);
	snprintf(o->algorithm, sizeof(o->algorithm), "%s",
		 alg == DKIM_SIGN_RSASHA1 ? "rsa-sha1" : alg == DKIM_SIGN_RSASHA256 ? "rsa-sha256" :
		 alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256" : "unknown");
	if (dkim_get_sigsubstring(dkim, sig, b, &blen) == DKIM_STAT_OK)
		snprintf(o->b, sizeof(o->b), "%.8s", b);
	if (alg == DKIM_SIGN_RSASHA1) {
		o->result = AUTH_FAIL;
		snprintf(o->reason, sizeof(o->reason), "rsa-sha1 is not accepted (RFC 8301)");
		return;
	}
	if (error == DKIM_SIGERROR_KEYFAIL) {
		o->result = AUTH_TEMPERROR;
		snprintf(o->reason, sizeof(o->reason), "key lookup failed or timed out");
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
		bool permanent = error == DKIM_SIGERROR_NOKEY || error == DKIM_SIGERROR_DNSSYNTAX ||
			error == DKIM_SIGERROR_VERSION;
		o->result = permanent ? AUTH_PERMERROR : AUTH_FAIL;
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

void authcheck_dkim(struct authcheck *check, struct auth_outcome *out)
{
	DKIM_SIGINFO **sigs = NULL;
	int count = 0;

	out->dkim_count = 0;
	if (check->failed) {
		out->dkim[0].result = AUTH_PERMERROR;
		snprintf(out->dkim[0].reason, sizeof(out->dkim[0].reason), "%s", check->failure);
		out->dkim_count = 1;
		return;
	}
	if (check->no_signature)
		return;
	dkim_eom(check->dkim, NULL);
	if (dkim_getsiglist(check->dkim, &sigs, &count) != DKIM_STAT_OK)
		return;
	for (int i = 0; i < count && out->dkim_count < AUTHCHECK_MAX_SIGNATURES; i++)
		judge(check->dkim, sigs[i], &out->dkim[out->dkim_count++]);
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

bool authcheck_dkim_aligned(const struct auth_outcome *out, const char *domain)
{
	size_t len = strlen(domain);

	for (size_t i = 0; i < out->dkim_count; i++) {
		const struct dkim_outcome *o = &out->dkim[i];
		size_t dlen = strlen(o->domain);
		if (o->result != AUTH_PASS || dlen == 0)
			continue;
		if (strcasecmp(o->domain, domain) == 0 ||
		    (len > dlen && domain[len - dlen - 1] == '.' && strcasecmp(domain + len - dlen, o->domain) == 0))
			return true;
	}
	return false;
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
	snprintf(out->from_domain, sizeof(out->from_domain), "%s", from_domain);
	if (policy == NULL) {
		out->dmarc = AUTH_TEMPERROR;
		return;
	}
	opendmarc_policy_store_from_domain(policy, (u_char *)from_domain);
	for (size_t i = 0; i < out->dkim_count; i++) {
		if (out->dkim[i].domain[0] != '\0')
			opendmarc_policy_store_dkim(policy, (u_char *)out->dkim[i].domain,
						    (u_char *)out->dkim[i].selector,
						    dmarc_dkim_outcome(out->dkim[i].result), NULL);
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
	} else if (status != DMARC_DNS_ERROR_NO_RECORD && status != DMARC_DNS_ERROR_NXDOMAIN) {
		out->dmarc = AUTH_PERMERROR;
	}
	opendmarc_policy_connect_shutdown(policy);
}

const char *auth_result_name(enum auth_result result)
{
	static const char *const names[] = {
		"none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror",
	};
	return names[result];
}

/* append - printf onto buf at *used; false when it no longer fits */
static bool append(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= size - *used)
		return false;
	*used += (size_t)n;
	return true;
}

int authcheck_format(const struct auth_outcome *out, const char *authserv_id, char *buf, size_t size)
{
	size_t used = 0;
	bool ok = append(buf, size, &used, " %s;\n\tspf=%s smtp.%s=%s", authserv_id,
			 auth_result_name(out->spf), out->spf_from_helo ? "helo" : "mailfrom",
			 out->spf_domain[0] != '\0' ? out->spf_domain : "unknown");
	if (out->dkim_count == 0)
		ok = ok && append(buf, size, &used, ";\n\tdkim=none");
	for (size_t i = 0; ok && i < out->dkim_count; i++) {
		const struct dkim_outcome *o = &out->dkim[i];
		ok = append(buf, size, &used, ";\n\tdkim=%s", auth_result_name(o->result));
		if (ok && o->reason[0] != '\0')
			ok = append(buf, size, &used, " (%s)", o->reason);
		if (ok && o->domain[0] != '\0')
			ok = append(buf, size, &used, " header.d=%s header.s=%s header.a=%s header.b=%s",
				    o->domain, o->selector[0] ? o->selector : "none", o->algorithm,
				    o->b[0] ? o->b : "none");
	}
	if (ok && out->from_domain[0] != '\0')
		ok = append(buf, size, &used, ";\n\tdmarc=%s", auth_result_name(out->dmarc)) &&
			(out->dmarc_policy == 0 || append(buf, size, &used, " (p=%s)",
				out->dmarc_policy == 'r' ? "reject" : out->dmarc_policy == 'q' ?
				"quarantine" : "none")) &&
			append(buf, size, &used, " header.from=%s", out->from_domain);
	return ok ? (int)used : -1;
}
