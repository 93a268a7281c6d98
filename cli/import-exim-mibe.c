/* import-exim-mibe.c - `mailbag import exim-mibe PATH`: the mi-poop-mail
 *	tree (Joyent mibe image: Exim, Dovecot) read into an import plan
 *
 * SUMMARY
 *	PATH is the image's delegated dataset, /srv/mail:
 *
 *	passwd/DOMAIN	Dovecot passwd-file lines "user:{SCHEME}hash" (what
 *			`doveadm pw` prints; a bare crypt(3) hash is Dovecot's
 *			CRYPT); the file's name is the domain and the logins
 *			are local parts of it.
 *	aliases/DOMAIN	Exim lsearch "local: destination, destination": local
 *			parts of DOMAIN (unqualified) or addresses; "*" is the
 *			domain's catch-all; a line that starts with a blank
 *			continues the one before. ":fail:" and ":blackhole:"
 *			are not imported (said); pipes, files, ":include:" and
 *			":defer:" are refused.
 *	exim/conf/global_aliases	"local: address", in every domain.
 *	exim/conf/rewrite_domains	"domain: newdomain", a domain alias.
 *	exim/conf/relay_from_hosts	an Exim host list of networks.
 *	exim/conf/relay_to_domains	domains we are backup MX for.
 *	exim/conf/dkim_required		domain patterns ("*.example.org").
 *	exim/conf/senderverify_exceptions	said not to be needed.
 *	ssl/NAME/current/{chained|cert,key}	a certificate for NAME
 *			("current" may be a symlink: the path through it is
 *			kept, so a rollover by switching it goes on working).
 *	dovecot/sieve/before, after	global Sieve script directories.
 *	DOMAIN/USER/Maildir	the users' mail (Dovecot's mail_location in
 *			the image); also accepted: DOMAIN/USER as the
 *			Maildir itself, and mail/DOMAIN/USER[/Maildir]; with
 *			--maildirs DIR: DIR/DOMAIN/USER[/Maildir]. A user
 *			without one is said, and starts empty.
 *
 *	The lists of exim/conf are read as Exim reads a file named in a
 *	list: one item per line (a '#' after a blank starts a comment), and
 *	a line may hold several items separated by ':' ("::" is a colon,
 *	"<;" at the start changes the separator), so an IPv6 network on a
 *	line of its own needs no doubling.
 *
 * DIAGNOSTICS
 *	Every refused line is a problem of the plan named FILE:LINE with the
 *	reason; what is understood but not carried over is a notice. The
 *	tree is only read.
 */
#include "import-exim-mibe.h"
#include "address.h"
#include "import-tree.h"
#include "network.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIAS_TARGETS_MAX 1000
#define ALIAS_DATA_MAX (4 * IMPORT_TREE_LINE_MAX)

struct exim_reader {
	struct import_plan *plan;
	char root[PATH_MAX];
	char domain[MB_DOMAIN_MAX + 1]; /* of the passwd/ or aliases/ file being read */
	/* an lsearch entry whose continuation lines may follow */
	char key[IMPORT_TREE_LINE_MAX + 1];
	char data[ALIAS_DATA_MAX + 1];
	size_t key_line;
	bool pending;
	/* senderverify_exceptions entries seen */
	size_t exceptions;
	const char *maildirs; /* --maildirs: DIR/DOMAIN/USER[/Maildir], or NULL */
};

/* the plan's fill failed for memory: the reader stops */
#define OOM(expr) do { if ((expr) < 0) return -1; } while (0)

/* path_in - ROOT/rel into out; false when too long (a problem) */
static bool path_in(struct exim_reader *r, char *out, size_t size, const char *rel)
{
	if (import_tree_join(out, size, r->root, rel))
		return true;
	import_plan_problem(r->plan, r->root, 0, "the path %s in it is too long", rel);
	return false;
}

/* ---- passwd/DOMAIN ---- */

static int passwd_line(const char *file, size_t number, char *line, void *context)
{
	struct exim_reader *r = context;
	struct import_passwd_user pw;

	const char *colon = strchr(line, ':');
	if (colon != NULL && memchr(line, '@', (size_t)(colon - line)) != NULL)
		return import_plan_problem(r->plan, file, number,
					   "the login is an address; passwd/%s lists local parts of %s",
					   r->domain, r->domain);
	int ret = import_tree_passwd_line(r->plan, file, number, line, r->domain, &pw);
	if (ret == -2)
		return -1;
	if (ret <= 0)
		return 0;
	struct import_user *seen = import_plan_find_user(r->plan, pw.entry.address);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, number, "%s is listed twice (first at %s:%zu)",
					   pw.entry.address, seen->origin.file, seen->origin.line);
	struct import_user user = {
		.address = pw.entry.address,
		.hash = pw.reset[0] != '\0' ? NULL : pw.entry.hash,
		.home = NULL, /* the image's homes are its own paths: the Maildir is found below */
		.quota_bytes = import_tree_quota(pw.entry.quota_bytes),
		.reset_reason = pw.reset[0] != '\0' ? pw.reset : NULL,
	};
	return import_plan_user(r->plan, &user, file, number);
}

/* domain_file - the domain a passwd/ or aliases/ file is named after, into
   r->domain, added to the plan once; false (a problem) for a bad name */
static int domain_file(struct exim_reader *r, const char *file, const char *name, bool *ok_r)
{
	const char *why;

	*ok_r = false;
	if (name[strlen(name) - 1] == '~' || strchr(name, '.') == NULL) {
		OOM(import_plan_notice(r->plan, file, 0, "not read: the name is no domain"));
		return 0;
	}
	if (mb_domain_parse(name, r->domain, &why) < 0)
		return import_plan_problem(r->plan, file, 0, "the file's name is no domain: %s", why);
	if (import_plan_find_domain(r->plan, r->domain) == NULL)
		OOM(import_plan_domain(r->plan, r->domain, file, 0));
	*ok_r = true;
	return 0;
}

/* each_domain_file - fn over every DIR/DOMAIN file */
static int each_domain_file(struct exim_reader *r, const char *dir_rel, import_tree_line_fn *fn,
			    int (*done)(struct exim_reader *, const char *))
{
	char dir[PATH_MAX], file[PATH_MAX];
	char **names;
	size_t count;

	if (!path_in(r, dir, sizeof(dir), dir_rel))
		return 0;
	int found = import_tree_names(r->plan, dir, &names, &count);
	if (found <= 0)
		return found;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++) {
		bool ok;
		if (!import_tree_join(file, sizeof(file), dir, names[i]) || !import_tree_is_file(file))
			continue;
		ret = domain_file(r, file, names[i], &ok);
		if (ret < 0 || !ok)
			continue;
		r->pending = false;
		if (import_tree_each_line(r->plan, file, fn, r) < 0 || (done != NULL && done(r, file) < 0))
			ret = -1;
	}
	import_tree_names_free(names, count);
	return ret < 0 ? -1 : 1;
}

/* ---- aliases/DOMAIN (Exim lsearch) ---- */

/* lsearch_split - "key: data" or "key data" into key and data */
static void lsearch_split(char *line, char **key_r, char **data_r)
{
	char *p = line;
	if (*p == '"') {
		char *close = strchr(p + 1, '"');
		if (close != NULL) {
			*close = '\0';
			*key_r = p + 1;
			p = close + 1;
		} else {
			*key_r = p;
			p += strlen(p);
		}
	} else {
		*key_r = p;
		p += strcspn(p, ": \t");
		if (*p == ':') {
			*p++ = '\0';
			*data_r = import_tree_trim(p);
			return;
		}
		if (*p != '\0')
			*p++ = '\0';
	}
	/* the colon after a key is optional: one, after blanks */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == ':')
		p++;
	*data_r = import_tree_trim(p);
}

/* destination - one item of a redirect list as an address into out: 1,
   0 (the alias is left out: notice given), -1 refused (problem given) */
static int destination(struct exim_reader *r, const char *file, size_t line, const char *source,
		       char *item, char out[MB_ADDRESS_MAX + 1])
{
	struct mb_address addr;
	char qualified[IMPORT_TREE_LINE_MAX + MB_DOMAIN_MAX + 2];
	const char *why;

	size_t len = strlen(item);
	if (len >= 2 && item[0] == '"' && item[len - 1] == '"') {
		item[len - 1] = '\0';
		item++;
	} else if (len >= 2 && item[0] == '<' && item[len - 1] == '>') {
		item[len - 1] = '\0';
		item++;
	}
	if (strcmp(item, ":fail:") == 0 || strncmp(item, ":fail:", 6) == 0 ||
	    strcmp(item, ":blackhole:") == 0) {
		if (import_plan_notice(r->plan, file, line,
				       "%s (%s) is not imported: mail to it will be refused as an unknown address",
				       source, item[1] == 'f' ? ":fail:" : ":blackhole:") < 0)
			return -2;
		return 0;
	}
	if (item[0] == ':')
		return import_plan_problem(r->plan, file, line,
					   "%s: Exim's %.20s has no mailbag counterpart; remove it or give addresses",
					   source, item) < 0 ? -2 : -1;
	if (item[0] == '|' || item[0] == '/')
		return import_plan_problem(r->plan, file, line,
					   "%s: delivery to a %s is not imported; give an address instead",
					   source, item[0] == '|' ? "pipe (program)" : "file") < 0 ? -2 : -1;
	if (strchr(item, '@') == NULL) {
		snprintf(qualified, sizeof(qualified), "%s@%s", item, r->domain);
		item = qualified;
	}
	if (mb_address_parse(item, NULL, &addr, &why) < 0)
		return import_plan_problem(r->plan, file, line, "%s: the destination %.300s: %s", source,
					   item, why) < 0 ? -2 : -1;
	mb_address_format(&addr, out, MB_ADDRESS_MAX + 1);
	return 1;
}

/* alias_source - the alias's source address for key in r->domain, or a
   problem (-1); -2 out of memory */
static int alias_source(struct exim_reader *r, const char *file, size_t line, const char *key,
			char out[MB_ADDRESS_MAX + 1])
{
	char text[IMPORT_TREE_LINE_MAX + MB_DOMAIN_MAX + 2];
	struct mb_address addr;
	const char *why;

	if (strcmp(key, "*") == 0) {
		snprintf(out, MB_ADDRESS_MAX + 1, "@%s", r->domain);
		return 0;
	}
	if (strchr(key, '@') != NULL || key[0] == '\0')
		return import_plan_problem(r->plan, file, line,
					   "the key must be a local part of %s (or * for all others)",
					   r->domain) < 0 ? -2 : -1;
	snprintf(text, sizeof(text), "%s@%s", key, r->domain);
	if (mb_address_parse(text, NULL, &addr, &why) < 0)
		return import_plan_problem(r->plan, file, line, "the key %.100s: %s", key, why) < 0 ? -2 : -1;
	mb_address_format(&addr, out, MB_ADDRESS_MAX + 1);
	return 0;
}

static int alias_add(struct exim_reader *r, const char *file, size_t line, const char *key, char *data)
{
	char source[MB_ADDRESS_MAX + 2];
	char (*targets)[MB_ADDRESS_MAX + 1] = NULL;
	const char *pointers[ALIAS_TARGETS_MAX];
	size_t count = 0;

	int ret = alias_source(r, file, line, key, source);
	if (ret < 0)
		return ret == -2 ? -1 : 0;
	const struct import_alias *seen = import_plan_find_alias(r->plan, source);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, line, "%s is given twice (first at %s:%zu)", source,
					   seen->origin.file, seen->origin.line);
	const struct import_user *user = import_plan_find_user(r->plan, source);
	if (user != NULL)
		return import_plan_problem(r->plan, file, line, "%s is a user too (%s:%zu): a user or an alias, not both",
					   source, user->origin.file, user->origin.line);
	if (data[0] == '\0')
		return import_plan_problem(r->plan, file, line, "%s has no destination", source);
	targets = malloc(ALIAS_TARGETS_MAX * sizeof(*targets));
	if (targets == NULL)
		return -1;
	ret = 1;
	char *save = NULL;
	for (char *item = strtok_r(data, ",", &save); item != NULL && ret == 1;
	     item = strtok_r(NULL, ",", &save)) {
		item = import_tree_trim(item);
		if (item[0] == '\0')
			continue;
		if (count == ALIAS_TARGETS_MAX) {
			ret = import_plan_problem(r->plan, file, line, "%s has more than %d destinations",
						  source, ALIAS_TARGETS_MAX) < 0 ? -2 : -1;
			break;
		}
		ret = destination(r, file, line, source, item, targets[count]);
		if (ret == 1) {
			pointers[count] = targets[count];
			count++;
		}
	}
	if (ret == 1 && count == 0)
		ret = import_plan_problem(r->plan, file, line, "%s has no destination", source) < 0 ? -2 : -1;
	if (ret == 1)
		ret = import_plan_alias(r->plan, source, pointers, count, file, line) < 0 ? -2 : 0;
	free(targets);
	return ret == -2 ? -1 : 0;
}

/* alias_flush - the entry gathered so far, with its continuation lines */
static int alias_flush(struct exim_reader *r, const char *file)
{
	if (!r->pending)
		return 0;
	r->pending = false;
	return alias_add(r, file, r->key_line, r->key, r->data);
}

static int aliases_line(const char *file, size_t number, char *line, void *context)
{
	struct exim_reader *r = context;

	if (line[0] == ' ' || line[0] == '\t') {
		char *more = import_tree_trim(line);
		if (!r->pending)
			return import_plan_problem(r->plan, file, number,
						   "a continuation line (it starts with a blank) with no entry before it");
		size_t have = strlen(r->data);
		if (have + 2 + strlen(more) > ALIAS_DATA_MAX) {
			r->pending = false;
			return import_plan_problem(r->plan, file, r->key_line,
						   "the entry is longer than %d bytes with its continuation lines",
						   ALIAS_DATA_MAX);
		}
		snprintf(r->data + have, sizeof(r->data) - have, "%s%s", have > 0 ? "," : "", more);
		return 0;
	}
	if (alias_flush(r, file) < 0)
		return -1;
	char *key, *data;
	lsearch_split(line, &key, &data);
	mb_lower_copy(key, r->key, sizeof(r->key));
	snprintf(r->data, sizeof(r->data), "%s", data);
	r->key_line = number;
	r->pending = true;
	return 0;
}

/* ---- exim/conf/global_aliases and rewrite_domains (lsearch) ---- */

static int global_alias_line(const char *file, size_t number, char *line, void *context)
{
	struct exim_reader *r = context;
	struct mb_address addr;
	char local[IMPORT_TREE_LINE_MAX + 1], target[MB_ADDRESS_MAX + 1], test[IMPORT_TREE_LINE_MAX + 16];
	const char *why;
	char *key, *data;

	lsearch_split(line, &key, &data);
	mb_lower_copy(key, local, sizeof(local));
	snprintf(test, sizeof(test), "%s@example.org", local);
	if (local[0] == '\0' || strchr(local, '@') != NULL || mb_address_parse(test, NULL, &addr, &why) < 0)
		return import_plan_problem(r->plan, file, number, "the key must be a local part (postmaster)");
	if (strchr(data, ',') != NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s: a global alias has one destination in mailbag; "
					   "point it at an alias that has several", local);
	if (data[0] == '\0' || strchr(data, '@') == NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s: give the destination as a full address (which domain a bare "
					   "name meant is not known)", local);
	if (mb_address_parse(data, NULL, &addr, &why) < 0)
		return import_plan_problem(r->plan, file, number, "%s: the destination: %s", local, why);
	mb_address_format(&addr, target, sizeof(target));
	for (size_t i = 0; i < r->plan->global_alias_count; i++) {
		const struct import_global_alias *g = &r->plan->global_aliases[i];
		if (strcmp(g->local_part, local) == 0)
			return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)",
						   local, g->origin.file, g->origin.line);
	}
	return import_plan_global_alias(r->plan, local, target, file, number);
}

static int rewrite_domain_line(const char *file, size_t number, char *line, void *context)
{
	struct exim_reader *r = context;
	char from[MB_DOMAIN_MAX + 1], to[MB_DOMAIN_MAX + 1], source[MB_DOMAIN_MAX + 2],
		target[MB_DOMAIN_MAX + 2];
	const char *why, *pointers[1] = { target };
	char *key, *data;

	lsearch_split(line, &key, &data);
	if (mb_domain_parse(key, from, &why) < 0)
		return import_plan_problem(r->plan, file, number, "the domain to rewrite: %s", why);
	if (mb_domain_parse(data, to, &why) < 0)
		return import_plan_problem(r->plan, file, number, "%s: the new domain: %s", from, why);
	if (import_plan_find_domain(r->plan, from) != NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s has users or aliases of its own here; it cannot also be rewritten to %s",
					   from, to);
	if (import_plan_find_domain(r->plan, to) == NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s is rewritten to %s, which is no domain of this tree (no passwd/%s)",
					   from, to, to);
	snprintf(source, sizeof(source), "@%s", from);
	snprintf(target, sizeof(target), "@%s", to);
	const struct import_alias *seen = import_plan_find_alias(r->plan, source);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)", from,
					   seen->origin.file, seen->origin.line);
	return import_plan_alias(r->plan, source, pointers, 1, file, number);
}

/* ---- the Exim lists of exim/conf ---- */

typedef int list_item_fn(struct exim_reader *r, const char *file, size_t number, const char *item);

/* list_line - the items of one line of a list file */
static int list_line(struct exim_reader *r, const char *file, size_t number, char *line,
		     list_item_fn *fn)
{
	char sep = ':';

	/* a '#' after a blank starts a comment */
	for (char *p = line; *p != '\0'; p++) {
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	line = import_tree_trim(line);
	if (line[0] == '<' && line[1] != '\0' && strchr(";,|%", line[1]) != NULL) {
		sep = line[1];
		line = import_tree_trim(line + 2);
	}
	/* an item, with a doubled separator standing for itself */
	char item[IMPORT_TREE_LINE_MAX + 1];
	size_t len = 0;
	for (const char *p = line;; p++) {
		if (*p == sep && p[1] == sep) {
			item[len++] = sep;
			p++;
			continue;
		}
		if (*p == sep || *p == '\0') {
			item[len] = '\0';
			char *trimmed = import_tree_trim(item);
			if (trimmed[0] != '\0' && fn(r, file, number, trimmed) < 0)
				return -1;
			len = 0;
			if (*p == '\0')
				return 0;
			continue;
		}
		item[len++] = *p;
	}
}

static int network_item(struct exim_reader *r, const char *file, size_t number, const char *item)
{
	struct mb_network net;
	const char *why;

	if (strcmp(item, "localhost") == 0 || strcmp(item, "@") == 0 || strcmp(item, "@[]") == 0 ||
	    strcmp(item, "127.0.0.1") == 0 || strcmp(item, "::1") == 0 || strcmp(item, "127.0.0.0/8") == 0)
		return import_plan_notice(r->plan, file, number,
					  "%s (the host itself) is not listed: mail from the host goes "
					  "through mailbag's own submission", item);
	if (item[0] == '!')
		return import_plan_problem(r->plan, file, number, "%.100s: negated items are not imported; "
					   "list the networks that may relay", item);
	if (mb_network_parse(item, &net, &why) < 0)
		return import_plan_problem(r->plan, file, number,
					   "%.100s: not an IP network (%s); mailbag relays for networks, "
					   "not host names or lookups", item, why);
	for (size_t i = 0; i < r->plan->relay_network_count; i++) {
		const struct import_network *n = &r->plan->relay_networks[i];
		if (strcmp(n->cidr, item) == 0)
			return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)",
						   item, n->origin.file, n->origin.line);
	}
	return import_plan_relay_network(r->plan, item, file, number);
}

static int relay_from_line(const char *file, size_t number, char *line, void *context)
{
	struct exim_reader *r = context;
	struct mb_network net;
	const char *why;
	char *trimmed = import_tree_trim(line);
	char *hash = strstr(trimmed, " #");

	if (hash != NULL) {
		*hash = '\0';
		trimmed = import_tree_trim(trimmed);
	}
	/* an IPv6 network alone on its line keeps its colons */
	if (strchr(trimmed, ' ') == NULL && mb_network_parse(trimmed, &net, &why) == 0)
		return network_item(r, file, number, trimmed);
	return list_line(r, file, number, trimmed, network_item);
}

static int relay_domain_item(struct exim_reader *r, const char *file, size_t number, const char *item)
{
	char domain[MB_DOMAIN_MAX + 1];
	const char *why;

	if (item[0] == '+' || strcmp(item, "@") == 0)
		return import_plan_notice(r->plan, file, number, "%.100s (a named list or this host) is not imported", item);
	if (strchr(item, '*') != NULL || item[0] == '^' || item[0] == '!')
		return import_plan_problem(r->plan, file, number,
					   "%.100s: patterns are not imported; list each domain", item);
	if (mb_domain_parse(item, domain, &why) < 0)
		return import_plan_problem(r->plan, file, number, "%.100s: %s", item, why);
	if (import_plan_find_domain(r->plan, domain) != NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s is served here (passwd/ or aliases/): it cannot be relayed on too", domain);
	for (size_t i = 0; i < r->plan->relay_domain_count; i++) {
		const struct import_relay_domain *d = &r->plan->relay_domains[i];
		if (strcmp(d->domain, domain) == 0)
			return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)",
						   domain, d->origin.file, d->origin.line);
	}
	return import_plan_relay_domain(r->plan, domain, NULL, 0, file, number);
}

static int relay_to_line(const char *file, size_t number, char *line, void *context)
{
	return list_line(context, file, number, line, relay_domain_item);
}

static int dkim_pattern_item(struct exim_reader *r, const char *file, size_t number, const char *item)
{
	char lower[MB_DOMAIN_MAX + 3], domain[MB_DOMAIN_MAX + 1];
	const char *why;

	mb_lower_copy(item, lower, sizeof(lower));
	const char *rest = lower;
	if (strcmp(lower, "*") != 0) {
		if (rest[0] == '*')
			rest += rest[1] == '.' ? 2 : 1;
		if (rest[0] == '^' || rest[0] == '!' || rest[0] == '+' || strchr(rest, '*') != NULL)
			return import_plan_problem(r->plan, file, number,
						   "%.100s: only domains and *-wildcards at the start are imported", item);
		if (mb_domain_parse(rest, domain, &why) < 0)
			return import_plan_problem(r->plan, file, number, "%.100s: %s", item, why);
	}
	for (size_t i = 0; i < r->plan->dkim_required_count; i++) {
		const struct import_pattern *p = &r->plan->dkim_required[i];
		if (strcmp(p->pattern, lower) == 0)
			return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)",
						   lower, p->origin.file, p->origin.line);
	}
	return import_plan_dkim_required(r->plan, lower, file, number);
}

static int dkim_required_line(const char *file, size_t number, char *line, void *context)
{
	return list_line(context, file, number, line, dkim_pattern_item);
}

static int exception_line(const char *file, size_t number, char *line, void *context)
{
	(void)file;
	(void)number;
	(void)line;
	((struct exim_reader *)context)->exceptions++;
	return 0;
}

static int read_conf(struct exim_reader *r)
{
	static const struct {
		const char *rel;
		import_tree_line_fn *fn;
	} lists[] = {
		{ "exim/conf/global_aliases", global_alias_line },
		{ "exim/conf/rewrite_domains", rewrite_domain_line },
		{ "exim/conf/relay_from_hosts", relay_from_line },
		{ "exim/conf/relay_to_domains", relay_to_line },
		{ "exim/conf/dkim_required", dkim_required_line },
		{ "exim/conf/senderverify_exceptions", exception_line },
	};
	char file[PATH_MAX];

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (path_in(r, file, sizeof(file), lists[i].rel) &&
		    import_tree_each_line(r->plan, file, lists[i].fn, r) < 0)
			return -1;
	}
	if (r->exceptions > 0 && path_in(r, file, sizeof(file), "exim/conf/senderverify_exceptions"))
		OOM(import_plan_notice(r->plan, file, 0,
				       "%zu entries not imported: mailbag makes no sender verification "
				       "callouts, so no exceptions are needed", r->exceptions));
	return 0;
}

/* ---- ssl/NAME/current ---- */

static int certificate(struct exim_reader *r, const char *ssl_dir, const char *name)
{
	char dir[PATH_MAX], current[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], error[600];
	char domain[MB_DOMAIN_MAX + 1];
	const char *why;

	if (!import_tree_join(dir, sizeof(dir), ssl_dir, name) || !import_tree_is_dir(dir))
		return 0;
	if (mb_domain_parse(name, domain, &why) < 0)
		return import_plan_problem(r->plan, dir, 0, "the directory's name is no host name: %s", why);
	if (!import_tree_join(current, sizeof(current), dir, "current") || !import_tree_is_dir(current))
		return import_plan_notice(r->plan, current, 0, "no current certificate for %s: not imported", domain);
	if (!import_tree_join(cert, sizeof(cert), current, "chained") || !import_tree_join(key, sizeof(key), current, "key") ||
	    !import_tree_join(ca, sizeof(ca), current, "ca"))
		return import_plan_problem(r->plan, current, 0, "the path is too long");
	if (!import_tree_is_file(cert)) {
		import_tree_join(cert, sizeof(cert), current, "cert");
		if (import_tree_is_file(ca))
			OOM(import_plan_notice(r->plan, current, 0,
					       "no chained file: the certificate is served without the CA chain "
					       "of ca (cat cert ca > chained, then import again)"));
	}
	if (!import_tree_is_file(cert))
		return import_plan_problem(r->plan, current, 0, "neither chained nor cert is there");
	if (import_tree_check_key(key, cert, error, sizeof(error)) < 0)
		return import_plan_problem(r->plan, key, 0, "%s", error);
	return import_plan_certificate(r->plan, domain, cert, key, current, 0);
}

static int read_certificates(struct exim_reader *r)
{
	char dir[PATH_MAX];
	char **names;
	size_t count;

	if (!path_in(r, dir, sizeof(dir), "ssl"))
		return 0;
	if (import_tree_names(r->plan, dir, &names, &count) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = certificate(r, dir, names[i]) < 0 ? -1 : 0;
	import_tree_names_free(names, count);
	return ret;
}

/* ---- dovecot/ ---- */

static bool has_names(struct exim_reader *r, const char *dir)
{
	char **names;
	size_t count;

	if (!import_tree_is_dir(dir) || import_tree_names(r->plan, dir, &names, &count) <= 0)
		return false;
	import_tree_names_free(names, count);
	return count > 0;
}

static int read_dovecot(struct exim_reader *r)
{
	char before[PATH_MAX], after[PATH_MAX], local[PATH_MAX];

	if (!path_in(r, before, sizeof(before), "dovecot/sieve/before") ||
	    !path_in(r, after, sizeof(after), "dovecot/sieve/after") ||
	    !path_in(r, local, sizeof(local), "dovecot/conf/local.conf"))
		return 0;
	bool has_before = has_names(r, before), has_after = has_names(r, after);
	if ((has_before || has_after) &&
	    import_plan_sieve_dirs(r->plan, has_before ? before : NULL, has_after ? after : NULL) < 0)
		return -1;
	bool content = false;
	FILE *f = fopen(local, "r");
	if (f != NULL) {
		char line[256];
		while (!content && fgets(line, sizeof(line), f) != NULL) {
			char *t = import_tree_trim(line);
			content = t[0] != '\0' && t[0] != '#' && t[0] != '\n';
		}
		fclose(f);
	}
	char spool[PATH_MAX];
	if (path_in(r, spool, sizeof(spool), "exim/spool/input") && has_names(r, spool))
		OOM(import_plan_notice(r->plan, spool, 0,
				       "Exim's queue is not empty and is not carried over: let it run out "
				       "(exim -qff) on the old server before the move"));
	if (content)
		OOM(import_plan_notice(r->plan, local, 0,
				       "the local Dovecot settings are not carried over; "
				       "see what they did and set it in mailbag's context"));
	return 0;
}

/* ---- the users' Maildirs ---- */

static int find_maildir(struct exim_reader *r, struct import_user *user)
{
	const char *at = strrchr(user->address, '@');
	char local[MB_LOCAL_MAX + 1], rel[4][MB_ADDRESS_MAX + 32], path[PATH_MAX];

	snprintf(local, sizeof(local), "%.*s", (int)(at - user->address), user->address);
	const char *base = r->maildirs != NULL ? r->maildirs : r->root;
	size_t layouts = r->maildirs != NULL ? 2 : 4;
	snprintf(rel[0], sizeof(rel[0]), "%s/%s/Maildir", at + 1, local);
	snprintf(rel[1], sizeof(rel[1]), "%s/%s", at + 1, local);
	snprintf(rel[2], sizeof(rel[2]), "mail/%s/%s/Maildir", at + 1, local);
	snprintf(rel[3], sizeof(rel[3]), "mail/%s/%s", at + 1, local);
	for (size_t i = 0; i < layouts; i++) {
		if (import_tree_join(path, sizeof(path), base, rel[i]) && import_tree_is_maildir(path)) {
			free(user->maildir);
			return (user->maildir = strdup(path)) == NULL ? -1 : 0;
		}
	}
	return import_plan_notice(r->plan, user->origin.file, user->origin.line,
				  "%s has no Maildir (looked for %s/%s): the mailbox starts empty",
				  user->address, base, rel[0]);
}

int import_read_exim_mibe(const char *path, const struct import_options *options,
		             struct import_plan *plan)
{
	struct exim_reader *r = calloc(1, sizeof(*r));
	char passwd[PATH_MAX];

	if (r == NULL)
		return -1;
	r->plan = plan;
	r->maildirs = options != NULL ? options->maildirs : NULL;
	int ret = -1;
	if (realpath(path, r->root) == NULL || !import_tree_is_dir(r->root)) {
		ret = import_plan_problem(plan, path, 0, "not a directory: give the mi-poop-mail /srv/mail tree");
		goto out;
	}
	if (!path_in(r, passwd, sizeof(passwd), "passwd") || !import_tree_is_dir(passwd)) {
		ret = import_plan_problem(plan, r->root, 0,
					  "no passwd/ directory in it: is this the mi-poop-mail /srv/mail tree?");
		goto out;
	}
	if (each_domain_file(r, "passwd", passwd_line, NULL) < 0 ||
	    each_domain_file(r, "aliases", aliases_line, alias_flush) < 0 ||
	    read_conf(r) < 0 || read_certificates(r) < 0 || read_dovecot(r) < 0)
		goto out;
	for (size_t i = 0; i < plan->user_count; i++) {
		if (find_maildir(r, &plan->users[i]) < 0)
			goto out;
	}
	ret = 0;
out:
	free(r);
	return ret < 0 ? -1 : 0;
}
