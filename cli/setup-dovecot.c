/* setup-dovecot.c - what `mailbag setup` does to Dovecot: conf.d/90-mailbag.conf
 * from config-templates/dovecot-mailbag.conf (Dovecot 2.3) or
 * dovecot24-mailbag.conf (2.4), as `dovecot --version` says (the mailbag
 * passdb and userdb, quota, the LMTP and auth listeners, the dedupe Sieve
 * script, compiled here; the global Sieve directories and the ManageSieve
 * listener: setup-sieve.c), and the distribution's settings mailbag replaces
 * commented out, with a backup: the system users' passdb, the snakeoil
 * certificate, and on 2.4 Debian's mbox in /var/mail and its LMTP user
 * name without the domain.
 */
#include "setup.h"
#include "dovecot-version.h"
#include "files.h"
#include "mailbag-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- Dovecot ---------------------------------------------------------------- */

/* compile_sieve - the dedupe script written and compiled. After
   90-mailbag.conf and the distribution's settings it replaces, and from that file (-c): sievec takes Dovecot's
   settings, and a :seconds past sieve_duplicate_max_period (Pigeonhole's
   default: 2 days) is cut down to it in the compiled script. Without -c,
   Dovecot 2.4's sievec asks the running Dovecot, which has not read
   90-mailbag.conf yet. conf_changed: compile again even when the binary
   is newer than the script. Under --root, sievec reads the host's
   settings (the copy may name modules the host does not have). */
static int compile_sieve(struct setup *s, const char *sieve_path, const char *dovecot_conf, bool conf_changed)
{
	char dir[PATH_SIZE], binary[PATH_SIZE + 32];
	const char *no_values[] = { NULL };

	setup_in_root(s, "/etc/mailbag", dir, sizeof(dir));
	char *text = setup_render(s, "mailbag-dedupe.sieve", no_values);
	if (text == NULL)
		return -1;
	int ret = setup_write_if_changed(s, sieve_path, text, 0644);
	free(text);
	snprintf(binary, sizeof(binary), "%s/mailbag-dedupe.svbin", dir);
	if (ret < 0 || s->dry_run)
		return ret;
	if (!conf_changed && cli_is_current(binary, sieve_path))
		return 0;
	setup_change(s, "compile %s (sievec)", sieve_path);
	char *with_conf[] = { "sievec", "-c", (char *)dovecot_conf, (char *)sieve_path, NULL };
	char *host_conf[] = { "sievec", (char *)sieve_path, NULL };
	return setup_run(s, s->root[0] == '\0' ? with_conf : host_conf, NULL);
}

/* comment_out - in a Dovecot conf.d file, each line starting with one
   of prefixes commented out with a note (backup kept); setup's own file
   then decides. Lines already commented stay as they are. */
static int comment_out(struct setup *s, const char *file, const char *const *prefixes, const char *why)
{
	char path[PATH_SIZE + 32];

	snprintf(path, sizeof(path), "%s/conf.d/%s", s->dovecot_dir, file);
	char *text = setup_read_text(path);
	if (text == NULL)
		return 0;
	size_t size = strlen(text) * 2 + 1024, used = 0;
	char *next = malloc(size);
	if (next == NULL)
		abort();
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) + 1 : strlen(line);
		bool match = false;
		for (const char *const *p = prefixes; *p != NULL; p++)
			match = match || strncmp(line, *p, strlen(*p)) == 0;
		if (match)
			used += (size_t)snprintf(next + used, size - used, "# mailbag setup: %s (unsetup restores it)\n#", why);
		memcpy(next + used, line, len);
		used += len;
		line += len;
	}
	next[used] = '\0';
	int ret = setup_edit_distribution_file(s, path, text, next);
	free(text);
	free(next);
	return ret;
}

/* the distribution's Dovecot settings that mailbag replaces: the system
   users' passdb (PAM: every account of the host could log in), and the
   snakeoil certificate (which need not exist; 91-mailbag-tls.conf names
   the real one); on Dovecot 2.4 also Debian 13's mbox with its INBOX in
   /var/mail (10-mail.conf) and LMTP's user name without its domain
   (20-lmtp.conf), which 90-mailbag.conf sets again */
static int replace_distribution_settings(struct setup *s, enum cli_dovecot version)
{
	static const char *const auth[] = { "!include auth-system.conf.ext", NULL };
	static const char *const ssl23[] = { "ssl_cert = <", "ssl_key = <", NULL };
	static const char *const ssl24[] = { "ssl_server_cert_file =", "ssl_server_key_file =", NULL };
	static const char *const mail24[] = { "mail_driver =", "mail_path =", "mail_inbox_path =", NULL };
	static const char *const lmtp24[] = { "  auth_username_format =", NULL };

	if (comment_out(s, "10-auth.conf", auth, "only mailbag's users log in") < 0)
		return -1;
	if (comment_out(s, "10-ssl.conf", version == CLI_DOVECOT_24 ? ssl24 : ssl23,
			"the certificates are tls.certificates' (91-mailbag-tls.conf)") < 0)
		return -1;
	if (version != CLI_DOVECOT_24)
		return 0;
	if (comment_out(s, "10-mail.conf", mail24, "mail is in each user's ~/Maildir (90-mailbag.conf)") < 0)
		return -1;
	return comment_out(s, "20-lmtp.conf", lmtp24, "mailbag's users are whole addresses (90-mailbag.conf)");
}

int setup_dovecot(struct setup *s)
{
	char conf[PATH_SIZE + 32], dovecot_conf[PATH_SIZE + 16], sieve[PATH_SIZE + 32];
	char auth[PATH_SIZE], usage[PATH_SIZE], context[PATH_SIZE];
	char uid[24], gid[24], quota_warning[PATH_SIZE], run_dir[PATH_SIZE];
	char sieve_before[PATH_SIZE], sieve_after[PATH_SIZE], sieve_listener[512];
	const char *libexec = getenv("MAILBAG_LIBEXEC");
	enum cli_dovecot version;
	char version_error[512];

	snprintf(conf, sizeof(conf), "%s/conf.d/90-mailbag.conf", s->dovecot_dir);
	snprintf(dovecot_conf, sizeof(dovecot_conf), "%s/dovecot.conf", s->dovecot_dir);
	if (access(dovecot_conf, F_OK) < 0)
		return cli_fail(s->cli, -1, "%s is missing: install Debian's dovecot-core (or give --root a copy of /etc/dovecot)",
				dovecot_conf);
	if (cli_dovecot_version(&version, version_error, sizeof(version_error)) < 0)
		return cli_fail(s->cli, -1, "%s", version_error);
	char mailbag_dir[PATH_SIZE];
	setup_in_root(s, "/etc/mailbag", mailbag_dir, sizeof(mailbag_dir));
	snprintf(sieve, sizeof(sieve), "%s/mailbag-dedupe.sieve", mailbag_dir);
	setup_in_root(s, "/var/spool/postfix/private/mailbag-auth", auth, sizeof(auth));
	/* policyd's dict listener: the context's (a dry run may have none yet) */
	if (s->cli->ctx != NULL)
		snprintf(usage, sizeof(usage), "%s", s->cli->ctx->policyd.usage_socket);
	else
		setup_in_root(s, mb_context_default("policyd.usage_socket"), usage, sizeof(usage));
	setup_in_root(s, "/run/dovecot", run_dir, sizeof(run_dir));
	snprintf(context, sizeof(context), "%s", s->context);
	setup_sieve_dirs_paths(s, sieve_before, sieve_after, sizeof(sieve_before));
	snprintf(uid, sizeof(uid), "%ld", s->vmail_uid);
	snprintf(gid, sizeof(gid), "%ld", s->vmail_gid);
	snprintf(quota_warning, sizeof(quota_warning), "%s/mailbag-quota-warning",
		 libexec != NULL && libexec[0] != '\0' ? libexec : MAILBAG_LIBEXECDIR);
	const char *values[] = {
		"CONTEXT", context, "STORE_GROUP", "mailbag", "DOVECOT_AUTH", auth,
		/* in base_dir (run_dir): Dovecot warns about a listener path
		   that repeats it */
		"DOVECOT_LMTP", "mailbag-lmtp", "LMTPD_USER", "mailbag", "HOSTNAME", s->hostname,
		"USAGE_SOCKET", usage, "QUOTA_WARNING", quota_warning, "DOVECOT_CONF", dovecot_conf,
		"SIEVE_DEDUPE", sieve, "VMAIL_UID", uid, "VMAIL_GID", gid, "VMAIL_USER", "vmail",
		"DELIMITER", "+", "SIEVE_BEFORE_DIR", sieve_before, "SIEVE_AFTER_DIR", sieve_after, NULL,
	};
	char *text = setup_render(s, version == CLI_DOVECOT_24 ? "dovecot24-mailbag.conf" : "dovecot-mailbag.conf",
				  values);
	if (text == NULL)
		return -1;
	char ports[512] = "";
	if (s->imap_port != 143 || s->imaps_port != 993)
		snprintf(ports, sizeof(ports),
			 "\n# setup --imap-port / --imaps-port\nservice imap-login {\n"
			 "  inet_listener imap {\n    port = %ld\n  }\n"
			 "  inet_listener imaps {\n    port = %ld\n  }\n}\n", s->imap_port, s->imaps_port);
	setup_sieve_listener(s, version == CLI_DOVECOT_24, sieve_listener, sizeof(sieve_listener));
	char *full = malloc(strlen(text) + strlen(ports) + strlen(sieve_listener) + 128);
	if (full == NULL)
		abort();
	sprintf(full, "# written by `mailbag setup`; `mailbag unsetup` removes it\n%s%s%s", text, ports, sieve_listener);
	free(text);
	if (!s->dry_run && s->root[0] != '\0' && cli_mkdir_p(run_dir, 0755) < 0) {
		free(full);
		return cli_fail(s->cli, -1, "cannot create %s: %s", run_dir, strerror(errno));
	}
	int changes = s->changes;
	int ret = setup_write_if_changed(s, conf, full, 0644);
	free(full);
	if (ret == 0)
		ret = replace_distribution_settings(s, version);
	bool conf_changed = s->changes != changes;
	if (ret == 0)
		ret = setup_sieve_dirs(s, dovecot_conf, conf_changed);
	if (ret == 0)
		ret = compile_sieve(s, sieve, dovecot_conf, conf_changed);
	return ret;
}

