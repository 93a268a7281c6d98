/* import-mailorama.c - `mailbag import mailorama PATH`: a Mail-o-Rama directory
 *
 * SUMMARY
 *	Mail-o-Rama (OpenSMTPD and Dovecot in one container) is configured by
 *	four text files in one directory, PATH:
 *
 *	    accounts   NAME UID HASH       (HASH a crypt string, $6$...)
 *	    domains    DOMAIN
 *	    virtuals   ADDRESS TARGET[,TARGET...]  (account names, addresses)
 *	    aliases    NAME:TARGET[,TARGET...]     (system accounts; optional)
 *
 *	and the accounts' Maildirs, looked for at PATH/mail/NAME/Maildir (or
 *	PATH/mail/NAME itself when it holds cur/; --maildirs DIR for another
 *	DIR in place of PATH/mail). Its logins were bare account names;
 *	mailbag's are addresses: each account becomes one user at its first
 *	address (the first line of virtuals whose only target is the
 *	account; with none, NAME@ the first domain, said in a notice), and
 *	a notice names each account's new login. Every other address of an
 *	account becomes an alias to that user, a virtual with several
 *	targets an alias to all of them (accounts by their user's address),
 *	and the aliases file system aliases. UIDs are not kept.
 *	Refused as FILE:LINE: a bad name, address or domain, a duplicate, a
 *	plain-text or unknown hash, a virtual on a domain not in domains or
 *	naming an unknown account, a missing accounts, domains or virtuals
 *	file. The reader only reads.
 */
#include "import-formats.h"
#include "import-hash.h"
#include "import-lines.h"
#include "address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAILORAMA_NAME_MAX 32
#define MAILORAMA_TARGETS_MAX 1000

struct mo_account {
	char name[MAILORAMA_NAME_MAX + 1];
	char hash[MB_HASH_MAX];
	bool hash_ok;
	size_t line;
	char address[MB_ADDRESS_MAX + 1]; /* its user's, once chosen */
};

struct mo_virtual {
	char address[MB_ADDRESS_MAX + 1];
	char **targets;       /* account names or addresses, as written */
	size_t target_count;
	size_t line;
};

struct mo_read {
	struct import_plan *plan;
	const char *accounts_file, *virtuals_file;
	struct mo_account *accounts;
	size_t account_count;
	struct mo_virtual *virtuals;
	size_t virtual_count;
};

static int problem(struct mo_read *r, const char *file, size_t line, const char *what, const char *text)
{
	return import_plan_problem(r->plan, file, line, "%s '%.80s'", what, text) < 0 ? -1 : 0;
}

static bool name_valid(const char *name)
{
	size_t len = strlen(name);
	return len >= 1 && len <= MAILORAMA_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len && name[0] != '-' && name[0] != '.';
}

static struct mo_account *find_account(struct mo_read *r, const char *name)
{
	for (size_t i = 0; i < r->account_count; i++) {
		if (strcmp(r->accounts[i].name, name) == 0)
			return &r->accounts[i];
	}
	return NULL;
}

/* next_word - the next blank-separated word of *p (NUL-terminated), or NULL */
static char *next_word(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	char *end = s + strcspn(s, " \t");
	if (*end != '\0')
		*end++ = '\0';
	*p = end;
	return s;
}

static int read_account(const char *file, size_t line, char *text, void *context)
{
	struct mo_read *r = context;
	char *p = text, *name = next_word(&p), *uid = next_word(&p), *hash = next_word(&p);
	const char *why;

	if (name == NULL || uid == NULL || hash == NULL || next_word(&p) != NULL)
		return import_plan_problem(r->plan, file, line, "expected NAME UID HASH") < 0 ? -1 : 0;
	if (!name_valid(name))
		return problem(r, file, line, "bad account name (1 to 32 of a-z 0-9 . _ -):", name);
	if (uid[0] == '\0' || strspn(uid, "0123456789") != strlen(uid) || strlen(uid) > 10)
		return import_plan_problem(r->plan, file, line, "%s: the UID must be a number", name) < 0 ? -1 : 0;
	struct mo_account *seen = find_account(r, name);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, line, "duplicate: account %s is also on %s:%zu", name,
					   file, seen->line) < 0 ? -1 : 0;
	struct mo_account *grown = realloc(r->accounts, (r->account_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	r->accounts = grown;
	struct mo_account *a = &r->accounts[r->account_count++];
	memset(a, 0, sizeof(*a));
	memcpy(a->name, name, strlen(name) + 1);
	a->line = line;
	if (import_hash_from_crypt(hash, a->hash, &why) < 0)
		return import_plan_problem(r->plan, file, line, "%s: %s", name, why) < 0 ? -1 : 0;
	a->hash_ok = true;
	return 0;
}

static int read_domain(const char *file, size_t line, char *text, void *context)
{
	struct mo_read *r = context;
	char domain[MB_DOMAIN_MAX + 1], *p = text, *word = next_word(&p);
	const char *why;

	if (next_word(&p) != NULL)
		return import_plan_problem(r->plan, file, line, "expected one domain a line") < 0 ? -1 : 0;
	if (mb_domain_parse(word, domain, &why) < 0)
		return import_plan_problem(r->plan, file, line, "'%.80s' is not a domain: %s", word, why) < 0 ? -1 : 0;
	for (size_t i = 0; i < r->plan->domain_count; i++) {
		if (strcmp(r->plan->domains[i].name, domain) == 0)
			return import_plan_problem(r->plan, file, line, "duplicate: %s is also on line %zu", domain,
						   r->plan->domains[i].origin.line) < 0 ? -1 : 0;
	}
	return import_plan_domain(r->plan, domain, file, line);
}

/* parse_address - text as a normalised address into buf; 0, or -1 with why */
static int parse_address(const char *text, char buf[MB_ADDRESS_MAX + 1], struct mb_address *parsed,
			 const char **why)
{
	if (mb_address_parse(text, NULL, parsed, why) < 0)
		return -1;
	mb_address_format(parsed, buf, MB_ADDRESS_MAX + 1);
	return 0;
}

/* check_target - an account name that exists, or an address; 0 good, 1 refused, -1 */
static int check_target(struct mo_read *r, const char *file, size_t line, const char *target)
{
	char address[MB_ADDRESS_MAX + 1];
	struct mb_address parsed;
	const char *why;

	if (target[0] == '\0')
		return import_plan_problem(r->plan, file, line, "an empty target (two commas, or one at the end)") < 0 ? -1 : 1;
	if (strchr(target, '@') != NULL) {
		if (parse_address(target, address, &parsed, &why) < 0)
			return import_plan_problem(r->plan, file, line, "target '%.80s' is not an address: %s", target, why) < 0 ? -1 : 1;
		return 0;
	}
	if (find_account(r, target) == NULL)
		return import_plan_problem(r->plan, file, line, "target '%.40s' names an unknown account (not in %s)",
					   target, r->accounts_file) < 0 ? -1 : 1;
	return 0;
}

/* split_targets - "a,b, c" into trimmed words; the count, or -1 oom */
static long split_targets(char *list, char ***targets_r)
{
	char **targets = NULL;
	long count = 0;

	for (char *p = list;; ) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		char *end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		char **grown = count < MAILORAMA_TARGETS_MAX ? realloc(targets, (size_t)(count + 1) * sizeof(*grown)) : NULL;
		if (grown == NULL || (grown[count] = strdup(p)) == NULL) {
			targets = grown != NULL ? grown : targets;
			for (long i = 0; i < count; i++)
				free(targets[i]);
			free(targets);
			return -1;
		}
		targets = grown;
		count++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*targets_r = targets;
	return count;
}

static void free_targets(char **targets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(targets[i]);
	free(targets);
}

static int read_virtual(const char *file, size_t line, char *text, void *context)
{
	struct mo_read *r = context;
	char address[MB_ADDRESS_MAX + 1];
	struct mb_address parsed;
	const char *why;
	char *p = text, *source = next_word(&p);

	while (*p == ' ' || *p == '\t')
		p++;
	if (source == NULL || *p == '\0')
		return import_plan_problem(r->plan, file, line, "expected ADDRESS TARGET[,TARGET...]") < 0 ? -1 : 0;
	if (parse_address(source, address, &parsed, &why) < 0)
		return import_plan_problem(r->plan, file, line, "'%.80s' is not an address: %s", source, why) < 0 ? -1 : 0;
	if (import_plan_find_domain(r->plan, parsed.domain) == NULL)
		return import_plan_problem(r->plan, file, line, "%s: domain %s is not in the domains file", address,
					   parsed.domain) < 0 ? -1 : 0;
	for (size_t i = 0; i < r->virtual_count; i++) {
		if (strcmp(r->virtuals[i].address, address) == 0)
			return import_plan_problem(r->plan, file, line, "duplicate: %s is also on line %zu", address,
						   r->virtuals[i].line) < 0 ? -1 : 0;
	}
	char **targets;
	long count = split_targets(p, &targets);
	if (count < 0)
		return -1;
	int refused = 0;
	for (long i = 0; i < count; i++) {
		int ret = check_target(r, file, line, targets[i]);
		if (ret < 0) {
			free_targets(targets, (size_t)count);
			return -1;
		}
		refused |= ret;
	}
	struct mo_virtual *grown = refused ? NULL : realloc(r->virtuals, (r->virtual_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		free_targets(targets, (size_t)count);
		return refused ? 0 : -1;
	}
	r->virtuals = grown;
	struct mo_virtual *v = &r->virtuals[r->virtual_count++];
	memcpy(v->address, address, sizeof(address));
	v->targets = targets;
	v->target_count = (size_t)count;
	v->line = line;
	return 0;
}

/* target_address - an account name as its user's address, an address normalised */
static void target_address(struct mo_read *r, const char *target, char buf[MB_ADDRESS_MAX + 1])
{
	struct mb_address parsed;
	const char *why;
	struct mo_account *a = strchr(target, '@') == NULL ? find_account(r, target) : NULL;

	if (a != NULL)
		memcpy(buf, a->address, MB_ADDRESS_MAX + 1);
	else if (parse_address(target, buf, &parsed, &why) < 0)
		snprintf(buf, MB_ADDRESS_MAX + 1, "%s", target);
}

static int read_system_alias(const char *file, size_t line, char *text, void *context)
{
	struct mo_read *r = context;
	char *colon = strchr(text, ':');

	if (colon == NULL)
		return import_plan_problem(r->plan, file, line, "expected NAME:TARGET[,TARGET...]") < 0 ? -1 : 0;
	*colon = '\0';
	char *name = text, *end = colon;
	while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (!name_valid(name))
		return problem(r, file, line, "bad system account name:", name);
	for (size_t i = 0; i < r->plan->system_alias_count; i++) {
		if (strcmp(r->plan->system_aliases[i].name, name) == 0 &&
		    r->plan->system_aliases[i].origin.line != line)
			return import_plan_problem(r->plan, file, line, "duplicate: %s is also on line %zu", name,
						   r->plan->system_aliases[i].origin.line) < 0 ? -1 : 0;
	}
	char **targets;
	long count = split_targets(colon + 1, &targets);
	if (count < 0)
		return -1;
	int ret = 0, refused = 0;
	for (long i = 0; ret == 0 && i < count; i++) {
		int checked = check_target(r, file, line, targets[i]);
		if (checked < 0)
			ret = -1;
		refused |= checked > 0;
	}
	for (long i = 0; ret == 0 && !refused && i < count; i++) {
		char address[MB_ADDRESS_MAX + 1];
		target_address(r, targets[i], address);
		ret = import_plan_system_alias(r->plan, name, address, file, line);
	}
	free_targets(targets, (size_t)count);
	return ret;
}

/* choose_addresses - each account's user address: its first own virtual */
static int choose_addresses(struct mo_read *r)
{
	for (size_t i = 0; i < r->virtual_count; i++) {
		struct mo_virtual *v = &r->virtuals[i];
		struct mo_account *a = v->target_count == 1 && strchr(v->targets[0], '@') == NULL ?
			find_account(r, v->targets[0]) : NULL;
		if (a != NULL && a->address[0] == '\0')
			memcpy(a->address, v->address, sizeof(a->address));
	}
	for (size_t i = 0; i < r->account_count; i++) {
		struct mo_account *a = &r->accounts[i];
		if (a->address[0] != '\0')
			continue;
		if (r->plan->domain_count == 0) {
			if (import_plan_problem(r->plan, r->accounts_file, a->line,
						"account %s has no address in virtuals and there is no domain", a->name) < 0)
				return -1;
			continue;
		}
		char text[MB_ADDRESS_MAX + MB_DOMAIN_MAX + 2];
		struct mb_address parsed;
		const char *why;
		snprintf(text, sizeof(text), "%s@%s", a->name, r->plan->domains[0].name);
		if (parse_address(text, a->address, &parsed, &why) < 0) {
			a->address[0] = '\0';
			if (import_plan_problem(r->plan, r->accounts_file, a->line,
						"account %s has no address in virtuals, and %s is no address: %s "
						"(give it one in virtuals)", a->name, text, why) < 0)
				return -1;
			continue;
		}
		if (import_plan_notice(r->plan, r->accounts_file, a->line,
				       "account %s has no address of its own in virtuals: it becomes %s", a->name, a->address) < 0)
			return -1;
	}
	return 0;
}

/* maildir_of - DIR/NAME/Maildir, or DIR/NAME holding cur/ */
static void maildir_of(const char *dir, const char *name, char *buf, size_t size)
{
	char base[4096], cur[4200];
	struct stat st;

	buf[0] = '\0';
	if (!import_path_join(base, sizeof(base), dir, name))
		return;
	if (import_path_join(buf, size, base, "Maildir") && import_path_join(cur, sizeof(cur), buf, "cur") &&
	    stat(cur, &st) == 0 && S_ISDIR(st.st_mode))
		return;
	if (import_path_join(cur, sizeof(cur), base, "cur") && stat(cur, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(buf, size, "%s", base);
		return;
	}
	buf[0] = '\0';
}

static int add_users(struct mo_read *r, const char *maildirs)
{
	for (size_t i = 0; i < r->account_count; i++) {
		struct mo_account *a = &r->accounts[i];
		char maildir[4096];
		if (!a->hash_ok || a->address[0] == '\0')
			continue;
		maildir_of(maildirs, a->name, maildir, sizeof(maildir));
		struct import_user user = { .address = a->address, .hash = a->hash,
					    .maildir = maildir[0] != '\0' ? maildir : NULL };
		if (import_plan_user(r->plan, &user, r->accounts_file, a->line) < 0 ||
		    import_plan_notice(r->plan, r->accounts_file, a->line,
				       "account %s logs in as %s now (Mail-o-Rama's logins were bare names)",
				       a->name, a->address) < 0)
			return -1;
		if (user.maildir == NULL &&
		    import_plan_notice(r->plan, r->accounts_file, a->line, "no Maildir for %s in %s/%s (none with cur/ there): no old mail to carry over",
				       a->name, maildirs, a->name) < 0)
			return -1;
	}
	return 0;
}

/* add_aliases - every virtual but an account's own address */
static int add_aliases(struct mo_read *r)
{
	for (size_t i = 0; i < r->virtual_count; i++) {
		struct mo_virtual *v = &r->virtuals[i];
		bool own = false;
		for (size_t a = 0; a < r->account_count && !own; a++)
			own = strcmp(r->accounts[a].address, v->address) == 0;
		if (own)
			continue;
		char (*addresses)[MB_ADDRESS_MAX + 1] = calloc(v->target_count, sizeof(*addresses));
		const char **targets = calloc(v->target_count, sizeof(*targets));
		int ret = addresses != NULL && targets != NULL ? 0 : -1;
		for (size_t t = 0; ret == 0 && t < v->target_count; t++) {
			target_address(r, v->targets[t], addresses[t]);
			targets[t] = addresses[t];
		}
		if (ret == 0)
			ret = import_plan_alias(r->plan, v->address, targets, v->target_count, r->virtuals_file, v->line);
		free(addresses);
		free(targets);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static void mo_free(struct mo_read *r)
{
	for (size_t i = 0; i < r->virtual_count; i++)
		free_targets(r->virtuals[i].targets, r->virtuals[i].target_count);
	free(r->virtuals);
	if (r->accounts != NULL)
		explicit_bzero(r->accounts, r->account_count * sizeof(*r->accounts));
	free(r->accounts);
}

int import_read_mailorama(const char *path, const struct import_options *options, struct import_plan *plan)
{
	char accounts[4096], domains[4096], virtuals[4096], aliases[4096], maildirs[4096];
	struct mo_read r = { .plan = plan, .accounts_file = accounts, .virtuals_file = virtuals };
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return import_plan_problem(plan, path, 0, "missing: not a directory (give the directory holding accounts, domains, virtuals)");
	if (!import_path_join(accounts, sizeof(accounts), path, "accounts") ||
	    !import_path_join(domains, sizeof(domains), path, "domains") ||
	    !import_path_join(virtuals, sizeof(virtuals), path, "virtuals") ||
	    !import_path_join(aliases, sizeof(aliases), path, "aliases") ||
	    !import_path_join(maildirs, sizeof(maildirs), path, "mail"))
		return import_plan_problem(plan, path, 0, "the path is too long");
	if (options != NULL && options->maildirs != NULL)
		snprintf(maildirs, sizeof(maildirs), "%s", options->maildirs);
	int ret = import_lines_read(accounts, true, read_account, &r, plan, NULL);
	if (ret == 0)
		ret = import_lines_read(domains, true, read_domain, &r, plan, NULL);
	if (ret == 0)
		ret = import_lines_read(virtuals, true, read_virtual, &r, plan, NULL);
	if (ret == 0)
		ret = choose_addresses(&r);
	if (ret == 0)
		ret = import_lines_read(aliases, false, read_system_alias, &r, plan, NULL);
	if (ret == 0)
		ret = add_users(&r, maildirs);
	if (ret == 0)
		ret = add_aliases(&r);
	if (ret == 0 && r.account_count > 0)
		ret = import_plan_notice(plan, accounts, 0, "UIDs are not kept: every mailbox belongs to mailbag's vmail user");
	mo_free(&r);
	return ret;
}
