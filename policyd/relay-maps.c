/* relay-maps.c - the socketmap maps of relaying: backup MX and trusted networks
 *
 * SUMMARY
 *	Four maps, each named for the main.cf parameter it serves, all
 *	answered from the store's routing records (store.h), so a change
 *	made with `mailbag relay` is live at the next lookup:
 *
 *	relay_domains        domain -> OK when we are its backup MX
 *	                     (Postfix accepts mail to it from anyone and
 *	                     relays it; never a local delivery)
 *	relay_recipient_maps address -> OK when its relay domain has no
 *	                     recipient list, or lists it (or it without its
 *	                     "+detail"); else NOTFOUND, which Postfix turns
 *	                     into 550 at RCPT
 *	transport_maps       address (or domain) at a relay domain with a
 *	                     next hop -> "relay:[host]:port"; NOTFOUND for
 *	                     everything else, so other mail keeps its
 *	                     transport and a relay domain without a next
 *	                     hop goes to its MX (relay_transport)
 *	relay_from_hosts     client address -> "OK" (check_client_access's
 *	                     action) when it lies in a relay network; a
 *	                     client name, or any other text, is NOTFOUND
 *
 * DIAGNOSTICS
 *	A store that cannot answer is -1 (TEMP for Postfix), never NOTFOUND.
 */
#include "relay-maps.h"

#include "address.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

/* relay_of - the relay domain of key (an address, or a bare domain):
   1 (relay_r to clear), 0, -1 */
static int relay_of(struct mb_store *store, const char *key, struct mb_relay_domain *relay_r,
		    char *error, size_t size)
{
	const char *at = strrchr(key, '@');

	memset(relay_r, 0, sizeof(*relay_r));
	return mb_store_relay_domain_get(store, at != NULL ? at + 1 : key, relay_r, error, size);
}

static int answer_recipient(struct mb_store *store, const char *key, const char *delimiters,
			    char *error, size_t size)
{
	struct mb_relay_domain relay;
	char base[MB_ADDRESS_MAX + 1];
	int ret;

	if (strchr(key, '@') == NULL || key[0] == '@')
		return 0;
	ret = relay_of(store, key, &relay, error, size);
	if (ret <= 0)
		return ret;
	ret = mb_relay_domain_accepts(&relay, key) ||
		(mb_address_base(key, delimiters, base) && mb_relay_domain_accepts(&relay, base));
	mb_relay_domain_clear(&relay);
	return ret;
}

static int answer_transport(struct mb_store *store, const char *key, char *value_r, size_t value_size,
			    char *error, size_t size)
{
	struct mb_relay_domain relay;
	int ret = relay_of(store, key, &relay, error, size);

	if (ret <= 0)
		return ret;
	ret = relay.next_hop[0] != '\0';
	if (ret)
		snprintf(value_r, value_size, "relay:%s", relay.next_hop);
	mb_relay_domain_clear(&relay);
	return ret;
}

int relay_maps_answer(struct mb_store *store, enum socketmap_map map, const char *key,
		      const char *delimiters, char *value_r, size_t value_size,
		      char *error, size_t size)
{
	struct mb_relay_domain relay;
	int ret;

	snprintf(value_r, value_size, "%s", key);
	switch (map) {
	case SOCKETMAP_RELAY_DOMAINS:
		if (strchr(key, '@') != NULL)
			return 0;
		ret = mb_store_relay_domain_get(store, key, &relay, error, size);
		if (ret > 0)
			mb_relay_domain_clear(&relay);
		return ret;
	case SOCKETMAP_RELAY_RECIPIENTS:
		return answer_recipient(store, key, delimiters, error, size);
	case SOCKETMAP_TRANSPORT:
		return answer_transport(store, key, value_r, value_size, error, size);
	case SOCKETMAP_RELAY_FROM_HOSTS:
		snprintf(value_r, value_size, "OK");
		return mb_store_relay_from(store, key, error, size);
	default:
		snprintf(error, size, "not a relay map");
		return -1;
	}
}
