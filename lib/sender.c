/* sender.c - who may send as an address: the one rule behind Postfix's
 * smtpd_sender_login_maps (policyd's socketmap), policyd's sender_login
 * check and mailbag-milter's check of the header From.
 *
 * A login may use an address when, after its +detail is taken off, the
 * address is that login's own (an enabled user), or an alias one of
 * whose targets is that enabled login.
 */
#include "sender.h"
#include "address.h"

#include <string.h>

int mb_user_enabled(struct mb_store *store, const char *address, char *error, size_t size)
{
	struct mb_user user;
	int ret = mb_store_user_get(store, address, &user, error, size);

	if (ret > 0) {
		ret = user.enabled ? 1 : 0;
		mb_user_clear(&user);
	}
	return ret;
}

int mb_sender_logins_foreach(struct mb_store *store, const char *delimiters, const char *address,
			     mb_sender_login_cb *cb, void *context, char *error, size_t size)
{
	char base[MB_ADDRESS_MAX + 1];
	const char *key = mb_address_base(address, delimiters, base) ? base : address;
	struct mb_alias alias;
	int count = 0, ret;

	ret = mb_user_enabled(store, key, error, size);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		count++;
		if (cb(key, context) != 0)
			return count;
	}
	ret = mb_store_alias_get(store, key, &alias, error, size);
	if (ret <= 0)
		return ret < 0 ? -1 : count;
	for (size_t i = 0; i < alias.target_count; i++) {
		int local = mb_user_enabled(store, alias.targets[i], error, size);
		if (local < 0) {
			count = -1;
			break;
		}
		if (local > 0) {
			count++;
			if (cb(alias.targets[i], context) != 0)
				break;
		}
	}
	mb_alias_clear(&alias);
	return count;
}

struct login_search {
	const char *login;
	bool found;
};

static int compare_login(const char *login, void *context)
{
	struct login_search *search = context;

	search->found = strcmp(login, search->login) == 0;
	return search->found ? 1 : 0;
}

int mb_login_may_send_as(struct mb_store *store, const char *delimiters, const char *login,
			 const char *address, char *error, size_t size)
{
	char want[MB_ADDRESS_MAX + 1], lower[MB_ADDRESS_MAX + 1];
	struct login_search search = { want, false };

	if (strlen(login) > MB_ADDRESS_MAX || strlen(address) > MB_ADDRESS_MAX)
		return 0;
	mb_lower_copy(login, want, sizeof(want));
	mb_lower_copy(address, lower, sizeof(lower));
	if (mb_sender_logins_foreach(store, delimiters, lower, compare_login, &search, error, size) < 0)
		return -1;
	return search.found ? 1 : 0;
}
