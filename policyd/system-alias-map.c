/* system-alias-map.c - virtual_alias_maps for the host's own names
 *
 * SUMMARY
 *	Postfix's cleanup asks virtual_alias_maps for every recipient,
 *	local ones too: mail from cron to "root" is asked for as
 *	root@HOSTNAME (myorigin = $myhostname). An address at one of the
 *	host's names (lib/host-names.c: what setup writes as mydestination)
 *	is answered from the store's system aliases (lib/system-alias.c):
 *	"OK" and the live targets, so Postfix sends it on to them, or
 *	NOTFOUND, so local(8) delivers it as before (/etc/aliases, then
 *	/var/mail). smtpd's RCPT check takes a virtual alias as a known
 *	recipient, so a system alias of a name with no host account
 *	receives from outside too; an unknown name is refused by
 *	local_recipient_maps.
 *
 * DIAGNOSTICS
 *	A store that cannot answer is TEMP (mail waits); targets that do
 *	not fit in one reply are PERM.
 */
#include "system-alias-map.h"
#include "context.h"
#include "host-names.h"
#include "system-alias.h"

#include <stdbool.h>
#include <stdio.h>
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

/* put - status and text into reply, bounded; false when cut */
static bool put(char *reply, size_t size, size_t *len, const char *text)
{
	size_t n = strlen(text);

	if (*len + n > size)
		return false;
	memcpy(reply + *len, text, n);
	*len += n;
	return true;
}

static size_t status(char *reply, size_t size, const char *status_text, const char *text)
{
	size_t len = 0;

	put(reply, size, &len, status_text);
	put(reply, size, &len, text);
	return len;
}

int system_alias_map_answer(struct mb_store *store, const char *delimiters, const char *key,
			    char *reply, size_t size, size_t *len_r)
{
	char name[MB_LOCAL_MAX + 1], error[512], why[300];
	struct mb_alias live;

	if (mb_system_alias_key(&host_names, delimiters, key, name) == 0)
		return 0;
	if (name[0] == '\0') {
		*len_r = status(reply, size, "NOTFOUND ", "");
		return 1;
	}
	int ret = mb_system_alias_live(store, delimiters, name, &live, error, sizeof(error));
	if (ret < 0) {
		snprintf(why, sizeof(why), "store lookup failed: %.250s", error);
		*len_r = status(reply, size, "TEMP ", why);
		return 1;
	}
	if (ret == 0) {
		*len_r = status(reply, size, "NOTFOUND ", "");
		return 1;
	}
	size_t len = 0;
	bool fits = put(reply, size, &len, "OK ");
	for (size_t i = 0; fits && i < live.target_count; i++)
		fits = (i == 0 || put(reply, size, &len, ",")) && put(reply, size, &len, live.targets[i]);
	mb_alias_clear(&live);
	*len_r = fits ? len : status(reply, size, "PERM ", "system alias has more targets than fit in one reply");
	return 1;
}
