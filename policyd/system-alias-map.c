/* system-alias-map.c - virtual_alias_maps for the host's own names
 *
 * SUMMARY
 *	Postfix's cleanup asks virtual_alias_maps for every recipient,
 *	local ones too: mail from cron to "root" is asked for as
 *	root@HOSTNAME (myorigin = $myhostname). An address at one of the
 *	host's names (lib/host-names.c: what setup writes as mydestination)
 *	is answered from the store's system aliases (lib/system-alias.c):
 *	the live targets (answered by socketmap.c as any alias's, so an
 *	outside target is forwarded with SRS too), so Postfix sends it on, or
 *	NOTFOUND, so local(8) delivers it as before (/etc/aliases, then
 *	/var/mail). smtpd's RCPT check takes a virtual alias as a known
 *	recipient, so a system alias of a name with no host account
 *	receives from outside too; an unknown name is refused by
 *	local_recipient_maps.
 *
 * DIAGNOSTICS
 *	A store that cannot answer is -1 (socketmap.c answers TEMP: mail
 *	waits).
 */
#include "system-alias-map.h"
#include "context.h"
#include "host-names.h"
#include "system-alias.h"

#include <string.h>

/* policyd is one thread: set at start and at each reload */
static struct mb_host_names host_names;

void system_alias_map_set_hostname(const char *hostname)
{
	if (hostname == NULL) {
		memset(&host_names, 0, sizeof(host_names));
		return;
	}
	mb_host_names(hostname, &host_names);
}

void system_alias_map_configure(const struct mb_context *ctx)
{
	system_alias_map_set_hostname(ctx != NULL ? ctx->hostname : NULL);
}

int system_alias_map_lookup(struct mb_store *store, const char *delimiters, const char *key,
			    struct mb_alias *live_r, char *error, size_t error_size)
{
	char name[MB_LOCAL_MAX + 1];

	if (mb_system_alias_key(&host_names, delimiters, key, name) == 0)
		return SYSTEM_ALIAS_NOT_HOST;
	if (name[0] == '\0')
		return SYSTEM_ALIAS_NONE;
	int ret = mb_system_alias_live(store, delimiters, name, live_r, error, error_size);
	if (ret < 0)
		return -1;
	return ret == 0 ? SYSTEM_ALIAS_NONE : SYSTEM_ALIAS_FOUND;
}
