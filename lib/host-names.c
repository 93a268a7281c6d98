/* host-names.c - this host's own mail names
 *
 * SUMMARY
 *	Postfix's mydestination lists the names whose mail is the host's
 *	own (cron's, a daemon's to root): `mailbag setup` writes
 *	"$myhostname, localhost.$mydomain, localhost" with myhostname the
 *	context's hostname. policyd answers system aliases for addresses at
 *	these names, and `mailbag domain add` refuses them as virtual
 *	domains (Postfix warns about a domain in both classes and then
 *	treats it as local). This module computes them as Postfix does, so
 *	the two agree without asking Postfix.
 */
#include "host-names.h"

#include <string.h>
#include <strings.h>

/* put - one name, lower case; left out when it does not fit */
static void put(struct mb_host_names *names, const char *prefix, const char *name)
{
	size_t len = strlen(prefix) + strlen(name);

	if (len == 0 || len > MB_DOMAIN_MAX || names->count >= MB_HOST_NAMES_MAX)
		return;
	char joined[MB_DOMAIN_MAX + 1];
	memcpy(joined, prefix, strlen(prefix));
	memcpy(joined + strlen(prefix), name, strlen(name) + 1);
	for (size_t i = 0; i < names->count; i++) {
		if (strcasecmp(names->names[i], joined) == 0)
			return;
	}
	mb_lower_copy(joined, names->names[names->count++], MB_DOMAIN_MAX + 1);
}

void mb_host_names(const char *hostname, struct mb_host_names *names_r)
{
	const char *dot = hostname != NULL ? strchr(hostname, '.') : NULL;
	/* mail_params.c's check_mydomainname(): "localdomain" unless the
	   rest of the name has a dot of its own */
	const char *mydomain = dot != NULL && strchr(dot + 1, '.') != NULL ? dot + 1 : "localdomain";

	memset(names_r, 0, sizeof(*names_r));
	if (hostname != NULL)
		put(names_r, "", hostname);
	put(names_r, "localhost.", mydomain);
	put(names_r, "", "localhost");
}

bool mb_host_names_contain(const struct mb_host_names *names, const char *domain)
{
	for (size_t i = 0; domain != NULL && i < names->count; i++) {
		if (strcasecmp(names->names[i], domain) == 0)
			return true;
	}
	return false;
}
