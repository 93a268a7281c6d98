/* store-route.c - where mail to an address goes
 *
 * SUMMARY
 *	The routing rule of store.h over the store's reads: an alias with
 *	a live target, a user, the address without its +detail, a domain
 *	alias, a catch-all, each target followed to what receives it. One
 *	walk is bounded by MB_ROUTE_MAX_LOOKUPS lookups.
 */
#include "store-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Routing: where mail to an address goes (store.h). One walk is bounded
   by MB_ROUTE_MAX_LOOKUPS store lookups, so a wide and deep set of
   aliases is a named error for that lookup, never a stall of policyd. */

struct route_walk {
	struct mb_store *store;
	const char *delimiters;
	unsigned lookups;
	int failed;             /* 0, -1 the store failed, -2 too many lookups */
	char *error;
	size_t error_size;
};

static int walk_target(struct route_walk *w, const char *target, int depth);

/* walk_spend - count one lookup; false once the walk has failed */
static bool walk_spend(struct route_walk *w)
{
	if (w->failed != 0)
		return false;
	if (++w->lookups > MB_ROUTE_MAX_LOOKUPS) {
		snprintf(w->error, w->error_size, "aliases expand too far: more than %d lookups",
			 MB_ROUTE_MAX_LOOKUPS);
		w->failed = -2;
		return false;
	}
	return true;
}

/* walk_alias - the alias of source: 1 (alias to clear), 0 none, -1 */
static int walk_alias(struct route_walk *w, const char *source, struct mb_alias *alias)
{
	memset(alias, 0, sizeof(*alias));
	if (!walk_spend(w))
		return -1;
	int ret = mb_store_alias_get(w->store, source, alias, w->error, w->error_size);
	if (ret < 0)
		w->failed = -1;
	return ret;
}

/* walk_user - 1 an enabled user, 2 a disabled one, 0 none, -1 */
static int walk_user(struct route_walk *w, const char *address)
{
	struct mb_user user;

	if (!walk_spend(w))
		return -1;
	int ret = mb_store_user_get(w->store, address, &user, w->error, w->error_size);
	if (ret < 0) {
		w->failed = -1;
		return -1;
	}
	if (ret == 0)
		return 0;
	ret = user.enabled ? 1 : 2;
	mb_user_clear(&user);
	return ret;
}

/* walk_domain - 1 a mailbox domain, 2 only a domain alias (its target
   domain in target_r), 0 not served here, -1 */
static int walk_domain(struct route_walk *w, const char *domain, char target_r[MB_DOMAIN_MAX + 1])
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;

	if (strlen(domain) > MB_DOMAIN_MAX)
		return 0;
	if (!walk_spend(w))
		return -1;
	int ret = mb_store_domain_exists(w->store, domain, w->error, w->error_size);
	if (ret != 0) {
		if (ret < 0)
			w->failed = -1;
		return ret;
	}
	snprintf(source, sizeof(source), "@%s", domain);
	ret = walk_alias(w, source, &alias);
	if (ret <= 0)
		return ret;
	ret = mb_alias_domain_target(&alias, target_r) ? 2 : 0;
	mb_alias_clear(&alias);
	return ret;
}

/* filter_live - keep only the targets something receives (or that go
   elsewhere); 0 or -1 */
static int filter_live(struct route_walk *w, struct mb_alias *alias, int depth)
{
	size_t kept = 0;

	for (size_t i = 0; i < alias->target_count; i++) {
		int state = walk_target(w, alias->targets[i], depth);
		if (state < 0) {
			for (size_t j = i; j < alias->target_count; j++)
				alias->targets[kept++] = alias->targets[j];
			alias->target_count = kept;
			return -1;
		}
		if (state == MB_TARGET_MISSING || state == MB_TARGET_DISABLED)
			free(alias->targets[i]);
		else
			alias->targets[kept++] = alias->targets[i];
	}
	alias->target_count = kept;
	return 0;
}

/* walk_exact - one spelling of an address: an alias with a live target,
   else an enabled user. 1 found (r->route set), 0 not (r->disabled set
   for a disabled user), -1 */
static int walk_exact(struct route_walk *w, const char *key, int depth, struct mb_route_result *r)
{
	int ret = walk_alias(w, key, &r->alias);

	if (ret < 0)
		return -1;
	if (ret > 0) {
		ret = filter_live(w, &r->alias, depth + 1);
		if (ret == 0 && r->alias.target_count > 0) {
			r->route = MB_ROUTE_ALIAS;
			return 1;
		}
		mb_alias_clear(&r->alias);
		if (ret < 0)
			return -1;
	}
	ret = walk_user(w, key);
	if (ret == 2)
		r->disabled = true;
	if (ret == 1)
		r->route = MB_ROUTE_USER;
	return ret == 2 ? 0 : ret;
}

/* walk_route - the rule of store.h for one address; 0 or -1 */
static int walk_route(struct route_walk *w, const char *address, int depth,
		      struct mb_route_result *r)
{
	char base[MB_ADDRESS_MAX + 1], there[MB_ADDRESS_MAX + 1], target_domain[MB_DOMAIN_MAX + 1];
	const char *at = strrchr(address, '@');
	int ret;

	memset(r, 0, sizeof(*r));
	/* "*..." is the routing records' namespace, never a domain */
	if (at == NULL || address[0] == '@' || at[1] == '\0' || at[1] == '*')
		return 0;
	/* 1. the address as given, 2. without its subaddress */
	bool has_base = mb_address_base(address, w->delimiters, base);
	for (int pass = 0; pass < (has_base ? 2 : 1); pass++) {
		ret = walk_exact(w, pass == 0 ? address : base, depth, r);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
	}
	ret = walk_domain(w, at + 1, target_domain);
	if (ret < 0)
		return -1;
	if (ret == 2) {
		/* 3. a domain alias: the plain local part must reach an alias
		   or an enabled user at the target domain (its catch-all does
		   not count: unknown users are refused at RCPT) */
		const char *plain = has_base ? base : address;
		struct mb_route_result found;

		/* an address too long for the target domain reaches nothing
		   there (never a cut-short rewrite) */
		if ((size_t)snprintf(there, sizeof(there), "%.*s@%s", (int)(strrchr(plain, '@') - plain), plain,
				     target_domain) >= sizeof(there) ||
		    (at - address) + 1 + strlen(target_domain) >= sizeof(r->rewritten))
			return 0;
		memset(&found, 0, sizeof(found));
		ret = walk_exact(w, there, depth, &found);
		r->disabled = found.disabled;
		mb_route_clear(&found);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			r->route = MB_ROUTE_DOMAIN_ALIAS;
			snprintf(r->rewritten, sizeof(r->rewritten), "%.*s@%s", (int)(at - address),
				 address, target_domain);
		}
		return 0;
	}
	if (ret == 0)
		return 0;
	/* 4. the catch-all of a mailbox domain */
	ret = walk_alias(w, at, &r->alias);
	if (ret <= 0)
		return ret;
	if (filter_live(w, &r->alias, depth + 1) < 0) {
		mb_alias_clear(&r->alias);
		return -1;
	}
	if (r->alias.target_count > 0)
		r->route = MB_ROUTE_CATCH_ALL;
	else
		mb_alias_clear(&r->alias);
	return 0;
}

/* walk_target - the state of one target (enum mb_target_state), or -1 */
static int walk_target(struct route_walk *w, const char *target, int depth)
{
	char target_domain[MB_DOMAIN_MAX + 1];
	const char *at = strrchr(target, '@');
	struct mb_route_result r;

	if (at == NULL || at[1] == '\0')
		return MB_TARGET_OUTSIDE; /* no address of ours */
	int kind = walk_domain(w, at + 1, target_domain);
	if (kind < 0)
		return -1;
	if (target[0] == '@')
		return kind == 1 ? MB_TARGET_LIVE : MB_TARGET_MISSING;
	if (kind == 0)
		return MB_TARGET_OUTSIDE;
	if (depth > MB_ROUTE_MAX_DEPTH)
		return MB_TARGET_MISSING; /* too deep, or a loop of aliases */
	if (walk_route(w, target, depth, &r) < 0)
		return -1;
	int state = r.route == MB_ROUTE_NONE || r.route == MB_ROUTE_CATCH_ALL ?
		(r.disabled ? MB_TARGET_DISABLED :
		 r.route == MB_ROUTE_NONE ? MB_TARGET_MISSING : MB_TARGET_CATCH_ALL) :
		MB_TARGET_LIVE;
	mb_route_clear(&r);
	return state;
}

int mb_store_route(struct mb_store *store, const char *delimiters, const char *address,
		   struct mb_route_result *r, char *error, size_t error_size)
{
	struct route_walk w = { store, delimiters, 0, 0, error, error_size };

	if (walk_route(&w, address, 0, r) < 0 || w.failed != 0) {
		mb_route_clear(r);
		return w.failed != 0 ? w.failed : -1;
	}
	return 0;
}

void mb_route_clear(struct mb_route_result *r)
{
	mb_alias_clear(&r->alias);
	memset(r, 0, sizeof(*r));
}

int mb_store_target_state(struct mb_store *store, const char *delimiters, const char *target,
			  char *error, size_t error_size)
{
	struct route_walk w = { store, delimiters, 0, 0, error, error_size };
	int state = walk_target(&w, target, 0);

	return w.failed != 0 ? w.failed : state;
}

const char *mb_target_state_name(enum mb_target_state state)
{
	switch (state) {
	case MB_TARGET_OUTSIDE: return "outside";
	case MB_TARGET_LIVE: return "live";
	case MB_TARGET_CATCH_ALL: return "catch-all";
	case MB_TARGET_DISABLED: return "disabled";
	case MB_TARGET_MISSING: return "missing";
	}
	return "?";
}
