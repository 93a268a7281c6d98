/* cmd-setup.c - `mailbag setup` and `mailbag unsetup`: mailbag on a Debian host
 *
 * SUMMARY
 *	setup wires mailbag into the distribution's Postfix and Dovecot, in
 *	this order, each step doing only what is not done yet (so a second
 *	run changes nothing):
 *	  users     vmail and mailbag (system users of the host)
 *	  context   /etc/mailbag/context.json (kept when it exists), the store
 *	            and the mail root (`mailbag init`), the --domain domains,
 *	            mailbag-lmtpd's spool directory
 *	  keys      a DKIM pair per domain without one; a self-signed
 *	            certificate for the hostname until a real one is named
 *	  tls       `mailbag tls apply` (Postfix's SNI table, Dovecot's TLS file)
 *	  postfix   main.cf settings from config-templates/postfix-main.cf
 *	            (postconf -e, only those that differ), and one marked
 *	            block of master.cf services; the first change keeps
 *	            main.cf.mailbag-backup and master.cf.mailbag-backup
 *	  host mail the host's own names stay local (no --domain may be one),
 *	            /etc/aliases and its database, root's system alias
 *	            (setup-host-mail.c)
 *	  dovecot   conf.d/90-mailbag.conf from dovecot-mailbag.conf, then
 *	            the dedupe Sieve script compiled from it, the global Sieve
 *	            directories (sieve.*) made and compiled, ManageSieve's
 *	            port (clients.sieve_port); the system users' passdb
 *	            (10-auth.conf) and the snakeoil certificate (10-ssl.conf)
 *	            commented out (backups kept): only mailbag's users log
 *	            in, with the certificates of tls.certificates
 *	  systemd   the units installed and enabled; when systemd runs, they
 *	            are (re)started, Postfix reloaded and Dovecot restarted,
 *	            and a unit that does not start fails setup (EX_UNAVAILABLE)
 *	and then prints the DNS records to publish. --dry-run says what it
 *	would change and changes nothing. --root DIR does everything under
 *	DIR (DIR/etc/postfix, DIR/etc/dovecot, DIR/var/...), for tests and
 *	image builds; Postfix's queue and data directories are then DIR's
 *	too. unsetup puts the backed-up Postfix and Dovecot files back and
 *	removes what setup added to them; the context, store, mail and keys
 *	stay.
 *
 *	Postfix is given socket paths relative to its queue directory
 *	("private/mailbag-policy"), which work whether a service is
 *	chrooted or not; the context names the same sockets absolutely.
 */
#include "setup.h"
#include "commands.h"
#include "dkim-keys.h"
#include "dns-records.h"
#include "files.h"
#include "store-init.h"
#include "tls-apply.h"
#include "mailbag-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static const char setup_usage[] =
	"usage: mailbag setup --hostname HOST [--domain DOMAIN]... [--root DIR] [--dry-run]\n"
	"                     [--smtp-port N] [--submission-port N] [--submissions-port N]\n"
	"                     [--imap-port N] [--imaps-port N]\n"
	"       mailbag unsetup [--root DIR] [--dry-run]\n"
	"\n"
	"setup    make this host's Postfix and Dovecot serve mailbag: users, context,\n"
	"         store, DKIM keys, a self-signed certificate until a real one is in\n"
	"         tls.certificates, Postfix settings (postconf; backups kept), a\n"
	"         Dovecot conf.d file, systemd units; then prints the DNS records.\n"
	"         Running it again changes nothing.\n"
	"unsetup  put Postfix's and Dovecot's own files back; context, store, mail\n"
	"         and keys stay\n"
	"\n"
	"  --root DIR     everything under DIR instead of / (system users are the host's)\n"
	"  --dry-run      say what would change, change nothing\n"
	"  --*-port N     listen on other ports than 25, 587, 465, 143, 993\n";


/* --- users ----------------------------------------------------------------- */

static int ensure_user(struct setup *s, const char *name, const char *home)
{
	if (getpwnam(name) != NULL)
		return 0;
	setup_change(s, "create the system user %s", name);
	if (s->dry_run)
		return 0;
	char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
			 (char *)home, "--shell", "/usr/sbin/nologin", (char *)name, NULL };
	return setup_run(s, argv, NULL);
}

static int setup_users(struct setup *s)
{
	if (ensure_user(s, "vmail", "/var/vmail") < 0 || ensure_user(s, "mailbag", "/nonexistent") < 0)
		return -1;
	struct passwd *vmail = getpwnam("vmail");
	s->vmail_uid = vmail != NULL ? (long)vmail->pw_uid : 5000;
	s->vmail_gid = vmail != NULL ? (long)vmail->pw_gid : 5000;
	return 0;
}

/* --- context, store, domains ------------------------------------------------ */

/* context_text - the schema's paths below --root, and what setup knows */
static char *context_text(struct setup *s)
{
	char full[PATH_SIZE], cert[PATH_SIZE], key[PATH_SIZE];
	json_t *root = json_object();

	json_object_set_new(root, "hostname", json_string(s->hostname));
	json_object_set_new(root, "daemon_user", json_string("mailbag"));
	json_object_set_new(root, "vmail_uid", json_integer(s->vmail_uid));
	json_object_set_new(root, "vmail_gid", json_integer(s->vmail_gid));
	/* the store, mail_root, the sockets, lmtpd.spool_dir, dkim.key_dir,
	   tls' files (lmtpd.dovecot_lmtp is not in Postfix's private/, mode
	   0700: mailbag-lmtpd connects after dropping to the mailbag user) */
	if (mb_context_put_path_defaults(root, s->root) < 0) {
		json_decref(root);
		return NULL;
	}
	snprintf(full, sizeof(full), "/etc/mailbag/tls/%s.pem", s->hostname);
	setup_in_root(s, full, cert, sizeof(cert));
	snprintf(full, sizeof(full), "/etc/mailbag/tls/%s.key", s->hostname);
	setup_in_root(s, full, key, sizeof(key));
	json_t *certs = json_object();
	json_object_set_new(certs, s->hostname, json_pack("{s:s, s:s}", "cert", cert, "key", key));
	json_object_set_new(json_object_get(root, "tls"), "certificates", certs);
	json_object_set_new(root, "clients", json_pack("{s:I, s:I, s:I, s:I}",
		"submission_port", (json_int_t)s->submission_port,
		"submissions_port", (json_int_t)s->submissions_port,
		"imap_port", (json_int_t)s->imap_port, "imaps_port", (json_int_t)s->imaps_port));
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return NULL;
	size_t len = strlen(text);
	char *with_newline = realloc(text, len + 2);
	if (with_newline == NULL) {
		free(text);
		return NULL;
	}
	memcpy(with_newline + len, "\n", 2);
	return with_newline;
}

static int setup_context(struct setup *s)
{
	char dir[PATH_SIZE], error[1024];

	if (access(s->context, F_OK) == 0) {
		/* the files setup writes name the hostname's certificate: one
		   host name for both, or a mismatch nobody notices until TLS */
		struct mb_context *kept;
		if (mb_context_load(s->context, &kept, error, sizeof(error)) < 0)
			return cli_fail(s->cli, -1, "%s", error);
		bool same = strcmp(kept->hostname, s->hostname) == 0;
		if (!same)
			cli_fail(s->cli, -1, "%s names the hostname %s, not %s: run setup with --hostname %s, or change the context first",
				 s->context, kept->hostname, s->hostname, kept->hostname);
		mb_context_free(&kept);
		if (same)
			printf("keeping %s\n", s->context);
		return same ? 0 : -1;
	}
	char *text = context_text(s);
	if (text == NULL)
		return cli_fail(s->cli, -1, "out of memory");
	struct mb_context *check;
	if (mb_context_parse(s->context, text, strlen(text), &check, error, sizeof(error)) < 0) {
		free(text);
		return cli_fail(s->cli, -1, "internal error: the context setup would write is refused: %s", error);
	}
	mb_context_free(&check);
	setup_in_root(s, "/etc/mailbag", dir, sizeof(dir));
	if (!s->dry_run && cli_mkdir_p(dir, 0755) < 0) {
		free(text);
		return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
	}
	int ret = setup_write_if_changed(s, s->context, text, 0644);
	free(text);
	return ret;
}

static int setup_store(struct setup *s)
{
	int exit_code;

	if (s->dry_run) {
		if (access(s->context, F_OK) < 0)
			setup_change(s, "create the store and the mail root (mailbag init)");
		return 0;
	}
	/* what `mailbag init` does once the context is there, without its
	   "keeping" and "ready" lines: setup's own are enough. Its errors
	   name init, as `mailbag init` would. */
	s->cli->command = "init";
	int made = cli_init_store(s->cli);
	s->cli->command = "setup";
	if (made != EX_OK)
		return -1;
	if (cli_store(s->cli, &exit_code) < 0)
		return -1;
	for (size_t i = 0; i < s->domain_count; i++) {
		char error[1024];
		int found = mb_store_domain_exists(s->cli->store, s->domains[i], error, sizeof(error));
		if (found < 0)
			return cli_fail(s->cli, -1, "%s", error);
		if (found > 0)
			continue;
		setup_change(s, "add the domain %s", s->domains[i]);
		int added = mb_store_domain_add(s->cli->store, s->domains[i], error, sizeof(error));
		if (added < 0 && added != -EEXIST)
			return cli_fail(s->cli, -1, "%s", error);
	}
	return 0;
}

/* --- keys and certificate ------------------------------------------------- */

static bool has_key(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		found = found || (len > 4 && strcmp(e->d_name + len - 4, ".key") == 0);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

static int setup_dkim(struct setup *s)
{
	for (size_t i = 0; i < s->domain_count; i++) {
		char dir[PATH_SIZE + MB_DOMAIN_MAX + 2], key_dir[PATH_SIZE];
		/* the context's key_dir; with --dry-run there may be no context
		   yet, and it would name this one */
		setup_in_root(s, mb_context_default("dkim.key_dir"), key_dir, sizeof(key_dir));
		snprintf(dir, sizeof(dir), "%s/%s", s->cli->ctx != NULL ? s->cli->ctx->dkim.key_dir : key_dir,
			 s->domains[i]);
		if (has_key(dir))
			continue;
		setup_change(s, "make DKIM keys for %s (mailbag dkim keygen)", s->domains[i]);
		if (s->dry_run)
			continue;
		/* the records are printed with the others at the end */
		s->cli->command = "dkim keygen";
		int made = cli_dkim_keygen(s->cli, s->domains[i], NULL, NULL, NULL);
		s->cli->command = "setup";
		if (made != EX_OK)
			return -1;
	}
	return 0;
}

/* self_signed - a certificate for hostname (its name as CN and
   subjectAltName, 365 days, EC P-256) */
static int self_signed(struct setup *s, const char *hostname, const char *cert_path, const char *key_path)
{
	char san[MB_DOMAIN_MAX + 8];
	int ok = 0;

	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	if (key == NULL || cert == NULL)
		goto done;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		goto done;
	}
	X509_EXTENSION_free(ext);
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto done;
	int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *kf = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (kf == NULL) {
		if (fd >= 0)
			close(fd);
		cli_fail(s->cli, -1, "cannot create %s: %s", key_path, strerror(errno));
		goto done;
	}
	ok = PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = fclose(kf) == 0 && ok;
	FILE *cf = ok ? fopen(cert_path, "w") : NULL;
	ok = cf != NULL && PEM_write_X509(cf, cert) == 1;
	if (cf != NULL)
		ok = fclose(cf) == 0 && ok;
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	if (!ok)
		return cli_fail(s->cli, -1, "cannot make a self-signed certificate for %s", hostname);
	return 0;
}

static int setup_certificate(struct setup *s)
{
	char dir[PATH_SIZE];

	if (s->dry_run) {
		char cert[PATH_SIZE];
		snprintf(dir, sizeof(dir), "/etc/mailbag/tls/%s.pem", s->hostname);
		setup_in_root(s, dir, cert, sizeof(cert));
		if (access(cert, F_OK) < 0)
			setup_change(s, "make a self-signed certificate for %s", s->hostname);
		return 0;
	}
	const struct mb_tls_certificate *c = mb_context_certificate(s->cli->ctx, s->cli->ctx->hostname);
	if (c == NULL || access(c->cert_file, F_OK) == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", c->cert_file);
	*strrchr(dir, '/') = '\0';
	if (cli_mkdir_p(dir, 0750) < 0)
		return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
	setup_change(s, "make a self-signed certificate for %s (%s) until a real one is in tls.certificates",
	       c->hostname, c->cert_file);
	return self_signed(s, c->hostname, c->cert_file, c->key_file);
}

static int setup_tls(struct setup *s)
{
	if (s->dry_run) {
		char sni[PATH_SIZE];
		setup_in_root(s, "/etc/postfix/mailbag-sni.db", sni, sizeof(sni));
		if (access(sni, F_OK) < 0)
			setup_change(s, "write Postfix's SNI table and Dovecot's TLS file (mailbag tls apply)");
		return 0;
	}
	/* its "wrote" / "unchanged" lines are said, as `mailbag tls apply` says them */
	s->cli->command = "tls apply";
	int ret = cli_tls_apply(s->cli, cli_tls_print_file, NULL);
	s->cli->command = "setup";
	return ret == EX_OK ? 0 : -1;
}

/* --- systemd ----------------------------------------------------------------- */

static const char *const units[] = {
	"mailbag-policyd.service", "mailbag-lmtpd.service", "mailbag-milter.service",
	"mailbag-expire.timer", "mailbag-tls-renew.timer", "mailbag-expire.service",
	"mailbag-tls-renew.service",
};
#define UNITS_ENABLED 5

static int setup_units(struct setup *s)
{
	const char *source = getenv("MAILBAG_UNITS");
	char dir[PATH_SIZE], wants[PATH_SIZE + 32];

	if (source == NULL || source[0] == '\0')
		source = MAILBAG_UNIT_DIR;
	setup_in_root(s, "/etc/systemd/system", dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char from[PATH_SIZE + 64], to[PATH_SIZE + 64], link_path[PATH_SIZE + 128], target[128];
		bool timer = strstr(units[i], ".timer") != NULL;
		snprintf(from, sizeof(from), "%s/%s", source, units[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, units[i]);
		char *text = setup_read_text(from);
		if (text == NULL)
			return cli_fail(s->cli, -1, "cannot read the unit %s: %s (set MAILBAG_UNITS)", from, strerror(errno));
		if (!s->dry_run && cli_mkdir_p(dir, 0755) < 0) {
			free(text);
			return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
		}
		int ret = setup_write_if_changed(s, to, text, 0644);
		free(text);
		if (ret < 0)
			return -1;
		if (i >= UNITS_ENABLED)
			continue;
		/* what `systemctl enable` makes, done by hand so that it works
		   under --root and without a running systemd */
		snprintf(wants, sizeof(wants), "%s/%s", dir, timer ? "timers.target.wants" : "multi-user.target.wants");
		snprintf(link_path, sizeof(link_path), "%s/%s", wants, units[i]);
		snprintf(target, sizeof(target), "/etc/systemd/system/%s", units[i]);
		char current[PATH_SIZE];
		ssize_t n = readlink(link_path, current, sizeof(current) - 1);
		if (n > 0 && (size_t)n == strlen(target) && strncmp(current, target, (size_t)n) == 0)
			continue;
		setup_change(s, "enable %s", units[i]);
		if (s->dry_run)
			continue;
		if (cli_mkdir_p(wants, 0755) < 0 || (unlink(link_path) < 0 && errno != ENOENT) ||
		    symlink(target, link_path) < 0)
			return cli_fail(s->cli, -1, "cannot link %s: %s", link_path, strerror(errno));
	}
	return 0;
}

/* mailbag-lmtpd's spool directory (lmtpd.spool_dir): its unit names it in
   ReadWritePaths, and systemd refuses to start a unit whose ReadWritePaths
   is missing (status 226/NAMESPACE). mailbag-lmtpd gives it to its user. */
static int setup_spool(struct setup *s)
{
	const char *dir = s->cli->ctx->lmtpd.spool_dir;
	struct stat st;

	if (stat(dir, &st) == 0)
		return 0;
	setup_change(s, "create %s (mailbag-lmtpd's spool)", dir);
	if (!s->dry_run && cli_mkdir_p(dir, 0700) < 0)
		return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

/* start_units - when this host runs systemd: the units (re)started and
   Postfix and Dovecot reloaded after a change; without a change, the units
   started if they are not running (a setup whose start failed, run
   again). Postfix is reloaded and Dovecot restarted even when a unit failed: their
   files are written, and mail waits (4xx) until the unit runs. Returns -1
   when systemctl failed. */
static int start_units(struct setup *s)
{
	if (s->dry_run || s->root[0] != '\0')
		return 0;
	if (access("/run/systemd/system", F_OK) < 0) {
		printf("systemd is not running here: start mailbag-policyd, mailbag-lmtpd and mailbag-milter yourself\n");
		return 0;
	}
	char *reload[] = { "systemctl", "daemon-reload", NULL };
	char *start[] = { "systemctl", s->changes > 0 ? "restart" : "start", "mailbag-policyd.service",
			  "mailbag-lmtpd.service", "mailbag-milter.service", "mailbag-expire.timer",
			  "mailbag-tls-renew.timer", NULL };
	char *reload_postfix[] = { "systemctl", "reload-or-restart", "postfix.service", NULL };
	/* restarted, not reloaded: Dovecot 2.4's master loads the settings
	   modules (mailbag_context_path) only when it starts, and refuses a
	   reload of a file that names a setting of a module it has not loaded */
	char *restart_dovecot[] = { "systemctl", "restart", "dovecot.service", NULL };
	if (setup_run(s, reload, NULL) < 0)
		return -1;
	int started = setup_run(s, start, NULL);
	if (s->changes > 0 && (setup_run(s, reload_postfix, NULL) < 0 || setup_run(s, restart_dovecot, NULL) < 0))
		return -1;
	if (started < 0)
		return cli_fail(s->cli, -1, "a mailbag unit did not start: see 'systemctl status \'mailbag-*\'', fix it, then run setup again");
	return 0;
}

/* --- the commands -------------------------------------------------------------- */

static int parse_port(struct cli *cli, const char *option, const char *text, long *port)
{
	char *end;

	errno = 0;
	*port = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || *port < 1 || *port > 65535)
		return cli_fail(cli, -1, "--%s '%s': a port number from 1 to 65535", option, text);
	return 0;
}

static int parse_root(struct cli *cli, const char *text, char *root, size_t size)
{
	size_t len = strlen(text);

	while (len > 1 && text[len - 1] == '/')
		len--;
	if (text[0] != '/' || len >= size || strstr(text, "/../") != NULL)
		return cli_fail(cli, -1, "--root '%s': give an absolute directory", text);
	if (len == 1) {
		root[0] = '\0';
		return 0;
	}
	memcpy(root, text, len);
	root[len] = '\0';
	return 0;
}

static void set_paths(struct setup *s)
{
	setup_in_root(s, "/etc/mailbag/context.json", s->context, sizeof(s->context));
	setup_in_root(s, "/etc/postfix", s->postfix_dir, sizeof(s->postfix_dir));
	setup_in_root(s, "/etc/dovecot", s->dovecot_dir, sizeof(s->dovecot_dir));
}

static int do_setup(struct setup *s)
{
	int exit_code;

	set_paths(s);
	s->cli->context_path = s->context;
	if (setup_host_mail_check_domains(s) < 0)
		return EX_DATAERR;
	if (setup_users(s) < 0 || setup_context(s) < 0 || setup_store(s) < 0)
		return EX_CANTCREAT;
	if (setup_host_mail_check_store(s) < 0)
		return EX_DATAERR;
	if (!s->dry_run && cli_context(s->cli, &exit_code) < 0)
		return exit_code;
	if ((!s->dry_run && setup_spool(s) < 0) || setup_dkim(s) < 0 || setup_srs_secrets(s) < 0 || setup_certificate(s) < 0 ||
	    setup_postfix_dirs(s) < 0 || setup_postfix_main(s) < 0 || setup_host_mail_files(s) < 0 || setup_tls(s) < 0 ||
	    setup_postfix_master(s) < 0 ||
	    setup_dovecot(s) < 0 || setup_units(s) < 0)
		return EX_CANTCREAT;
	/* the context has no admin address yet: NULL says so */
	if (setup_system_aliases(s, NULL) < 0)
		return EX_CANTCREAT;
	if (start_units(s) < 0)
		return EX_UNAVAILABLE;
	if (s->dry_run) {
		printf("%d change%s to make\n", s->changes, s->changes == 1 ? "" : "s");
		return EX_OK;
	}
	printf("%s: %d change%s\n", s->changes > 0 ? "set up" : "already set up, nothing changed",
	       s->changes, s->changes == 1 ? "" : "s");
	char *postfix_check[] = { "postfix", "-c", s->postfix_dir, "check", NULL };
	if (setup_run(s, postfix_check, NULL) < 0)
		return EX_CONFIG;
	printf("\nPublish these DNS records, then check them with 'mailbag dns check':\n");
	s->cli->command = "dns records";
	for (size_t i = 0; i < s->domain_count; i++)
		cli_dns_records(s->cli, s->domains[i]);
	s->cli->command = "setup";
	return EX_OK;
}

/* restore - put PATH.mailbag-backup back as PATH */
static int restore(struct setup *s, const char *path)
{
	char backup[PATH_SIZE + 32];

	snprintf(backup, sizeof(backup), "%s.mailbag-backup", path);
	if (access(backup, F_OK) < 0)
		return 0;
	setup_change(s, "put %s back from %s", path, backup);
	if (!s->dry_run && rename(backup, path) < 0)
		return cli_fail(s->cli, -1, "cannot rename %s to %s: %s", backup, path, strerror(errno));
	return 0;
}

static int remove_file(struct setup *s, const char *path)
{
	struct stat st;

	/* lstat: an enabling link points at a unit that may be gone */
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	setup_change(s, "remove %s", path);
	if (!s->dry_run && unlink(path) < 0)
		return cli_fail(s->cli, -1, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static int do_unsetup(struct setup *s)
{
	char path[PATH_SIZE + 128], dir[PATH_SIZE];

	set_paths(s);
	if (!s->dry_run && s->root[0] == '\0' && access("/run/systemd/system", F_OK) == 0) {
		/* stopped before their unit files go */
		char *stop[] = { "systemctl", "disable", "--now", "mailbag-policyd.service", "mailbag-lmtpd.service",
				 "mailbag-milter.service", "mailbag-expire.timer", "mailbag-tls-renew.timer", NULL };
		setup_run(s, stop, NULL);
	}
	snprintf(path, sizeof(path), "%s/main.cf", s->postfix_dir);
	int ret = restore(s, path);
	snprintf(path, sizeof(path), "%s/master.cf", s->postfix_dir);
	ret = ret < 0 ? ret : restore(s, path);
	snprintf(path, sizeof(path), "%s/conf.d/10-auth.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	snprintf(path, sizeof(path), "%s/conf.d/10-ssl.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	/* Dovecot 2.4 only: the settings 90-mailbag.conf replaces there */
	snprintf(path, sizeof(path), "%s/conf.d/10-mail.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	snprintf(path, sizeof(path), "%s/conf.d/20-lmtp.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	static const char *const added[] = {
		"/etc/postfix/mailbag-sni", "/etc/postfix/mailbag-sni.db",
		"/etc/dovecot/conf.d/90-mailbag.conf", "/etc/dovecot/conf.d/91-mailbag-tls.conf",
	};
	for (size_t i = 0; ret == 0 && i < sizeof(added) / sizeof(added[0]); i++) {
		setup_in_root(s, added[i], path, sizeof(path));
		ret = remove_file(s, path);
	}
	setup_in_root(s, "/etc/systemd/system", dir, sizeof(dir));
	for (size_t i = 0; ret == 0 && i < sizeof(units) / sizeof(units[0]); i++) {
		bool timer = strstr(units[i], ".timer") != NULL;
		if (i < UNITS_ENABLED) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir,
				 timer ? "timers.target.wants" : "multi-user.target.wants", units[i]);
			ret = remove_file(s, path);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, units[i]);
		if (ret == 0)
			ret = remove_file(s, path);
	}
	if (ret < 0)
		return EX_CANTCREAT;
	printf("%s%d change%s; kept: %s, the store, the mail, the DKIM keys and certificates\n",
	       s->dry_run ? "would make " : "", s->changes, s->changes == 1 ? "" : "s", s->context);
	if (!s->dry_run && s->root[0] == '\0' && access("/run/systemd/system", F_OK) == 0 && s->changes > 0) {
		char *reload[] = { "systemctl", "daemon-reload", NULL };
		char *restart[] = { "systemctl", "reload-or-restart", "postfix.service", "dovecot.service", NULL };
		setup_run(s, reload, NULL);
		setup_run(s, restart, NULL);
	}
	return EX_OK;
}

int cmd_setup(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, 'H' },
		{ "domain", required_argument, NULL, 'd' },
		{ "root", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "smtp-port", required_argument, NULL, '1' },
		{ "submission-port", required_argument, NULL, '2' },
		{ "submissions-port", required_argument, NULL, '3' },
		{ "imap-port", required_argument, NULL, '4' },
		{ "imaps-port", required_argument, NULL, '5' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool unsetup = strcmp(argv[0], "unsetup") == 0;
	struct setup s = { .cli = cli, .root = "", .smtp_port = 25, .submission_port = 587,
			   .submissions_port = 465, .imap_port = 143, .imaps_port = 993 };
	char root[PATH_SIZE] = "", hostname[MB_DOMAIN_MAX + 1] = "";
	char (*domains)[MB_DOMAIN_MAX + 1] = calloc((size_t)argc + 1, sizeof(*domains));
	char **domain_list = calloc((size_t)argc + 1, sizeof(*domain_list));
	int opt, ret = EX_OK;
	long *ports[] = { &s.smtp_port, &s.submission_port, &s.submissions_port, &s.imap_port, &s.imaps_port };

	cli->command = unsetup ? "unsetup" : "setup";
	if (domains == NULL || domain_list == NULL) {
		free(domains);
		free(domain_list);
		return cli_fail(cli, EX_OSERR, "out of memory");
	}
	optind = 1;
	while (ret == EX_OK && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'H':
			/* the parser says what is wrong (a name without a dot too) */
			if (cli_parse_domain(cli, optarg, hostname) < 0)
				ret = EX_USAGE;
			break;
		case 'd':
			if (cli_parse_domain(cli, optarg, domains[s.domain_count]) < 0)
				ret = EX_USAGE;
			else
				domain_list[s.domain_count] = domains[s.domain_count], s.domain_count++;
			break;
		case 'r':
			if (parse_root(cli, optarg, root, sizeof(root)) < 0)
				ret = EX_USAGE;
			break;
		case 'n': s.dry_run = true; break;
		case '1': case '2': case '3': case '4': case '5':
			if (parse_port(cli, options[opt - '1' + 4].name, optarg, ports[opt - '1']) < 0)
				ret = EX_USAGE;
			break;
		case 'h': fputs(setup_usage, stdout); ret = -1; break;
		default: fputs(setup_usage, stderr); ret = EX_USAGE; break;
		}
	}
	if (ret == EX_OK && optind != argc)
		ret = cli_fail(cli, EX_USAGE, "unexpected '%s' (see 'mailbag setup --help')", argv[optind]);
	if (ret == EX_OK && !unsetup && hostname[0] == '\0')
		ret = cli_fail(cli, EX_USAGE, "give --hostname, this host's fully qualified name (the MX of your domains)");
	if (ret == EX_OK && geteuid() != 0 && !s.dry_run)
		ret = cli_fail(cli, EX_NOPERM, "run it as root: it changes Postfix's and Dovecot's configuration");
	if (ret == EX_OK) {
		s.root = root;
		s.hostname = hostname;
		s.domains = domain_list;
		ret = unsetup ? do_unsetup(&s) : do_setup(&s);
	}
	free(domains);
	free(domain_list);
	return ret < 0 ? EX_OK : ret;
}
