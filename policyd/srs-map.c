/* srs-map.c - the socketmap's SRS maps: forwarded mail leaves with an
 * SRS sender, and bounces to SRS addresses go back to the original one
 *
 * SUMMARY
 *	Only forwarded copies are rewritten, never mail to local mailboxes
 *	or from local senders. virtual_alias_maps answers an alias's outside
 *	target bob@gmail.com as bob=gmail.com@mailbag-forward.invalid (the
 *	local part's last "=" splits it again); Postfix's transport_maps send
 *	that domain to a second smtpd on loopback whose own cleanup rewrites
 *	the sender with srs_forward and the recipient back with srs_unroute.
 *	So the local copies are delivered with the original sender, and
 *	only the forwarded copy leaves with the SRS one. The maps:
 *
 *	srs_forward           sender -> SRS0 (or SRS1) address at srs.domain;
 *	                      NOTFOUND for the null sender, a sender in a
 *	                      domain served here, at srs.domain or the host
 *	                      name, and while SRS is off
 *	srs_reverse           SRS address at srs.domain -> the original
 *	                      address (an SRS1 one -> the SRS0 address at the
 *	                      first forwarder); NOTFOUND for anything else,
 *	                      including forged, altered and expired addresses
 *	srs_unroute           bob=gmail.com@mailbag-forward.invalid -> bob@gmail.com
 *	srs_recipient_access  an SRS address at srs.domain that does not
 *	                      verify -> "550 5.1.1 why" (check_recipient_access:
 *	                      refused at RCPT, whatever the domain's class)
 *
 *	The secret file is re-read when it changes (at most one stat a
 *	second), so `mailbag srs rotate` is live at once.
 *
 * DIAGNOSTICS
 *	A secret file that cannot be used turns SRS off (forwarded mail
 *	keeps its sender, SRS addresses are not reversed) and is logged, once
 *	each time it changes.
 *
 * SECURITY
 *	No secret is ever logged.
 */
#include "srs-map.h"

#include "context.h"
#include "log.h"
#include "srs.h"
#include "store.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SRS_DAY_SECONDS (24 * 60 * 60)

static struct {
	bool enabled;               /* srs.enabled */
	bool usable;                /* secrets loaded */
	char domain[MB_DOMAIN_MAX + 1];
	char hostname[MB_DOMAIN_MAX + 1];
	char secret_file[256];
	uid_t uid;
	gid_t gid;
	int64_t max_age_days;
	struct mb_srs_secrets secrets;
	struct stat file_stat;      /* of the secrets loaded, or of the last failure */
	bool have_stat;
	time_t last_check;
} srs;

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* load_secrets - (re)read the secret file; the old secrets stay on error */
static void load_secrets(void)
{
	struct mb_srs_secrets fresh;
	struct stat st;
	char error[512];

	if (mb_srs_secrets_load(srs.secret_file, srs.uid, srs.gid, &fresh, &st, error, sizeof(error)) < 0) {
		mb_error("srs: %s; %s", error, srs.usable ? "still using the secrets read before" :
			 "forwarded mail keeps its sender and SRS addresses are not reversed until it is fixed");
		srs.have_stat = stat(srs.secret_file, &srs.file_stat) == 0;
		return;
	}
	mb_srs_secrets_clear(&srs.secrets);
	srs.secrets = fresh;
	srs.file_stat = st;
	srs.have_stat = true;
	srs.usable = true;
	mb_info("srs: %zu secret%s from %s, signing for %s", fresh.count, fresh.count == 1 ? "" : "s",
		srs.secret_file, srs.domain);
}

/* refresh - re-read the secret file when it changed (one stat a second) */
static void refresh(time_t now)
{
	struct stat st;

	if (!srs.enabled || now == srs.last_check)
		return;
	srs.last_check = now;
	if (stat(srs.secret_file, &st) < 0) {
		if (srs.have_stat) {
			mb_error("srs: %s is gone; %s", srs.secret_file,
				 srs.usable ? "still using the secrets read before" : "SRS stays off");
			srs.have_stat = false;
		}
		return;
	}
	if (!srs.have_stat || !same_file(&st, &srs.file_stat))
		load_secrets();
}

void srs_map_clear(void)
{
	mb_srs_secrets_clear(&srs.secrets);
	srs.usable = false;
}

void srs_map_configure(const struct mb_context *ctx)
{
	struct passwd *daemon = getpwnam(ctx->daemon_user);

	srs_map_clear();
	srs.enabled = ctx->srs.enabled != 0;
	srs.have_stat = false;
	srs.last_check = 0;
	snprintf(srs.hostname, sizeof(srs.hostname), "%s", ctx->hostname);
	snprintf(srs.domain, sizeof(srs.domain), "%s", ctx->srs.domain[0] != '\0' ? ctx->srs.domain : ctx->hostname);
	for (char *p = srs.domain; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	snprintf(srs.secret_file, sizeof(srs.secret_file), "%s", ctx->srs.secret_file);
	srs.uid = daemon != NULL ? daemon->pw_uid : (uid_t)-1;
	srs.gid = daemon != NULL ? daemon->pw_gid : (gid_t)-1;
	srs.max_age_days = ctx->srs.max_age / SRS_DAY_SECONDS;
	if (!srs.enabled)
		return;
	if (ctx->srs.max_age % SRS_DAY_SECONDS != 0 || srs.max_age_days < 1 || srs.max_age_days > 1000) {
		mb_error("srs: srs.max_age must be whole days from 1d to 1000d; SRS is off until it is");
		srs.enabled = false;
		return;
	}
	load_secrets();
}

/* served_here - 1 when domain's mail is kept here (a mailbox or alias
   domain, srs.domain, the host name), 0, -1 with error */
static int served_here(struct mb_store *store, const char *domain, char *error, size_t size)
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;

	if (strcasecmp(domain, srs.domain) == 0 || strcasecmp(domain, srs.hostname) == 0 ||
	    strcasecmp(domain, SRS_ROUTE_DOMAIN) == 0)
		return 1;
	int ret = mb_store_domain_exists(store, domain, error, size);
	if (ret != 0 || strlen(domain) > MB_DOMAIN_MAX)
		return ret;
	snprintf(source, sizeof(source), "@%s", domain);
	ret = mb_store_alias_get(store, source, &alias, error, size);
	if (ret > 0)
		mb_alias_clear(&alias);
	return ret;
}

static bool srs_on(time_t now)
{
	refresh(now);
	return srs.enabled && srs.usable;
}

static const struct mb_srs *srs_params(void)
{
	static struct mb_srs params;

	params.secrets = &srs.secrets;
	params.domain = srs.domain;
	params.max_age_days = srs.max_age_days;
	return &params;
}

int srs_map_route_target(struct mb_store *store, const char *target, char *out, size_t size)
{
	const char *at = strrchr(target, '@');

	if (!srs_on(time(NULL)) || at == NULL || at == target || at[1] == '\0')
		return 0;
	int ret = served_here(store, at + 1, out, size);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	int len = snprintf(out, size, "%.*s=%s@%s", (int)(at - target), target, at + 1, SRS_ROUTE_DOMAIN);
	return len > 0 && (size_t)len < size ? 1 : 0;
}

/* unroute - bob=gmail.com@SRS_ROUTE_DOMAIN to bob@gmail.com: 1 or 0 */
static int unroute(const char *key, char *value, size_t size)
{
	const char *at = strrchr(key, '@');

	if (at == NULL || strcasecmp(at + 1, SRS_ROUTE_DOMAIN) != 0)
		return 0;
	const char *eq = at;
	while (eq > key && eq[-1] != '=')
		eq--;
	if (eq == key || eq - 1 == key || eq == at)
		return 0;
	int len = snprintf(value, size, "%.*s@%.*s", (int)(eq - 1 - key), key, (int)(at - eq), eq);
	return len > 0 && (size_t)len < size ? 1 : 0;
}

/* forward - srs_forward's answer */
static int forward(struct mb_store *store, const char *key, time_t now, char *value, size_t size)
{
	const char *at = strrchr(key, '@');
	const char *error;

	if (at == NULL || !srs_on(now))
		return 0;
	int ret = served_here(store, at + 1, value, size);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	ret = mb_srs_forward(srs_params(), key, now, value, size, &error);
	if (ret < 0)
		mb_warning("srs: %s is sent on with its own sender: %s", key, error);
	return ret > 0 ? 1 : 0;
}

int srs_map_lookup(enum srs_map map, struct mb_store *store, const char *key, time_t now,
		   char *value, size_t size)
{
	const char *error = NULL;
	int ret;

	switch (map) {
	case SRS_MAP_FORWARD:
		return forward(store, key, now, value, size);
	case SRS_MAP_UNROUTE:
		return unroute(key, value, size);
	case SRS_MAP_REVERSE:
		if (!srs_on(now))
			return 0;
		ret = mb_srs_reverse(srs_params(), key, now, value, size, &error);
		if (ret < 0)
			mb_debug("srs: not reversed: %s: %s", key, error);
		return ret > 0 ? 1 : 0;
	case SRS_MAP_RECIPIENT_ACCESS:
		if (!srs_on(now))
			return 0;
		ret = mb_srs_reverse(srs_params(), key, now, value, size, &error);
		if (ret >= 0)
			return 0;
		snprintf(value, size, "550 5.1.1 %s", error);
		return 1;
	}
	return 0;
}
