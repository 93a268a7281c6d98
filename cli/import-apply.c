/* import-apply.c - an import plan checked against the store, then written
 *
 * SUMMARY
 *	The second half of `mailbag import` (the format's reader made the
 *	plan). Everything is checked before anything is written:
 *	  domains   served already (unchanged) or to be added;
 *	  users     new, or existing with the same password hash and quota
 *	            (unchanged); existing with another one is a problem, never
 *	            overwritten; a user without a usable hash gets
 *	            IMPORT_RESET_HASH (no login until `mailbag user passwd`);
 *	  Maildirs  each new user's, moved into mailbag's home or left in
 *	            place (--mail; import-maildir.c), checked that it can be;
 *	  aliases   on a domain of the plan or served, not over a user, every
 *	            local target a user or alias (of the plan or the store);
 *	            existing with the same targets unchanged, else a problem;
 *	  DKIM keys and certificates (import-apply-keys.c).
 *	The other parts of the plan (system and global aliases, relay
 *	domains and networks, dkim_required, Sieve dirs) are handed to one
 *	function each (import-apply-later.c). A problem anywhere and
 *	nothing is written; a second run finds everything unchanged. The
 *	summary says what was made, what was unchanged, and what the user
 *	must do.
 */
#include "import-apply.h"
#include "import-apply-internal.h"
#include "import-hash.h"
#include "import-maildir.h"
#include "home.h"
#include "account.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

enum mail_action { MAIL_NONE, MAIL_MOVE, MAIL_LEAVE, MAIL_IN_PLACE };

struct user_work {
	enum import_state state;
	enum mail_action mail;
	char home[4096];       /* the record's home: "" mailbag's default */
	char default_home[4096];
	char move_to[4200];    /* MAIL_MOVE: DEFAULT_HOME/Maildir */
	bool reset;            /* no usable password (new, or still the reset hash) */
};

struct apply {
	struct cli *cli;
	struct import_plan *plan;
	const struct import_apply_options *options;
	enum import_state *domains, *aliases, *dkim, *certificates;
	struct user_work *users;
	unsigned long messages;
	size_t moved, left;
};

static int oom(struct apply *a)
{
	return cli_fail(a->cli, EX_OSERR, "out of memory"), -1;
}

static int problem_at(struct apply *a, const struct import_origin *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int problem_at(struct apply *a, const struct import_origin *o, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return import_plan_problem(a->plan, o->file, o->line, "%s", text) < 0 ? oom(a) : 0;
}

/* --- domains ----------------------------------------------------------- */

static int check_domains(struct apply *a)
{
	char error[512];

	for (size_t i = 0; i < a->plan->domain_count; i++) {
		int exists = mb_store_domain_exists(a->cli->store, a->plan->domains[i].name, error, sizeof(error));
		if (exists < 0)
			return cli_fail(a->cli, EX_TEMPFAIL, "%s", error), -1;
		a->domains[i] = exists > 0 ? IMPORT_UNCHANGED : IMPORT_NEW;
	}
	return 0;
}

/* domain_here - a domain of the plan or one served: 1, 0, -1 */
static int domain_here(struct apply *a, const char *domain)
{
	char error[512];

	for (size_t i = 0; i < a->plan->domain_count; i++) {
		if (strcmp(a->plan->domains[i].name, domain) == 0)
			return 1;
	}
	int exists = mb_store_domain_exists(a->cli->store, domain, error, sizeof(error));
	if (exists < 0)
		cli_fail(a->cli, EX_TEMPFAIL, "%s", error);
	return exists;
}

/* --- users and their Maildirs ------------------------------------------- */

static bool named_maildir(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL && strcmp(slash + 1, "Maildir") == 0 && slash != path;
}

/* decide_mail - what becomes of a new user's Maildir */
static int decide_mail(struct apply *a, const struct import_user *u, struct user_work *w)
{
	enum import_mail_mode mode = a->options->mail;

	snprintf(w->move_to, sizeof(w->move_to), "%s/Maildir", w->default_home);
	if (strcmp(u->maildir, w->move_to) == 0) {
		w->mail = MAIL_IN_PLACE;
		return 0;
	}
	bool can_leave = named_maildir(u->maildir);
	bool dest_taken = access(w->move_to, F_OK) == 0;
	if (mode == IMPORT_MAIL_DECIDE)
		mode = can_leave && (dest_taken || !import_same_filesystem(u->maildir, a->cli->ctx->mail_root)) ?
			IMPORT_MAIL_LEAVE : IMPORT_MAIL_MOVE;
	if (mode == IMPORT_MAIL_LEAVE && !can_leave)
		return problem_at(a, &u->origin, "%s: its Maildir %s cannot be left in place: Dovecot reads HOME/Maildir "
				  "and it is not named Maildir (use --mail move)", u->address, u->maildir);
	if (mode == IMPORT_MAIL_MOVE && dest_taken)
		return problem_at(a, &u->origin, "%s: %s exists already: move it away, or leave the old Maildir "
				  "in place with --mail leave", u->address, w->move_to);
	w->mail = mode == IMPORT_MAIL_MOVE ? MAIL_MOVE : MAIL_LEAVE;
	if (w->mail == MAIL_LEAVE) {
		size_t len = (size_t)(strrchr(u->maildir, '/') - u->maildir);
		snprintf(w->home, sizeof(w->home), "%.*s", (int)len, u->maildir);
	}
	return 0;
}

/* check_existing - a user that exists already: the same, or a problem */
static int check_existing(struct apply *a, const struct import_user *u, struct user_work *w,
			  const struct mb_user *old)
{
	bool reset_hash = old->password_hash != NULL && strcmp(old->password_hash, IMPORT_RESET_HASH) == 0;

	w->state = IMPORT_UNCHANGED;
	w->reset = reset_hash;
	if (u->hash != NULL && (old->password_hash == NULL || strcmp(old->password_hash, u->hash) != 0))
		return problem_at(a, &u->origin, "user %s exists already with another password; not changed "
				  "(delete it first, or take it out of the import)", u->address);
	if (u->quota_bytes != 0 && old->quota_bytes != u->quota_bytes)
		return problem_at(a, &u->origin, "user %s exists already with another quota; not changed "
				  "(set it with mailbag user quota)", u->address);
	return 0;
}

static int check_users(struct apply *a)
{
	char error[512];

	for (size_t i = 0; i < a->plan->user_count; i++) {
		const struct import_user *u = &a->plan->users[i];
		struct user_work *w = &a->users[i];
		struct mb_user old, fresh;
		mb_account_prepare(a->cli->ctx, u->address, &fresh, w->default_home, sizeof(w->default_home));
		int found = mb_store_user_get(a->cli->store, u->address, &old, error, sizeof(error));
		if (found < 0)
			return cli_fail(a->cli, EX_TEMPFAIL, "%s", error), -1;
		int ret;
		if (found > 0) {
			ret = check_existing(a, u, w, &old);
			mb_user_clear(&old);
		} else {
			w->state = IMPORT_NEW;
			w->reset = u->hash == NULL;
			if (u->home != NULL)
				snprintf(w->home, sizeof(w->home), "%s", u->home);
			ret = u->maildir != NULL ? decide_mail(a, u, w) : 0;
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int write_user(struct apply *a, const struct import_user *u, struct user_work *w)
{
	char error[1024], home[4096];
	struct mb_user record;
	uid_t uid = (uid_t)a->cli->ctx->vmail_uid;
	gid_t gid = (gid_t)a->cli->ctx->vmail_gid;
	unsigned long messages = 0;
	int ret = EX_OK;

	if (w->mail == MAIL_MOVE) {
		ret = import_maildir_move(a->cli, u->address, u->maildir, w->move_to, uid, gid, &messages);
		a->moved++;
	} else if (w->mail == MAIL_LEAVE) {
		ret = import_maildir_keep(a->cli, u->address, u->maildir, uid, gid, &messages);
		a->left++;
	}
	if (ret != EX_OK)
		return ret;
	a->messages += messages;
	if (w->mail != MAIL_NONE)
		printf("%s: Maildir %s %s (%lu messages)\n", u->address,
		       w->mail == MAIL_MOVE ? u->maildir : w->mail == MAIL_LEAVE ? u->maildir : w->move_to,
		       w->mail == MAIL_MOVE ? "moved into mailbag's home" : w->mail == MAIL_LEAVE ?
		       "left in place (the user's home is the directory holding it)" : "already in mailbag's home",
		       messages);
	mb_account_prepare(a->cli->ctx, u->address, &record, home, sizeof(home));
	record.password_hash = u->hash != NULL ? u->hash : (char *)IMPORT_RESET_HASH;
	if (w->home[0] != '\0')
		record.home = w->home;
	if (u->quota_bytes != 0)
		record.quota_bytes = u->quota_bytes;
	int added = mb_store_user_add(a->cli->store, &record, error, sizeof(error));
	if (added < 0)
		return cli_fail(a->cli, cli_store_exit_code(added), "%s", error);
	return w->mail == MAIL_NONE ? cli_make_home(a->cli, record.home) : EX_OK;
}

/* --- aliases ------------------------------------------------------------ */

static bool plan_has_alias(const struct import_plan *plan, const char *address)
{
	for (size_t i = 0; i < plan->alias_count; i++) {
		if (strcmp(plan->aliases[i].source, address) == 0)
			return true;
	}
	return false;
}

/* check_target - a target on a domain here must be a user or alias */
static int check_target(struct apply *a, const struct import_alias *al, const char *target)
{
	char error[512];
	const char *at = strrchr(target, '@');

	if (at == NULL || target[0] == '@')
		return problem_at(a, &al->origin, "%s: target %s is not an address", al->source, target);
	int here = domain_here(a, at + 1);
	if (here <= 0)
		return here;
	if (import_plan_find_user(a->plan, target) != NULL || plan_has_alias(a->plan, target))
		return 0;
	int state = mb_store_target_state(a->cli->store, a->cli->ctx->recipient_delimiter, target, error, sizeof(error));
	if (state < 0)
		return cli_fail(a->cli, EX_TEMPFAIL, "%s", error), -1;
	if (state == MB_TARGET_LIVE || state == MB_TARGET_DISABLED)
		return 0;
	return problem_at(a, &al->origin, "%s: target %s is on a domain served here but is neither a user nor an alias",
			  al->source, target);
}

static bool same_targets(const struct mb_alias *old, const struct import_alias *al)
{
	for (size_t i = 0; i < al->target_count; i++) {
		bool found = false;
		for (size_t j = 0; j < old->target_count && !found; j++)
			found = strcasecmp(old->targets[j], al->targets[i]) == 0;
		if (!found)
			return false;
	}
	return old->target_count == al->target_count;
}

/* check_domain_alias - "@a" -> "@b" (the exim-mibe seed's rewrite_domains):
   a must not be served (aliases.c's rule), b must be */
static int check_domain_alias(struct apply *a, size_t i)
{
	char error[512];
	const struct import_alias *al = &a->plan->aliases[i];
	struct mb_alias old;

	int here = domain_here(a, al->source + 1);
	if (here < 0)
		return -1;
	if (here > 0)
		return problem_at(a, &al->origin, "%s has mailboxes here; a domain alias needs a domain that is not served",
				  al->source + 1);
	here = domain_here(a, al->targets[0] + 1);
	if (here <= 0)
		return here < 0 ? -1 : problem_at(a, &al->origin, "%s: the domain %s is neither in the import nor served here",
						  al->source, al->targets[0] + 1);
	int found = mb_store_alias_get(a->cli->store, al->source, &old, error, sizeof(error));
	if (found < 0)
		return cli_fail(a->cli, EX_TEMPFAIL, "%s", error), -1;
	a->aliases[i] = IMPORT_NEW;
	if (found > 0) {
		bool same = same_targets(&old, al);
		mb_alias_clear(&old);
		if (!same)
			return problem_at(a, &al->origin, "domain alias %s exists already with another target; not changed",
					  al->source);
		a->aliases[i] = IMPORT_UNCHANGED;
	}
	return 0;
}

static int check_alias(struct apply *a, size_t i)
{
	char error[512];
	const struct import_alias *al = &a->plan->aliases[i];
	struct mb_alias old;
	struct mb_user user;

	if (al->source[0] == '@' && al->target_count == 1 && al->targets[0][0] == '@')
		return check_domain_alias(a, i);
	const char *at = strrchr(al->source, '@');
	int here = at != NULL ? domain_here(a, at + 1) : 0;
	if (here < 0)
		return -1;
	if (here == 0)
		return problem_at(a, &al->origin, "%s: domain %s is neither in the import nor served here", al->source,
				  at != NULL ? at + 1 : "");
	if (import_plan_find_user(a->plan, al->source) != NULL)
		return problem_at(a, &al->origin, "%s is a user of the import too; an alias would take its mail",
				  al->source);
	int found = mb_store_user_get(a->cli->store, al->source, &user, error, sizeof(error));
	if (found > 0) {
		mb_user_clear(&user);
		return problem_at(a, &al->origin, "%s is a mailbox here already; an alias would take its mail",
				  al->source);
	}
	found = found < 0 ? found : mb_store_alias_get(a->cli->store, al->source, &old, error, sizeof(error));
	if (found < 0)
		return cli_fail(a->cli, EX_TEMPFAIL, "%s", error), -1;
	a->aliases[i] = IMPORT_NEW;
	if (found > 0) {
		bool same = same_targets(&old, al);
		mb_alias_clear(&old);
		if (!same)
			return problem_at(a, &al->origin, "alias %s exists already with other targets; not changed "
					  "(see mailbag alias list %s)", al->source, at + 1);
		a->aliases[i] = IMPORT_UNCHANGED;
		return 0;
	}
	for (size_t t = 0; t < al->target_count; t++) {
		if (check_target(a, al, al->targets[t]) < 0)
			return -1;
	}
	return 0;
}

/* --- the summary ---------------------------------------------------------- */

static void count_states(const enum import_state *states, size_t count, struct import_tally *t)
{
	for (size_t i = 0; i < count; i++) {
		if (states[i] == IMPORT_NEW)
			t->made++;
		else
			t->unchanged++;
	}
}

static void print_tally(const char *what, const struct import_tally *t, bool dry_run)
{
	if (t->made + t->unchanged == 0)
		return;
	printf("  %-13s %zu %s, %zu unchanged\n", what, t->made, dry_run ? "to make" : "made", t->unchanged);
}

static void print_notices(const struct import_plan *plan, const struct apply *a)
{
	size_t resets = 0;

	for (size_t i = 0; i < plan->user_count; i++)
		resets += a->users[i].reset ||
			(plan->users[i].hash != NULL && strncmp(plan->users[i].hash, "{MD5-CRYPT}", 11) == 0);
	if (plan->notice_count + resets == 0)
		return;
	printf("notices (what was not carried over, and what to do):\n");
	for (size_t i = 0; i < plan->notice_count; i++) {
		const struct import_message *m = &plan->notices[i];
		if (m->origin.line > 0)
			printf("  %s:%zu: %s\n", m->origin.file, m->origin.line, m->text);
		else
			printf("  %s: %s\n", m->origin.file, m->text);
	}
	for (size_t i = 0; i < plan->user_count; i++) {
		const struct import_user *u = &plan->users[i];
		if (u->hash != NULL && strncmp(u->hash, "{MD5-CRYPT}", 11) == 0)
			printf("  %s:%zu: %s keeps a weak MD5-CRYPT password hash: it logs in with the old password; "
			       "have a new one set soon (mailbag user passwd %s)\n", u->origin.file, u->origin.line,
			       u->address, u->address);
		if (!a->users[i].reset)
			continue;
		printf("  %s:%zu: %s needs a new password (%s): until 'mailbag user passwd %s' sets one, "
		       "it receives mail but cannot log in\n", u->origin.file, u->origin.line, u->address,
		       u->reset_reason != NULL ? u->reset_reason : "still the imported account's placeholder",
		       u->address);
	}
}

static void print_summary(const struct apply *a, const struct import_tally *t, size_t left_over)
{
	bool dry = a->options->dry_run;
	size_t made = 0;

	for (int k = 0; k < 5; k++)
		made += t[k].made;
	printf("%s:\n", dry ? "import plan (dry run: nothing changed)" : "imported");
	print_tally("domains", &t[0], dry);
	print_tally("users", &t[1], dry);
	print_tally("aliases", &t[2], dry);
	print_tally("DKIM keys", &t[3], dry);
	print_tally("certificates", &t[4], dry);
	if (!dry && (a->moved + a->left) > 0)
		printf("  Maildirs      %zu moved, %zu left in place, %lu messages\n", a->moved, a->left, a->messages);
	if (!dry && made == 0)
		printf("nothing changed: everything was imported before\n");
	if (left_over > 0)
		printf("  %zu items of other kinds not carried over yet (see the notices above)\n", left_over);
	print_notices(a->plan, a);
}

/* --- the whole ------------------------------------------------------------ */

static int check_all(struct apply *a)
{
	if (check_domains(a) < 0 || check_users(a) < 0)
		return -1;
	for (size_t i = 0; i < a->plan->alias_count; i++) {
		if (check_alias(a, i) < 0)
			return -1;
	}
	if (import_check_dkim(a->cli, a->plan, a->dkim) < 0 ||
	    import_check_certificates(a->cli, a->plan, a->certificates) < 0 ||
	    import_check_later(a->cli, a->plan) < 0)
		return -1;
	return 0;
}

static void print_mail_plan(const struct apply *a)
{
	for (size_t i = 0; i < a->plan->user_count; i++) {
		const struct user_work *w = &a->users[i];
		const struct import_user *u = &a->plan->users[i];
		if (w->state != IMPORT_NEW || w->mail == MAIL_NONE)
			continue;
		if (w->mail == MAIL_MOVE)
			printf("%s: would move Maildir %s to %s%s\n", u->address, u->maildir, w->move_to,
			       import_same_filesystem(u->maildir, w->move_to) ? "" : " (another filesystem: copied, then removed)");
		else if (w->mail == MAIL_LEAVE)
			printf("%s: would leave Maildir %s in place (home %s)\n", u->address, u->maildir, w->home);
	}
}

static int write_all(struct apply *a, struct import_tally *t)
{
	char error[1024];

	for (size_t i = 0; i < a->plan->domain_count; i++) {
		if (a->domains[i] != IMPORT_NEW)
			continue;
		int added = mb_store_domain_add(a->cli->store, a->plan->domains[i].name, error, sizeof(error));
		if (added < 0 && added != -EEXIST)
			return cli_fail(a->cli, cli_store_exit_code(added), "%s", error);
	}
	for (size_t i = 0; i < a->plan->user_count; i++) {
		if (a->users[i].state != IMPORT_NEW)
			continue;
		int ret = write_user(a, &a->plan->users[i], &a->users[i]);
		if (ret != EX_OK)
			return ret;
	}
	for (size_t i = 0; i < a->plan->alias_count; i++) {
		const struct import_alias *al = &a->plan->aliases[i];
		if (a->aliases[i] != IMPORT_NEW)
			continue;
		int added = mb_store_alias_add(a->cli->store, al->source, (const char *const *)al->targets,
					       al->target_count, error, sizeof(error));
		if (added < 0)
			return cli_fail(a->cli, cli_store_exit_code(added), "%s", error);
	}
	int ret = import_write_dkim(a->cli, a->plan, a->dkim, &t[3]);
	if (ret == EX_OK)
		ret = import_write_certificates(a->cli, a->plan, a->certificates, &t[4]);
	return ret;
}

/* carry_over_later - system aliases, global aliases, relay domains and
   networks, dkim_required and the global Sieve scripts, written after the
   rest (import-apply-later.c); how many could not be */
static size_t carry_over_later(struct cli *cli, const struct import_plan *plan, bool dry_run)
{
	return import_apply_system_aliases(cli, plan, dry_run) +
		import_apply_global_aliases(cli, plan, dry_run) +
		import_apply_relay_domains(cli, plan, dry_run) +
		import_apply_relay_networks(cli, plan, dry_run) +
		import_apply_dkim_required(cli, plan, dry_run) +
		import_apply_sieve_dirs(cli, plan, dry_run);
}

int import_apply(struct cli *cli, struct import_plan *plan, const struct import_apply_options *options)
{
	struct apply a = { .cli = cli, .plan = plan, .options = options };
	struct import_tally t[5] = { 0 };
	int ret = EX_OK;

	a.domains = calloc(plan->domain_count + 1, sizeof(*a.domains));
	a.users = calloc(plan->user_count + 1, sizeof(*a.users));
	a.aliases = calloc(plan->alias_count + 1, sizeof(*a.aliases));
	a.dkim = calloc(plan->dkim_key_count + 1, sizeof(*a.dkim));
	a.certificates = calloc(plan->certificate_count + 1, sizeof(*a.certificates));
	if (a.domains == NULL || a.users == NULL || a.aliases == NULL || a.dkim == NULL || a.certificates == NULL)
		ret = cli_fail(cli, EX_OSERR, "out of memory");
	else if (check_all(&a) < 0)
		ret = EX_TEMPFAIL;
	else if (plan->problem_count > 0)
		ret = EX_DATAERR;
	if (ret == EX_OK) {
		count_states(a.domains, plan->domain_count, &t[0]);
		enum import_state *user_states = calloc(plan->user_count + 1, sizeof(*user_states));
		for (size_t i = 0; user_states != NULL && i < plan->user_count; i++)
			user_states[i] = a.users[i].state;
		if (user_states != NULL)
			count_states(user_states, plan->user_count, &t[1]);
		free(user_states);
		count_states(a.aliases, plan->alias_count, &t[2]);
		if (options->dry_run)
			print_mail_plan(&a);
		else
			ret = write_all(&a, t);
	}
	if (ret == EX_OK) {
		if (options->dry_run) {
			count_states(a.dkim, plan->dkim_key_count, &t[3]);
			count_states(a.certificates, plan->certificate_count, &t[4]);
		}
		size_t left_over = carry_over_later(cli, plan, options->dry_run);
		print_summary(&a, t, left_over);
	}
	free(a.domains);
	free(a.users);
	free(a.aliases);
	free(a.dkim);
	free(a.certificates);
	return ret;
}
