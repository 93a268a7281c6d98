/* socketmap.c - answers to Postfix socketmap lookups
 *
 * SUMMARY
 *	Postfix asks "mapname key" and gets "OK value", "NOTFOUND ", "TEMP
 *	reason" or "PERM reason" (socketmap_table(5)). The map names are the
 *	main.cf parameters they serve:
 *
 *	virtual_mailbox_domains   domain -> OK when mailboxes are hosted
 *	virtual_alias_domains     domain -> OK when it is only a domain alias
 *	                          (@a.example -> @b.example)
 *	virtual_mailbox_maps      address -> OK for an enabled user
 *	virtual_alias_maps        address -> its targets (comma separated),
 *	                          tried in this order: an alias of the
 *	                          address, then of the address without its
 *	                          "+detail"; an enabled user maps to itself
 *	                          (so a catch-all never swallows a real
 *	                          mailbox); a domain alias maps to the same
 *	                          local part at the target domain only if
 *	                          something receives it there (unknown users
 *	                          are refused at RCPT instead of bouncing);
 *	                          last, the domain's catch-all. The rule is
 *	                          mb_store_route (store.h): an alias or
 *	                          catch-all answers only its live targets,
 *	                          leaving out those on a domain served here
 *	                          that nothing receives (deleted, never made,
 *	                          an alias of only such) and disabled users;
 *	                          an alias left with none is as if it did not
 *	                          exist, so the address is refused at RCPT
 *	                          (or caught by the catch-all) instead of
 *	                          being accepted and bounced: backscatter.
 *	                          Targets elsewhere are answered as they are.
 *	                          An address at one of the host's own
 *	                          names (root@HOSTNAME) is a system alias's
 *	                          instead (system-alias-map.c).
 *	smtpd_sender_login_maps   address -> the logins that may send as it:
 *	                          the user itself, or an alias's local users
 *	relay_domains, relay_recipient_maps, transport_maps, relay_from_hosts
 *	                          backup MX and trusted networks: relay-maps.c
 *	srs_forward, srs_reverse, srs_unroute, srs_recipient_access
 *	                          the Sender Rewriting Scheme of forwarded
 *	                          mail (srs-map.c); with SRS on, an alias's
 *	                          target outside the domains served here is
 *	                          answered as its routing-only address
 *
 *	Postfix treats a socketmap as a pattern table: it asks for the full
 *	address only, never for "user@domain" without the extension or for
 *	"@domain". That resolution is therefore done here, with the
 *	context's recipient_delimiter.
 *
 * DIAGNOSTICS
 *	A lookup the store cannot answer is TEMP, never NOTFOUND: a store
 *	outage must give 4xx, not "user unknown". Aliases that need more
 *	than MB_ROUTE_MAX_LOOKUPS lookups to resolve are PERM.
 */
#include "socketmap.h"
#include "relay-maps.h"
#include "sender.h"
#include "srs-map.h"
#include "store.h"
#include "system-alias-map.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct map_name {
	const char *name;
	enum socketmap_map map;
};

static const struct map_name map_names[] = {
	{ "virtual_mailbox_domains", SOCKETMAP_MAILBOX_DOMAINS },
	{ "virtual_alias_domains", SOCKETMAP_ALIAS_DOMAINS },
	{ "virtual_mailbox_maps", SOCKETMAP_MAILBOX_MAPS },
	{ "virtual_alias_maps", SOCKETMAP_ALIAS_MAPS },
	{ "smtpd_sender_login_maps", SOCKETMAP_SENDER_LOGIN_MAPS },
	{ "relay_domains", SOCKETMAP_RELAY_DOMAINS },
	{ "relay_recipient_maps", SOCKETMAP_RELAY_RECIPIENTS },
	{ "transport_maps", SOCKETMAP_TRANSPORT },
	{ "relay_from_hosts", SOCKETMAP_RELAY_FROM_HOSTS },
	{ "srs_forward", SOCKETMAP_SRS_FORWARD },
	{ "srs_reverse", SOCKETMAP_SRS_REVERSE },
	{ "srs_unroute", SOCKETMAP_SRS_UNROUTE },
	{ "srs_recipient_access", SOCKETMAP_SRS_RECIPIENT_ACCESS },
};

int socketmap_parse_request(const char *payload, size_t len,
			    struct socketmap_request *req_r,
			    const char **error_r)
{
	const char *space = memchr(payload, ' ', len);
	size_t name_len, key_len;
	size_t i;

	if (space == NULL) {
		*error_r = "expected 'mapname key'";
		return -1;
	}
	name_len = (size_t)(space - payload);
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		if (strlen(map_names[i].name) == name_len &&
		    memcmp(map_names[i].name, payload, name_len) == 0)
			break;
	}
	if (i == sizeof(map_names) / sizeof(map_names[0])) {
		*error_r = "unknown map name";
		return -1;
	}
	req_r->map = map_names[i].map;
	key_len = len - name_len - 1;
	if (key_len == 0) {
		*error_r = "empty key";
		return -1;
	}
	if (key_len > MB_ADDRESS_MAX) {
		*error_r = "key longer than an address can be";
		return -1;
	}
	for (i = 0; i < key_len; i++) {
		unsigned char c = (unsigned char)space[1 + i];
		if (c <= 0x20 || c >= 0x7f) {
			*error_r = "key has a space, control or non-ASCII byte";
			return -1;
		}
		req_r->key[i] = (char)tolower(c);
	}
	req_r->key[key_len] = '\0';
	return 0;
}

/* The reply being built: "STATUS text", bounded. */
struct reply {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void reply_add(struct reply *r, const char *text)
{
	size_t n = strlen(text);

	if (r->len + n > r->size) {
		r->overflow = true;
		return;
	}
	memcpy(r->buf + r->len, text, n);
	r->len += n;
}

static size_t reply_status(struct reply *r, const char *status, const char *text)
{
	r->len = 0;
	r->overflow = false;
	reply_add(r, status);
	reply_add(r, text);
	return r->len;
}

static size_t store_failed(struct reply *r, const char *error)
{
	char text[300];

	snprintf(text, sizeof(text), "store lookup failed: %.250s", error);
	return reply_status(r, "TEMP ", text);
}


/* domain_alias_target - for a domain that is only an alias of another
   ("@a.example" -> "@b.example"), the target domain. 1, 0 or -1. */
static int domain_alias_target(struct mb_store *store, const char *domain,
			       char target_r[MB_DOMAIN_MAX + 1],
			       char *error, size_t size)
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;
	int ret;

	if (strlen(domain) > MB_DOMAIN_MAX)
		return 0;
	ret = mb_store_domain_exists(store, domain, error, size);
	if (ret != 0)
		return ret < 0 ? -1 : 0; /* a mailbox domain is not an alias domain */
	snprintf(source, sizeof(source), "@%s", domain);
	ret = mb_store_alias_get(store, source, &alias, error, size);
	if (ret <= 0)
		return ret;
	ret = mb_alias_domain_target(&alias, target_r);
	mb_alias_clear(&alias);
	return ret;
}

static size_t answer_targets(struct mb_store *store, struct reply *r, const struct mb_alias *alias)
{
	reply_status(r, "OK ", "");
	for (size_t i = 0; i < alias->target_count; i++) {
		char routed[MB_ADDRESS_MAX * 2];
		int ret = srs_map_route_target(store, alias->targets[i], routed, sizeof(routed));
		if (ret < 0)
			return store_failed(r, routed);
		if (i > 0)
			reply_add(r, ",");
		reply_add(r, ret > 0 ? routed : alias->targets[i]);
	}
	if (r->overflow)
		return reply_status(r, "PERM ", "alias has more targets than fit in one reply");
	return r->len;
}

/* answer_alias_maps - the route of store.h, as Postfix wants it: an
   alias's live targets; a user maps to the key itself, which ends
   Postfix's expansion and keeps "+detail" for Dovecot; a domain alias to
   the key at the target domain */
static size_t answer_alias_maps(struct mb_store *store, const char *key,
				const char *delimiters, struct reply *r)
{
	struct mb_route_result route;
	char error[512];
	size_t len;
	int ret = mb_store_route(store, delimiters, key, &route, error, sizeof(error));

	if (ret == -2)
		return reply_status(r, "PERM ", error);
	if (ret < 0)
		return store_failed(r, error);
	switch (route.route) {
	case MB_ROUTE_USER:
		return reply_status(r, "OK ", key);
	case MB_ROUTE_DOMAIN_ALIAS:
		return reply_status(r, "OK ", route.rewritten);
	case MB_ROUTE_ALIAS:
	case MB_ROUTE_CATCH_ALL:
		len = answer_targets(store, r, &route.alias);
		mb_route_clear(&route);
		return len;
	case MB_ROUTE_NONE:
	default:
		return reply_status(r, "NOTFOUND ", "");
	}
}

/* add_login - one login of answer_sender_logins's list */
static int add_login(const char *login, void *context)
{
	struct reply *r = context;

	reply_add(r, r->len > 3 ? "," : "");
	reply_add(r, login);
	return r->overflow ? 1 : 0;
}

/* answer_sender_logins - who may use key as envelope sender */
static size_t answer_sender_logins(struct mb_store *store, const char *key,
				   const char *delimiters, struct reply *r)
{
	char error[512];
	int count;

	reply_status(r, "OK ", "");
	count = mb_sender_logins_foreach(store, delimiters, key, add_login, r, error, sizeof(error));
	if (count < 0)
		return store_failed(r, error);
	if (r->overflow)
		return reply_status(r, "PERM ", "too many logins for one reply");
	return count > 0 ? r->len : reply_status(r, "NOTFOUND ", "");
}

/* answer_srs - one of srs-map.c's maps */
static size_t answer_srs(struct mb_store *store, enum socketmap_map map, const char *key, struct reply *r)
{
	static const enum srs_map srs_maps[] = {
		[SOCKETMAP_SRS_FORWARD] = SRS_MAP_FORWARD,
		[SOCKETMAP_SRS_REVERSE] = SRS_MAP_REVERSE,
		[SOCKETMAP_SRS_UNROUTE] = SRS_MAP_UNROUTE,
		[SOCKETMAP_SRS_RECIPIENT_ACCESS] = SRS_MAP_RECIPIENT_ACCESS,
	};
	char value[MB_ADDRESS_MAX * 2];
	int ret = srs_map_lookup(srs_maps[map], store, key, time(NULL), value, sizeof(value));

	if (ret < 0)
		return store_failed(r, value);
	return ret > 0 ? reply_status(r, "OK ", value) : reply_status(r, "NOTFOUND ", "");
}

size_t socketmap_answer(struct mb_store *store, const char *delimiters,
			const char *payload, size_t len, char *buf, size_t size)
{
	struct reply r = { buf, size < SOCKETMAP_MAX_REPLY ? size : SOCKETMAP_MAX_REPLY, 0, false };
	struct socketmap_request req;
	const char *parse_error;
	char error[512];
	int ret;

	if (socketmap_parse_request(payload, len, &req, &parse_error) < 0)
		return reply_status(&r, "PERM ", parse_error);

	switch (req.map) {
	case SOCKETMAP_MAILBOX_DOMAINS:
		ret = mb_store_domain_exists(store, req.key, error, sizeof(error));
		break;
	case SOCKETMAP_ALIAS_DOMAINS: {
		char target[MB_DOMAIN_MAX + 1];
		ret = domain_alias_target(store, req.key, target, error, sizeof(error));
		break;
	}
	case SOCKETMAP_MAILBOX_MAPS: {
		char base[MB_ADDRESS_MAX + 1];
		ret = req.key[0] == '@' ? 0 :
			mb_user_enabled(store, req.key, error, sizeof(error));
		if (ret == 0 && mb_address_base(req.key, delimiters, base))
			ret = mb_user_enabled(store, base, error, sizeof(error));
		break;
	}
	case SOCKETMAP_ALIAS_MAPS: {
		/* an address at the host's own names: its system alias */
		struct mb_alias live;
		ret = system_alias_map_lookup(store, delimiters, req.key, &live, error, sizeof(error));
		if (ret < 0)
			return store_failed(&r, error);
		if (ret == SYSTEM_ALIAS_NONE)
			return reply_status(&r, "NOTFOUND ", "");
		if (ret == SYSTEM_ALIAS_FOUND) {
			size_t answered = answer_targets(store, &r, &live);
			mb_alias_clear(&live);
			return answered;
		}
		return answer_alias_maps(store, req.key, delimiters, &r);
	}
	case SOCKETMAP_SENDER_LOGIN_MAPS:
		return answer_sender_logins(store, req.key, delimiters, &r);
	case SOCKETMAP_RELAY_DOMAINS:
	case SOCKETMAP_RELAY_RECIPIENTS:
	case SOCKETMAP_TRANSPORT:
	case SOCKETMAP_RELAY_FROM_HOSTS: {
		char value[MB_NEXT_HOP_MAX + 16];
		ret = relay_maps_answer(store, req.map, req.key, delimiters, value, sizeof(value),
					error, sizeof(error));
		if (ret < 0)
			return store_failed(&r, error);
		return ret > 0 ? reply_status(&r, "OK ", value) : reply_status(&r, "NOTFOUND ", "");
	}
	case SOCKETMAP_SRS_FORWARD:
	case SOCKETMAP_SRS_REVERSE:
	case SOCKETMAP_SRS_UNROUTE:
	case SOCKETMAP_SRS_RECIPIENT_ACCESS:
		return answer_srs(store, req.map, req.key, &r);
	default:
		return reply_status(&r, "PERM ", "unknown map name");
	}
	if (ret < 0)
		return store_failed(&r, error);
	return ret > 0 ? reply_status(&r, "OK ", req.key) : reply_status(&r, "NOTFOUND ", "");
}
