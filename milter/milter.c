/* milter.c - mailbag-milter's work on each message, called by libmilter
 * (a connection's callbacks one at a time, but not always on the same
 * thread: Debian's libmilter hands them to a pool of workers).
 *
 * Outbound mail (an authenticated client, one in milter.trusted_networks
 * or a relay network of the store, `mailbag relay network`, or mail this
 * host injected with sendmail: host-submission.c):
 *	- the From field must name the login or an address the store lets
 *	  that login send as (Postfix checks only the envelope): else 550 5.7.1;
 *	- the submitter's Received, X-Originating-IP, X-Mailer and User-Agent
 *	  fields are removed (milter.strip_submitter_headers);
 *	- it is signed with every current key of the From domain (or the
 *	  nearest parent domain that has keys), RSA and Ed25519.
 * Inbound mail: SPF, DKIM and DMARC (authcheck.c) give one
 * Authentication-Results field; the policies then refuse what
 * milter.require_dkim, milter.dkim_required and DMARC p=reject
 * (milter.dmarc_reject_action) say to. A DNS failure that decides a
 * refusal answers 451 instead.
 * Both ways: more than one From field is refused (RFC 5322 3.6), and every
 * Authentication-Results field claiming to be ours is removed.
 * Encryption-only mode (milter.encryption_only_domains, the chatmail seed's
 * filtermail): mail sent from such a domain, and mail to one, must be one
 * PGP/MIME encrypted message whose OpenPGP packets are encrypted data
 * (pgpmime.c, openpgp.c); otherwise 550 5.7.1 says why. In the clear pass
 * only: an Autocrypt Setup Message from an address to itself, with the
 * setup message's structure; a Secure-Join request whose body is just its
 * Secure-Join line; an inbound bounce (null reverse path,
 * multipart/report); mail from milter.encryption_passthrough_senders or to
 * milter.encryption_passthrough_recipients only (milter.encryption_passthrough:
 * both).
 */
#include "milter.h"
#include "authcheck.h"
#include "pgpmime.h"
#include "canon.h"
#include "daemon.h"
#include "headers.h"
#include "host-submission.h"
#include "log.h"
#include "sender.h"
#include "signer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static struct milter_shared *shared;

/* the store, for the From check: one handle, one lookup at a time */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mb_store *store;
static time_t store_last_attempt;
static char store_error[512];

/* the text of one SMTP reply (RFC 5321 4.5.3.1.5: a reply line is at
   most 512 octets); refuse() cuts what is longer */
#define REPLY_TEXT_SIZE 512
/* Postfix's queue ids, short or long, are shorter */
#define QUEUE_ID_MAX 31

/* Fields a submitting client's software adds about itself. */
static const char *const submitter_fields[] = {
	"Received", "X-Originating-IP", "X-Mailer", "User-Agent", NULL,
};

struct message {
	char queue_id[QUEUE_ID_MAX + 1];
	char mail_from[MB_ADDRESS_MAX + 1];
	char login[MB_ADDRESS_MAX + 1];
	bool outbound;
	bool too_large;           /* header past HEADERS_MAX_* */
	struct header_list headers;
	struct canon_body body;
	bool hashing;
	struct authcheck *check;
	/* encryption-only mode */
	char encrypted_domain[MB_DOMAIN_MAX + 1]; /* a recipient's OpenPGP-only domain */
	bool all_rcpts_passthrough;
	bool all_rcpts_sender;    /* every recipient is the envelope sender */
	size_t rcpt_count;
	bool checking_encryption;
	struct pgpmime pgp;
	bool checking_cleartext;  /* an Autocrypt Setup Message or Secure-Join request too */
	struct pgpmime cleartext;
};

struct connection {
	char client_ip[INET6_ADDRSTRLEN];
	char helo[MB_DOMAIN_MAX + 1]; /* a name or an address literal */
	bool trusted;
	bool host;                /* mail from this host's sendmail (non_smtpd_milters) */
	unsigned long protocol;   /* SMFIP_* agreed on */
	struct message msg;
};

static void message_reset(struct message *m)
{
	headers_clear(&m->headers);
	if (m->hashing)
		canon_body_free(&m->body);
	authcheck_free(&m->check);
	memset(m, 0, sizeof(*m));
}

static struct connection *conn_of(SMFICTX *ctx) { return smfi_getpriv(ctx); }

/* reply_text - outside text made safe for an SMTP reply line */
static void reply_safe(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < size; in++)
		out[n++] = (*in < 0x20 || *in == 0x7f || *in == '%') ? '?' : *in;
	out[n] = '\0';
}

static sfsistat refuse(SMFICTX *ctx, const char *code, const char *status, const char *text)
{
	char safe[REPLY_TEXT_SIZE];

	reply_safe(text, safe, sizeof(safe));
	smfi_setreply(ctx, (char *)code, (char *)status, safe);
	mb_info("%s: %s %s %s", conn_of(ctx)->msg.queue_id[0] ? conn_of(ctx)->msg.queue_id : "NOQUEUE",
		code, status, safe);
	return code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

static sfsistat no_reply(SMFICTX *ctx, unsigned long flag)
{
	return (conn_of(ctx)->protocol & flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	struct connection *c = calloc(1, sizeof(*c));
	/* Unanswered packets only where Postfix's cleanup writes them in one
	   go (header, end of header, body) before the end of message, which
	   is answered: a packet written alone and left unanswered holds the
	   next one back (Nagle) until a delayed ACK, 40 ms over TCP. */
	unsigned long wanted = SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY |
		SMFIP_NOUNKNOWN;

	(void)f2; (void)f3;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if ((f1 & SMFIP_HDR_LEADSPC) == 0) {
		free(c);
		mb_error("the MTA cannot send header values with their leading space (SMFIP_HDR_LEADSPC); "
			 "use Postfix 2.6 or later");
		return SMFIS_REJECT;
	}
	c->protocol = f1 & wanted;
	smfi_setpriv(ctx, c);
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
	*pf1 = c->protocol;
	*pf2 = 0;
	*pf3 = 0;
	if ((f0 & SMFIF_SETSYMLIST) != 0) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
	}
	return SMFIS_CONTINUE;
}

static void address_text(const struct sockaddr *sa, char *out, size_t size)
{
	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)size);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)size);
	}
}

/* in_relay_network - whether the client is in a relay network of the
   store (`mailbag relay network`): Postfix lets it relay without a
   login, so its mail is outbound here too. A store failure is "no"
   (logged): Postfix's own relay check fails the same way. */
static bool in_relay_network(const char *client_ip)
{
	char error[512];
	int ret;

	pthread_mutex_lock(&store_lock);
	struct mb_store *s = mb_daemon_store(shared->ctx->store, &store, &store_last_attempt,
					     store_error, sizeof(store_error));
	ret = s == NULL ? -1 : mb_store_relay_from(s, client_ip, error, sizeof(error));
	if (ret < 0)
		mb_error("relay network check of %s: store: %s", client_ip, s == NULL ? store_error : error);
	pthread_mutex_unlock(&store_lock);
	return ret > 0;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct connection *c = conn_of(ctx);

	if (c == NULL) {
		/* an MTA that skipped option negotiation: it cannot give
		   header values with their leading space, so refuse here */
		mb_error("the MTA did not negotiate milter options (milter_protocol = 6 is needed)");
		return SMFIS_TEMPFAIL;
	}
	address_text(hostaddr, c->client_ip, sizeof(c->client_ip));
	c->trusted = false;
	/* at CONNECT, {daemon_name} is the process's that makes the
	   connection: an smtpd's, or cleanup's for sendmail's mail */
	c->host = host_submission(smfi_getsymval(ctx, "{daemon_name}"), hostname, hostaddr);
	for (size_t i = 0; c->client_ip[0] != '\0' && i < shared->ctx->milter.trusted_networks.count; i++)
		c->trusted = c->trusted || mb_network_contains(&shared->ctx->milter.trusted_networks.items[i], c->client_ip);
	if (!c->trusted && c->client_ip[0] != '\0')
		c->trusted = in_relay_network(c->client_ip);
	return no_reply(ctx, SMFIP_NR_CONN);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	snprintf(conn_of(ctx)->helo, sizeof(conn_of(ctx)->helo), "%s", helo != NULL ? helo : "");
	return no_reply(ctx, SMFIP_NR_HELO);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct connection *c = conn_of(ctx);
	struct message *m = &c->msg;
	const char *id = smfi_getsymval(ctx, "i");
	const char *login = smfi_getsymval(ctx, "{auth_authen}");
	const char *from = argv[0] != NULL ? argv[0] : "";
	size_t len = strlen(from);

	message_reset(m);
	snprintf(m->queue_id, sizeof(m->queue_id), "%s", id != NULL ? id : "");
	if (from[0] == '<' && len >= 2 && from[len - 1] == '>')
		snprintf(m->mail_from, sizeof(m->mail_from), "%.*s", (int)(len - 2), from + 1);
	else
		snprintf(m->mail_from, sizeof(m->mail_from), "%s", from);
	snprintf(m->login, sizeof(m->login), "%s", login != NULL ? login : "");
	m->outbound = m->login[0] != '\0' || c->trusted || c->host;
	if (!m->outbound && shared->ctx->milter.verify)
		m->check = authcheck_begin(m->queue_id[0] ? m->queue_id : "NOQUEUE");
	m->all_rcpts_passthrough = true;
	m->all_rcpts_sender = true;
	return SMFIS_CONTINUE;
}


static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct message *m = &conn_of(ctx)->msg;
	char rcpt[MB_ADDRESS_MAX + 1];
	const char *arg = argv[0] != NULL ? argv[0] : "";
	size_t len = strlen(arg);

	if (arg[0] == '<' && len >= 2 && arg[len - 1] == '>')
		snprintf(rcpt, sizeof(rcpt), "%.*s", (int)(len - 2), arg + 1);
	else
		snprintf(rcpt, sizeof(rcpt), "%s", arg);
	m->rcpt_count++;
	if (!mb_address_list_contains(&shared->ctx->milter.encryption_passthrough, rcpt) &&
	    !mb_address_list_contains(&shared->ctx->milter.encryption_passthrough_recipients, rcpt))
		m->all_rcpts_passthrough = false;
	if (strcasecmp(rcpt, m->mail_from) != 0)
		m->all_rcpts_sender = false;
	if (m->encrypted_domain[0] == '\0' &&
	    mb_domain_patterns_match(&shared->ctx->milter.encryption_only_domains, headers_address_domain(rcpt)))
		snprintf(m->encrypted_domain, sizeof(m->encrypted_domain), "%s", headers_address_domain(rcpt));
	return no_reply(ctx, SMFIP_NR_RCPT);
}

/* on_data - nothing to decide, but it is answered: Postfix sends the
   DATA stage's macros even for a skipped DATA event, and a packet
   nobody answers leaves the next one (the header, written by Postfix's
   cleanup on the same socket) waiting for a delayed ACK: 40 ms over TCP */
static sfsistat on_data(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct message *m = &conn_of(ctx)->msg;

	if (!m->too_large && headers_add(&m->headers, name, value) < 0)
		m->too_large = true;
	if (m->check != NULL && !m->too_large)
		authcheck_header(m->check, name, value);
	return no_reply(ctx, SMFIP_NR_HDR);
}

/* exempt_from_encryption - the passthrough lists: mail from these
   senders, or to only these recipients, need not be encrypted */
static bool exempt_from_encryption(const struct message *m)
{
	if (m->mail_from[0] != '\0' &&
	    (mb_address_list_contains(&shared->ctx->milter.encryption_passthrough, m->mail_from) ||
	     mb_address_list_contains(&shared->ctx->milter.encryption_passthrough_senders, m->mail_from)))
		return true;
	return m->rcpt_count > 0 && m->all_rcpts_passthrough;
}

/* is_bounce - a delivery status notification (RFC 3464) from outside: a
   null reverse path and a multipart/report; report-type=delivery-status
   body. Never from an authenticated or trusted client. */
static bool is_bounce(const struct message *m, const char *type)
{
	char report[32];

	return !m->outbound && m->mail_from[0] == '\0' && pgpmime_is_type(type, "multipart/report") &&
		pgpmime_parameter(type, "report-type", report, sizeof(report)) &&
		strcasecmp(report, "delivery-status") == 0;
}

/* sender_domain - the envelope sender's domain; for a null reverse path
   from a submitter, the login's */
static const char *sender_domain(const struct message *m)
{
	if (m->mail_from[0] == '\0' && m->login[0] != '\0')
		return headers_address_domain(m->login);
	return headers_address_domain(m->mail_from);
}

static bool sender_encryption_only(const struct message *m)
{
	return m->outbound && mb_domain_patterns_match(&shared->ctx->milter.encryption_only_domains, sender_domain(m));
}

/* encryption_applies - the message must be encrypted: it leaves from an
   encryption-only domain, or is for one */
static bool encryption_applies(const struct message *m)
{
	if (shared->ctx->milter.encryption_only_domains.count == 0 || exempt_from_encryption(m))
		return false;
	return sender_encryption_only(m) || m->encrypted_domain[0] != '\0';
}

/* field_word - the first word of a field's value, "" when absent */
static void field_word(const struct message *m, const char *name, char *out, size_t size)
{
	const struct header *h = headers_nth(&m->headers, name, 1);
	size_t n = 0;
	const char *v = h != NULL ? h->value : "";

	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	for (; *v != '\0' && *v != ' ' && *v != '\t' && *v != '\r' && *v != '\n' && *v != ';' && n + 1 < size; v++)
		out[n++] = *v;
	out[n] = '\0';
}

static void begin_encryption_check(struct message *m)
{
	const struct header *type = headers_nth(&m->headers, "Content-Type", 1);
	const char *value = type != NULL ? type->value : "text/plain";
	char setup[16], join[16];

	if (is_bounce(m, value))
		return;
	m->checking_encryption = true;
	pgpmime_begin(&m->pgp, value);
	field_word(m, "Autocrypt-Setup-Message", setup, sizeof(setup));
	field_word(m, "Secure-Join", join, sizeof(join));
	if (strcasecmp(setup, "v1") == 0) {
		m->checking_cleartext = true;
		pgpmime_begin_kind(&m->cleartext, PGPMIME_SETUP, value, NULL);
	} else if (strcasecmp(join, "vc-request") == 0 || strcasecmp(join, "vg-request") == 0) {
		m->checking_cleartext = true;
		pgpmime_begin_kind(&m->cleartext, PGPMIME_SECUREJOIN, value, join);
	}
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	struct message *m = &conn_of(ctx)->msg;

	if (m->check != NULL)
		authcheck_end_of_header(m->check);
	if (m->outbound && shared->ctx->milter.sign && !m->too_large)
		m->hashing = canon_body_init(&m->body) == 0;
	if (encryption_applies(m))
		begin_encryption_check(m);
	return no_reply(ctx, SMFIP_NR_EOH);
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct message *m = &conn_of(ctx)->msg;

	if (m->hashing)
		canon_body_update(&m->body, chunk, len);
	if (m->check != NULL)
		authcheck_body(m->check, chunk, len);
	if (m->checking_encryption)
		pgpmime_body(&m->pgp, chunk, len);
	if (m->checking_cleartext)
		pgpmime_body(&m->cleartext, chunk, len);
	return no_reply(ctx, SMFIP_NR_BODY);
}

/* delete_fields - every field of this name (which ones: keep), from the
   last up, so that the indexes of the others do not move */
static void delete_fields(SMFICTX *ctx, struct message *m, const char *name,
			  bool (*keep)(const char *value))
{
	size_t count = headers_count(&m->headers, name);

	for (size_t nth = count; nth >= 1; nth--) {
		const struct header *h = headers_nth(&m->headers, name, nth);
		if (keep != NULL && keep(h->value))
			continue;
		if (smfi_chgheader(ctx, (char *)name, (int)nth, NULL) != MI_SUCCESS)
			mb_error("%s: could not remove %s field %zu", m->queue_id, name, nth);
		/* out of the list too, so that nothing signs it */
		h->name[0] = '\0';
	}
}

static bool not_ours(const char *value)
{
	return !headers_authres_claims(value, shared->ctx->hostname);
}

/* from_field - the From field's one address; 1, 0 (no usable field:
   why_r says why, for a refusal to word), or -1 with the refusal in
   why_r (several From fields) */
static int from_field(const struct message *m, char address[MB_ADDRESS_MAX + 1],
		      struct mb_error_text *why_r)
{
	char addresses[FROM_MAX_ADDRESSES][MB_ADDRESS_MAX + 1];
	size_t fields = headers_count(&m->headers, "From");
	struct mb_error_text parse_error;

	if (fields > 1) {
		return mb_set_error(why_r, "The message has %zu From: fields; RFC 5322 allows one", fields);
	}
	if (fields == 0)
		return 0;
	int n = headers_parse_mailboxes(headers_nth(&m->headers, "From", 1)->value, addresses,
					FROM_MAX_ADDRESSES, &parse_error);
	if (n < 0) {
		mb_set_error(why_r, "The From: field is not readable: %s", parse_error.text);
		return 0;
	}
	if (n != 1) {
		mb_set_error(why_r, "The From: field holds %d addresses", n);
		return 0;
	}
	memcpy(address, addresses[0], MB_ADDRESS_MAX + 1);
	return 1;
}

/* may_send_as - 1 yes, 0 no, -1 store failure */
static int may_send_as(const char *login, const char *address)
{
	char error[512];
	int ret;

	pthread_mutex_lock(&store_lock);
	struct mb_store *s = mb_daemon_store(shared->ctx->store, &store, &store_last_attempt,
					     store_error, sizeof(store_error));
	ret = s == NULL ? -1 :
		mb_login_may_send_as(s, shared->ctx->recipient_delimiter, login, address,
				     error, sizeof(error));
	if (ret < 0)
		mb_error("from check: store: %s", s == NULL ? store_error : error);
	pthread_mutex_unlock(&store_lock);
	return ret;
}

/* sign - a DKIM-Signature per current key of the From domain or its
   nearest parent that has keys */
static void sign(SMFICTX *ctx, struct message *m, const char *from_domain)
{
	struct dkim_signing_key keys[KEYS_PER_DOMAIN];
	unsigned char body_hash[SHA256_DIGEST_LENGTH];
	char error[512], value[SIGNER_VALUE_SIZE];
	int count = 0;
	time_t now = time(NULL);

	canon_body_final(&m->body, body_hash);
	m->hashing = false;
	for (const char *d = from_domain; d != NULL && count == 0; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL) {
		if (strchr(d, '.') == NULL)
			break; /* never a top-level domain */
		count = keys_for_domain(shared->keys, d, now, keys, error, sizeof(error));
		if (count < 0) {
			mb_error("%s: %s", m->queue_id, error);
			return;
		}
	}
	if (count == 0) {
		mb_debug("%s: no DKIM key for %s: not signed", m->queue_id, from_domain);
		return;
	}
	/* Ed25519 ends up above RSA: insert RSA first */
	for (int i = count - 1; i >= 0; i--) {
		if (signer_sign(&keys[i], &m->headers, body_hash, now, value, sizeof(value), error, sizeof(error)) < 0) {
			mb_error("%s: not signed with %s: %s", m->queue_id, keys[i].selector, error);
			continue;
		}
		char field[1 + SIGNER_VALUE_SIZE]; /* " " and the value */
		snprintf(field, sizeof(field), " %s", value);
		if (smfi_insheader(ctx, 0, "DKIM-Signature", field) != MI_SUCCESS)
			mb_error("%s: the MTA refused the DKIM-Signature field", m->queue_id);
	}
	mb_info("%s: signed for %s (%s%s%s)", m->queue_id, keys[0].domain, keys[0].selector,
		count > 1 ? ", " : "", count > 1 ? keys[1].selector : "");
	keys_release(keys, count);
}

static sfsistat outbound_eom(SMFICTX *ctx, struct message *m, int has_from, const char *from,
			     const char *why)
{
	char text[2 * MB_ADDRESS_MAX + 64]; /* both addresses whole; refuse() cuts the reply */

	if (m->login[0] != '\0' && shared->ctx->milter.check_header_from) {
		if (has_from != 1)
			return refuse(ctx, "550", "5.7.1", why[0] ? why : "The message has no From: field");
		int ret = may_send_as(m->login, from);
		if (ret < 0)
			return refuse(ctx, "451", "4.3.0", "Cannot check the From: address now; try again later");
		if (ret == 0) {
			snprintf(text, sizeof(text), "From: address <%.*s> is not one that login %.*s may send as",
				 MB_ADDRESS_MAX, from, MB_ADDRESS_MAX, m->login);
			return refuse(ctx, "550", "5.7.1", text);
		}
	}
	if (shared->ctx->milter.strip_submitter_headers) {
		for (size_t i = 0; submitter_fields[i] != NULL; i++)
			delete_fields(ctx, m, submitter_fields[i], NULL);
	}
	if (m->hashing && has_from == 1)
		sign(ctx, m, headers_address_domain(from));
	return SMFIS_ACCEPT;
}

/* required_signature - whether the From domain must be DKIM-signed */
static bool required_signature(const char *from_domain)
{
	return shared->ctx->milter.require_dkim ||
		(from_domain[0] != '\0' && mb_domain_patterns_match(&shared->ctx->milter.dkim_required, from_domain));
}

static sfsistat inbound_eom(SMFICTX *ctx, struct connection *c, struct message *m,
			    const char *from_domain)
{
	struct auth_outcome out;
	char value[AUTHCHECK_VALUE_SIZE], text[REPLY_TEXT_SIZE];

	memset(&out, 0, sizeof(out));
	authcheck_spf(c->client_ip, c->helo, m->mail_from, &out);
	authcheck_dkim(m->check, &out);
	if (from_domain[0] != '\0')
		authcheck_dmarc(c->client_ip, from_domain, &out);
	if (authcheck_format(&out, shared->ctx->hostname, value, sizeof(value)) < 0)
		snprintf(value, sizeof(value), " %s; none (too many results)", shared->ctx->hostname);
	if (smfi_insheader(ctx, 0, "Authentication-Results", value) != MI_SUCCESS)
		mb_error("%s: the MTA refused the Authentication-Results field", m->queue_id);
	mb_info("%s: Authentication-Results:%s", m->queue_id, value);

	if (required_signature(from_domain) &&
	    !authcheck_dkim_aligned(&out, from_domain[0] ? from_domain : "")) {
		/* only a key of the From domain that DNS did not give could
		   change this; any other failure is final */
		if (authcheck_dkim_pending(&out, from_domain))
			return refuse(ctx, "451", "4.7.5", "The DKIM key could not be looked up in DNS now; try again later");
		snprintf(text, sizeof(text), "Mail from %.*s must carry a valid DKIM signature of its domain",
			 MB_DOMAIN_MAX, from_domain[0] ? from_domain : "a message without a From: domain");
		return refuse(ctx, "550", "5.7.1", text);
	}
	if (out.dmarc == AUTH_FAIL && out.dmarc_policy == 'r') {
		switch (shared->ctx->milter.dmarc_reject_action) {
		case MB_DMARC_REJECT:
			if (out.dmarc_dkim_pending)
				return refuse(ctx, "451", "4.7.5", "DMARC could not be decided now (a DKIM key lookup failed); try again later");
			snprintf(text, sizeof(text), "The DMARC policy of %.*s says to reject this message "
				 "(SPF %s, no aligned DKIM signature)", MB_DOMAIN_MAX, from_domain, auth_result_name(out.spf));
			return refuse(ctx, "550", "5.7.1", text);
		case MB_DMARC_QUARANTINE:
			smfi_quarantine(ctx, "DMARC p=reject failed");
			break;
		default:
			break;
		}
	}
	return SMFIS_ACCEPT;
}

/* encryption_ok - the body is encrypted, or is the Autocrypt Setup
   Message or Secure-Join request it says it is */
static bool encryption_ok(struct message *m, int has_from, const char *from, const char **why_r)
{
	const char *why_cleartext;

	if (pgpmime_end(&m->pgp, why_r))
		return true;
	if (!m->checking_cleartext)
		return false;
	bool ok = pgpmime_end(&m->cleartext, &why_cleartext);
	/* Autocrypt Level 1 4.4: from the account to itself */
	if (ok && m->cleartext.kind == PGPMIME_SETUP &&
	    !(m->mail_from[0] != '\0' && m->rcpt_count > 0 && m->all_rcpts_sender &&
	      has_from == 1 && strcasecmp(from, m->mail_from) == 0)) {
		ok = false;
		why_cleartext = "an Autocrypt Setup Message passes unencrypted only from an address to itself";
	}
	*why_r = why_cleartext;
	return ok;
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct connection *c = conn_of(ctx);
	struct message *m = &c->msg;
	char from[MB_ADDRESS_MAX + 1] = "";
	struct mb_error_text why = { "" };
	sfsistat result;
	const char *id = smfi_getsymval(ctx, "i");

	if (m->queue_id[0] == '\0' && id != NULL)
		snprintf(m->queue_id, sizeof(m->queue_id), "%s", id);

	if (m->too_large) {
		result = refuse(ctx, "552", "5.3.4", "The message header is too large");
		goto done;
	}
	int has_from = from_field(m, from, &why);
	if (has_from < 0) {
		result = refuse(ctx, "550", "5.7.1", why.text);
		goto done;
	}
	const char *why_plain = NULL;
	if (m->checking_encryption && !encryption_ok(m, has_from, from, &why_plain)) {
		char text[REPLY_TEXT_SIZE];
		if (sender_encryption_only(m))
			snprintf(text, sizeof(text), "Encryption needed: %.*s sends only OpenPGP-encrypted mail, "
				 "and this message is not: %s", MB_DOMAIN_MAX, sender_domain(m), why_plain);
		else
			snprintf(text, sizeof(text), "Encryption needed: %.*s takes only OpenPGP-encrypted mail, "
				 "and this message is not: %s", MB_DOMAIN_MAX, m->encrypted_domain, why_plain);
		result = refuse(ctx, "550", "5.7.1", text);
		goto done;
	}
	/* claims of our own authserv-id come from outside: all go */
	delete_fields(ctx, m, "Authentication-Results", not_ours);
	if (m->outbound)
		result = outbound_eom(ctx, m, has_from, from, why.text);
	else if (m->check != NULL)
		result = inbound_eom(ctx, c, m, has_from == 1 ? headers_address_domain(from) : "");
	else
		result = SMFIS_ACCEPT;
done:
	message_reset(m);
	return result;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	struct connection *c = conn_of(ctx);

	if (c != NULL)
		message_reset(&c->msg);
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	struct connection *c = conn_of(ctx);

	if (c != NULL) {
		message_reset(&c->msg);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_description(struct milter_shared *s)
{
	struct smfiDesc d = {
		.xxfi_name = "mailbag-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
		.xxfi_connect = on_connect,
		.xxfi_helo = on_helo,
		.xxfi_envfrom = on_envfrom,
		.xxfi_envrcpt = on_envrcpt,
		.xxfi_data = on_data,
		.xxfi_header = on_header,
		.xxfi_eoh = on_eoh,
		.xxfi_body = on_body,
		.xxfi_eom = on_eom,
		.xxfi_abort = on_abort,
		.xxfi_close = on_close,
		.xxfi_negotiate = on_negotiate,
	};
	shared = s;
	return d;
}
