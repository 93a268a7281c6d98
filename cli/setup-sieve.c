/* setup-sieve.c - what `mailbag setup` does for Sieve beyond the dedupe
 * script (setup-dovecot.c): the global script directories and the
 * ManageSieve listener
 *
 * SUMMARY
 *	The context's sieve.before_dir and sieve.after_dir are created
 *	(0755, root's) and every *.sieve in them compiled with sievec, as
 *	Pigeonhole wants for global scripts (Dovecot delivers as vmail and
 *	cannot write a .svbin there); a script newer than its binary, or a
 *	changed 90-mailbag.conf, compiles that directory again. The
 *	templates name the directories (sieve_before2 / sieve_after on
 *	Dovecot 2.3, sieve_script blocks on 2.4).
 *
 *	ManageSieve itself is Debian's dovecot-managesieved, which enables
 *	the protocol (protocols.d) with the logins, the TLS settings and the
 *	passdb that IMAP has. When it is installed, 90-mailbag.conf gets a
 *	managesieve-login block for clients.sieve_port when that is not
 *	4190 (0: no listener), and on Dovecot 2.4 the deprecated port 2000
 *	that Debian 13's 20-managesieve.conf opens is closed.
 */
#include "setup.h"
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* where Debian's dovecot-managesieved puts its login process */
#define MANAGESIEVE_LOGIN "/usr/lib/dovecot/managesieve-login"
#define MANAGESIEVE_DEFAULT_PORT 4190

/* stale_script - a *.sieve in dir whose .svbin is missing or older; its
   name into name_r. 1 found, 0 none, -1 unreadable dir (errno) */
static int stale_script(const char *dir, char *name_r, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while (found == 0 && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char script[PATH_SIZE + 256], binary[PATH_SIZE + 256];
		if (len <= 6 || e->d_name[0] == '.' || strcmp(e->d_name + len - 6, ".sieve") != 0)
			continue;
		snprintf(script, sizeof(script), "%s/%s", dir, e->d_name);
		snprintf(binary, sizeof(binary), "%s/%.*s.svbin", dir, (int)(len - 6), e->d_name);
		if (!cli_is_current(binary, script)) {
			snprintf(name_r, size, "%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* has_script - whether dir holds any *.sieve */
static bool has_script(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d != NULL && !found && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		found = len > 6 && e->d_name[0] != '.' && strcmp(e->d_name + len - 6, ".sieve") == 0;
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/* sieve_dir - one global script directory made and compiled */
static int sieve_dir(struct setup *s, const char *dir, const char *key, const char *dovecot_conf,
		     bool conf_changed)
{
	char stale[256] = "";

	if (access(dir, F_OK) < 0) {
		setup_change(s, "create %s (%s: global Sieve scripts)", dir, key);
		if (!s->dry_run && cli_mkdir_p(dir, 0755) < 0)
			return cli_fail(s->cli, -1, "cannot create %s (context key %s): %s", dir, key, strerror(errno));
		return 0;
	}
	int ret = stale_script(dir, stale, sizeof(stale));
	if (ret < 0)
		return cli_fail(s->cli, -1, "cannot read %s (context key %s): %s", dir, key, strerror(errno));
	if (ret == 0 && !(conf_changed && has_script(dir)))
		return 0;
	setup_change(s, "compile the Sieve scripts in %s (sievec)%s%s", dir, stale[0] ? ": " : "", stale);
	if (s->dry_run)
		return 0;
	/* as for the dedupe script: with 90-mailbag.conf's settings, but
	   the host's under --root */
	char *with_conf[] = { "sievec", "-c", (char *)dovecot_conf, (char *)dir, NULL };
	char *host_conf[] = { "sievec", (char *)dir, NULL };
	if (setup_run(s, s->root[0] == '\0' ? with_conf : host_conf, NULL) < 0)
		return cli_fail(s->cli, -1, "a script in %s (context key %s) does not compile: mend it and run setup again",
				dir, key);
	return 0;
}

void setup_sieve_dirs_paths(const struct setup *s, char *before, char *after, size_t size)
{
	if (s->cli->ctx != NULL) {
		snprintf(before, size, "%s", s->cli->ctx->sieve.before_dir);
		snprintf(after, size, "%s", s->cli->ctx->sieve.after_dir);
		return;
	}
	/* a dry run may have no context yet: it would name these */
	setup_in_root(s, mb_context_default("sieve.before_dir"), before, size);
	setup_in_root(s, mb_context_default("sieve.after_dir"), after, size);
}

int setup_sieve_dirs(struct setup *s, const char *dovecot_conf, bool conf_changed)
{
	char before[PATH_SIZE], after[PATH_SIZE];

	setup_sieve_dirs_paths(s, before, after, sizeof(before));
	if (sieve_dir(s, before, "sieve.before_dir", dovecot_conf, conf_changed) < 0)
		return -1;
	return sieve_dir(s, after, "sieve.after_dir", dovecot_conf, conf_changed);
}

void setup_sieve_listener(const struct setup *s, bool dovecot24, char *out, size_t size)
{
	long port = s->cli->ctx != NULL ? (long)s->cli->ctx->clients.sieve_port : MANAGESIEVE_DEFAULT_PORT;
	size_t used = 0;

	out[0] = '\0';
	if (access(MANAGESIEVE_LOGIN, X_OK) < 0 || (port == MANAGESIEVE_DEFAULT_PORT && !dovecot24))
		return;
	used += (size_t)snprintf(out + used, size - used,
				 "\n# ManageSieve (Debian's dovecot-managesieved) on the context's clients.sieve_port"
				 "%s\nservice managesieve-login {\n", port == 0 ? " (0: none)" : "");
	if (port != MANAGESIEVE_DEFAULT_PORT)
		used += (size_t)snprintf(out + used, size - used, "  inet_listener sieve {\n    port = %ld\n  }\n", port);
	/* Debian 13's 20-managesieve.conf also listens on 2000 (before RFC 5804) */
	if (dovecot24 && used < size)
		used += (size_t)snprintf(out + used, size - used, "  inet_listener sieve_deprecated {\n    port = 0\n  }\n");
	if (used < size)
		snprintf(out + used, size - used, "}\n");
}
