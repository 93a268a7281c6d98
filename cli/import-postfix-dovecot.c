/* import-postfix-dovecot.c - `mailbag import postfix-dovecot PATH`: the
 *	dockerised Postfix + Dovecot + OpenDKIM seed read into an import plan
 *
 * SUMMARY
 *	PATH is the checkout the containers ran from (settings.env beside
 *	_server_workspace_/), or the _server_workspace_ directory itself
 *	(then settings.env is looked for in it, and beside it). From
 *	_server_workspace_ (the container's /host):
 *
 *	settings.env	a docker env file, KEY=VALUE: DOMAIN, ADDITIONAL_DOMAINS
 *			(comma-separated), HOSTNAME, DKIM_KEY_SELECTOR (default
 *			"mailserver"). Quotation marks would be part of the
 *			value (the seed's own note), so a quoted value is
 *			refused.
 *	etc/dovecot/passwd	the users, a Dovecot passwd-file written by
 *			the seed's user.sh: "user@domain:{SSHA256}...:2001:2001:
 *			/host/...::" (etc/dovecot/users is read when there is no
 *			passwd). The home field is a container path and is
 *			ignored; the seed's {SSHA256} is kept, a hash in a scheme
 *			mailbag does not keep ({SSHA512}, {PLAIN-MD5} ...)
 *			imports the user with a reset reason instead.
 *	etc/postfix/valias	Postfix virtual(5) lines "alias target[, target]":
 *			a bare target is a user of DOMAIN (Postfix's myorigin),
 *			an address of a served domain must be a user or an
 *			alias, any other address is forwarded to.
 *	etc/opendkim/keys/DOMAIN/SELECTOR.private, or keys/SELECTOR.private
 *			(what the seed's entry.sh makes: one key for every
 *			domain): kept, so signatures go on without a DNS change.
 *	etc/letsencrypt/live/HOSTNAME/{fullchain,privkey}.pem	the certificate.
 *	mail/inboxes/DOMAIN/ADDRESS/Maildir	the users' mail (the seed's
 *			Dovecot: home=/host/mail/inboxes/%d/%u, mail_path=~/Maildir;
 *			the ADDRESS directory itself may be the Maildir); with
 *			--maildirs DIR: DIR/DOMAIN/ADDRESS[/Maildir].
 *
 * DIAGNOSTICS
 *	Every refused line is a problem of the plan named FILE:LINE with the
 *	reason; what is understood but not carried over is a notice. The
 *	tree is only read.
 */
#include "import-postfix-dovecot.h"
#include "address.h"
#include "import-tree.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIAS_TARGETS_MAX 1000
#define SELECTOR_MAX 63

struct setting {
	const char *key;
	char value[IMPORT_TREE_LINE_MAX + 1];
	size_t line; /* 0: not given */
};

struct pd_reader {
	struct import_plan *plan;
	char workspace[PATH_MAX];
	char settings_file[PATH_MAX];
	struct setting domain, additional, hostname, selector;
	char main_domain[MB_DOMAIN_MAX + 1];
	size_t first_valias; /* the plan's first alias from valias */
	const char *maildirs; /* --maildirs: DIR/DOMAIN/ADDRESS[/Maildir], or NULL */
};

#define OOM(expr) do { if ((expr) < 0) return -1; } while (0)

/* ---- finding the tree ---- */

static int locate(struct pd_reader *r, const char *path)
{
	char root[PATH_MAX], candidate[PATH_MAX + 32];

	if (realpath(path, root) == NULL || !import_tree_is_dir(root))
		return import_plan_problem(r->plan, path, 0,
					   "not a directory: give the checkout with settings.env and _server_workspace_");
	snprintf(candidate, sizeof(candidate), "%s/_server_workspace_", root);
	if (import_tree_is_dir(candidate)) {
		snprintf(r->workspace, sizeof(r->workspace), "%.*s", PATH_MAX - 1, candidate);
		snprintf(r->settings_file, sizeof(r->settings_file), "%.*s/settings.env", PATH_MAX - 20, root);
		return 0;
	}
	snprintf(r->workspace, sizeof(r->workspace), "%s", root);
	snprintf(r->settings_file, sizeof(r->settings_file), "%.*s/settings.env", PATH_MAX - 20, root);
	if (import_tree_is_file(r->settings_file))
		return 0;
	char *slash = strrchr(root, '/');
	if (slash != NULL && slash != root)
		*slash = '\0';
	snprintf(r->settings_file, sizeof(r->settings_file), "%.*s/settings.env", PATH_MAX - 20, root);
	return 0;
}

/* ---- settings.env ---- */

static int setting_line(const char *file, size_t number, char *line, void *context)
{
	struct pd_reader *r = context;
	struct setting *wanted[] = { &r->domain, &r->additional, &r->hostname, &r->selector };

	char *eq = strchr(line, '=');
	if (eq == NULL)
		return import_plan_problem(r->plan, file, number, "expected KEY=VALUE");
	*eq = '\0';
	const char *key = import_tree_trim(line);
	char *value = import_tree_trim(eq + 1);
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		struct setting *s = wanted[i];
		if (strcmp(key, s->key) != 0)
			continue;
		if (s->line != 0)
			return import_plan_problem(r->plan, file, number, "%s is given twice (first at line %zu)",
						   key, s->line);
		if (value[0] == '"' || value[0] == '\'')
			return import_plan_problem(r->plan, file, number,
						   "%s is quoted: in a docker env file the quotation marks are "
						   "part of the value; remove them", key);
		snprintf(s->value, sizeof(s->value), "%s", value);
		s->line = number;
	}
	return 0;
}

static int add_domain(struct pd_reader *r, const char *text, size_t line, char *out)
{
	char domain[MB_DOMAIN_MAX + 1];
	const char *why;

	if (mb_domain_parse(text, domain, &why) < 0)
		return import_plan_problem(r->plan, r->settings_file, line, "the domain %.100s: %s", text, why);
	if (import_plan_find_domain(r->plan, domain) != NULL)
		return import_plan_problem(r->plan, r->settings_file, line, "%s is given twice", domain);
	if (out != NULL)
		memcpy(out, domain, strlen(domain) + 1);
	return import_plan_domain(r->plan, domain, r->settings_file, line);
}

static int read_settings(struct pd_reader *r)
{
	r->domain.key = "DOMAIN";
	r->additional.key = "ADDITIONAL_DOMAINS";
	r->hostname.key = "HOSTNAME";
	r->selector.key = "DKIM_KEY_SELECTOR";
	int found = import_tree_each_line(r->plan, r->settings_file, setting_line, r);
	if (found < 0)
		return -1;
	if (found == 0)
		return import_plan_problem(r->plan, r->settings_file, 0,
					   "not there: the settings.env the containers ran with is needed "
					   "(beside _server_workspace_ or in it)");
	if (r->domain.line == 0 || r->domain.value[0] == '\0')
		return import_plan_problem(r->plan, r->settings_file, r->domain.line, "DOMAIN is not set");
	OOM(add_domain(r, r->domain.value, r->domain.line, r->main_domain));
	char *save = NULL;
	for (char *d = strtok_r(r->additional.value, ",", &save); d != NULL; d = strtok_r(NULL, ",", &save)) {
		d = import_tree_trim(d);
		if (d[0] != '\0')
			OOM(add_domain(r, d, r->additional.line, NULL));
	}
	if (r->selector.line == 0 || r->selector.value[0] == '\0')
		snprintf(r->selector.value, sizeof(r->selector.value), "mailserver");
	size_t len = strlen(r->selector.value);
	if (len > SELECTOR_MAX || strspn(r->selector.value, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != len)
		return import_plan_problem(r->plan, r->settings_file, r->selector.line,
					   "DKIM_KEY_SELECTOR must be letters, digits, '-', '_' or '.' (at most %d)",
					   SELECTOR_MAX);
	return 0;
}

/* ---- etc/dovecot/passwd ---- */

static int passwd_line(const char *file, size_t number, char *line, void *context)
{
	struct pd_reader *r = context;
	struct import_passwd_user pw;

	int ret = import_tree_passwd_line(r->plan, file, number, line,
					  r->main_domain[0] != '\0' ? r->main_domain : NULL, &pw);
	if (ret == -2)
		return -1;
	if (ret <= 0)
		return 0;
	const char *domain = strrchr(pw.entry.address, '@') + 1;
	if (import_plan_find_domain(r->plan, domain) == NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s is in no domain of settings.env (DOMAIN, ADDITIONAL_DOMAINS)",
					   pw.entry.address);
	struct import_user *seen = import_plan_find_user(r->plan, pw.entry.address);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, number, "%s is listed twice (first at %s:%zu)",
					   pw.entry.address, seen->origin.file, seen->origin.line);
	struct import_user user = {
		.address = pw.entry.address,
		.hash = pw.reset[0] != '\0' ? NULL : pw.entry.hash,
		.quota_bytes = import_tree_quota(pw.entry.quota_bytes),
		.reset_reason = pw.reset[0] != '\0' ? pw.reset : NULL,
	};
	return import_plan_user(r->plan, &user, file, number);
}

static int read_users(struct pd_reader *r)
{
	char file[PATH_MAX];

	if (!import_tree_join(file, sizeof(file), r->workspace, "etc/dovecot/passwd"))
		return 0;
	int found = import_tree_each_line(r->plan, file, passwd_line, r);
	if (found != 0)
		return found < 0 ? -1 : 0;
	if (!import_tree_join(file, sizeof(file), r->workspace, "etc/dovecot/users"))
		return 0;
	found = import_tree_each_line(r->plan, file, passwd_line, r);
	if (found == 0)
		OOM(import_plan_notice(r->plan, file, 0, "no users (neither etc/dovecot/passwd nor users)"));
	return found < 0 ? -1 : 0;
}

/* ---- etc/postfix/valias ---- */

/* valias_address - an alias's source or target as mailbag writes it: a
   bare name is a user of DOMAIN; "@domain" stays (a catch-all source) */
static int valias_address(struct pd_reader *r, const char *text, bool source, char out[MB_ADDRESS_MAX + 2],
			  const char **why_r)
{
	char qualified[IMPORT_TREE_LINE_MAX + MB_DOMAIN_MAX + 2];
	struct mb_address addr;
	char domain[MB_DOMAIN_MAX + 1];

	if (source && text[0] == '@') {
		if (mb_domain_parse(text + 1, domain, why_r) < 0)
			return -1;
		snprintf(out, MB_ADDRESS_MAX + 2, "@%s", domain);
		return 0;
	}
	if (strchr(text, '@') == NULL) {
		if (source) {
			*why_r = "the alias must be a full address (or @domain)";
			return -1;
		}
		snprintf(qualified, sizeof(qualified), "%s@%s", text, r->main_domain);
		text = qualified;
	}
	if (mb_address_parse(text, NULL, &addr, why_r) < 0)
		return -1;
	mb_address_format(&addr, out, MB_ADDRESS_MAX + 1);
	return 0;
}

static int valias_line(const char *file, size_t number, char *line, void *context)
{
	struct pd_reader *r = context;
	char source[MB_ADDRESS_MAX + 2];
	const char *why;

	line = import_tree_trim(line);
	size_t key_len = strcspn(line, " \t");
	if (line[key_len] == '\0')
		return import_plan_problem(r->plan, file, number, "expected ALIAS TARGET");
	line[key_len] = '\0';
	char *rest = line + key_len + 1;
	if (valias_address(r, line, true, source, &why) < 0)
		return import_plan_problem(r->plan, file, number, "the alias %.100s: %s", line, why);
	const char *domain = strrchr(source, '@') + 1;
	if (import_plan_find_domain(r->plan, domain) == NULL)
		return import_plan_problem(r->plan, file, number, "%s is in no domain of settings.env", source);
	const struct import_alias *seen = import_plan_find_alias(r->plan, source);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, number, "%s is given twice (first at %s:%zu)", source,
					   seen->origin.file, seen->origin.line);
	const struct import_user *user = import_plan_find_user(r->plan, source);
	if (user != NULL)
		return import_plan_problem(r->plan, file, number,
					   "%s is a user too (%s:%zu): a user or an alias, not both", source,
					   user->origin.file, user->origin.line);
	char (*targets)[MB_ADDRESS_MAX + 2] = malloc(VALIAS_TARGETS_MAX * sizeof(*targets));
	const char **pointers = malloc(VALIAS_TARGETS_MAX * sizeof(*pointers));
	size_t count = 0;
	int ret = 0;
	if (targets == NULL || pointers == NULL)
		ret = -1;
	char *save = NULL;
	for (char *t = ret == 0 ? strtok_r(rest, ", \t", &save) : NULL; t != NULL && ret == 0;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (count == VALIAS_TARGETS_MAX) {
			ret = import_plan_problem(r->plan, file, number, "%s has more than %d targets", source,
						  VALIAS_TARGETS_MAX) < 0 ? -1 : 1;
		} else if (t[0] == '|' || t[0] == '/' || t[0] == ':' || t[0] == '@') {
			ret = import_plan_problem(r->plan, file, number,
						  "%s: the target %.100s is no address", source, t) < 0 ? -1 : 1;
		} else if (valias_address(r, t, false, targets[count], &why) < 0) {
			ret = import_plan_problem(r->plan, file, number, "%s: the target %.100s: %s", source, t,
						  why) < 0 ? -1 : 1;
		} else {
			pointers[count] = targets[count];
			count++;
		}
	}
	if (ret == 0 && count == 0)
		ret = import_plan_problem(r->plan, file, number, "%s has no target", source) < 0 ? -1 : 1;
	if (ret == 0)
		ret = import_plan_alias(r->plan, source, pointers, count, file, number);
	free(targets);
	free(pointers);
	return ret < 0 ? -1 : 0;
}

/* check_valias_targets - once all are read: a target in a served domain
   must be a user or an alias of the plan */
static int check_valias_targets(struct pd_reader *r)
{
	size_t count = r->plan->alias_count;

	for (size_t i = r->first_valias; i < count; i++) {
		const struct import_alias *a = &r->plan->aliases[i];
		for (size_t t = 0; t < a->target_count; t++) {
			const char *target = a->targets[t];
			if (import_plan_find_domain(r->plan, strrchr(target, '@') + 1) == NULL ||
			    import_plan_find_user(r->plan, target) != NULL || import_plan_find_alias(r->plan, target) != NULL)
				continue;
			OOM(import_plan_problem(r->plan, a->origin.file, a->origin.line,
						"%s: the target %s is no user (etc/dovecot/passwd) and no alias",
						a->source, target));
		}
	}
	return 0;
}

static int read_valias(struct pd_reader *r)
{
	char file[PATH_MAX];

	if (!import_tree_join(file, sizeof(file), r->workspace, "etc/postfix/valias"))
		return 0;
	r->first_valias = r->plan->alias_count;
	if (import_tree_each_line(r->plan, file, valias_line, r) < 0)
		return -1;
	return check_valias_targets(r);
}

/* ---- OpenDKIM keys and the certificate ---- */

static int read_dkim_keys(struct pd_reader *r)
{
	char key[PATH_MAX], shared[PATH_MAX], error[600], rel[MB_DOMAIN_MAX + SELECTOR_MAX + 64];
	const char *selector = r->selector.value;

	snprintf(rel, sizeof(rel), "etc/opendkim/keys/%.*s.private", SELECTOR_MAX, selector);
	if (!import_tree_join(shared, sizeof(shared), r->workspace, rel))
		return 0;
	for (size_t i = 0; i < r->plan->domain_count; i++) {
		const char *domain = r->plan->domains[i].name;
		snprintf(rel, sizeof(rel), "etc/opendkim/keys/%.*s/%.*s.private", MB_DOMAIN_MAX, domain, SELECTOR_MAX, selector);
		if (!import_tree_join(key, sizeof(key), r->workspace, rel))
			continue;
		const char *use = import_tree_is_file(key) ? key : import_tree_is_file(shared) ? shared : NULL;
		if (use == NULL) {
			OOM(import_plan_notice(r->plan, key, 0,
					       "no DKIM key for %s (selector %s): mailbag makes a new one; "
					       "publish it (mailbag dns records)", domain, selector));
			continue;
		}
		if (import_tree_check_key(use, NULL, error, sizeof(error)) < 0) {
			OOM(import_plan_problem(r->plan, use, 0, "%s", error));
			continue;
		}
		OOM(import_plan_dkim_key(r->plan, domain, selector, use, use, 0));
	}
	return 0;
}

static int read_certificate(struct pd_reader *r)
{
	char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], rel[MB_DOMAIN_MAX + 64], error[600];
	char host[MB_DOMAIN_MAX + 1];
	const char *why;

	if (r->hostname.line == 0 || r->hostname.value[0] == '\0')
		return 0;
	if (mb_domain_parse(r->hostname.value, host, &why) < 0)
		return import_plan_problem(r->plan, r->settings_file, r->hostname.line, "HOSTNAME: %s", why);
	OOM(import_plan_notice(r->plan, r->settings_file, r->hostname.line,
			       "the server was %s: mailbag's own host name is its context's hostname "
			       "(set it to %s to keep the MX and the certificate)", host, host));
	snprintf(rel, sizeof(rel), "etc/letsencrypt/live/%s", host);
	if (!import_tree_join(dir, sizeof(dir), r->workspace, rel) || !import_tree_is_dir(dir) ||
	    !import_tree_join(cert, sizeof(cert), dir, "fullchain.pem") ||
	    !import_tree_join(key, sizeof(key), dir, "privkey.pem"))
		return 0;
	if (import_tree_check_key(key, cert, error, sizeof(error)) < 0)
		return import_plan_problem(r->plan, key, 0, "%s", error);
	return import_plan_certificate(r->plan, host, cert, key, dir, 0);
}

/* ---- mail/inboxes ---- */

static int find_maildir(struct pd_reader *r, struct import_user *user)
{
	const char *domain = strrchr(user->address, '@') + 1;
	char rel[2][2 * MB_ADDRESS_MAX + 40], path[PATH_MAX];

	const char *base = r->maildirs != NULL ? r->maildirs : r->workspace;
	const char *under = r->maildirs != NULL ? "" : "mail/inboxes/";
	snprintf(rel[0], sizeof(rel[0]), "%s%s/%s/Maildir", under, domain, user->address);
	snprintf(rel[1], sizeof(rel[1]), "%s%s/%s", under, domain, user->address);
	for (size_t i = 0; i < 2; i++) {
		if (import_tree_join(path, sizeof(path), base, rel[i]) && import_tree_is_maildir(path)) {
			free(user->maildir);
			return (user->maildir = strdup(path)) == NULL ? -1 : 0;
		}
	}
	return import_plan_notice(r->plan, user->origin.file, user->origin.line,
				  "%s has no Maildir (looked for %s/%s): the mailbox starts empty",
				  user->address, base, rel[0]);
}

int import_read_postfix_dovecot(const char *path, const struct import_options *options,
		                   struct import_plan *plan)
{
	struct pd_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->plan = plan;
	r->maildirs = options != NULL ? options->maildirs : NULL;
	int ret = -1;
	size_t problems = plan->problem_count;
	if (locate(r, path) < 0 || read_settings(r) < 0)
		goto out;
	if (plan->problem_count > problems && plan->domain_count == 0) {
		ret = 0; /* no domain: nothing else can be checked */
		goto out;
	}
	if (read_users(r) < 0 || read_valias(r) < 0 || read_dkim_keys(r) < 0 || read_certificate(r) < 0)
		goto out;
	for (size_t i = 0; i < plan->user_count; i++) {
		if (find_maildir(r, &plan->users[i]) < 0)
			goto out;
	}
	ret = 0;
out:
	free(r);
	return ret;
}
