/* cmd-setup.c - `mailbag setup` and `mailbag unsetup`: mailbag on a Debian host
 *
 * SUMMARY
 *	setup wires mailbag into the distribution's Postfix and Dovecot, in
 *	this order, each step doing only what is not done yet (so a second
 *	run changes nothing):
 *	  users     vmail and mailbag (system users of the host)
 *	  context   /etc/mailbag/context.json (kept when it exists), the store
 *	            and the mail root (`mailbag init`), the --domain domains
 *	  keys      a DKIM pair per domain without one; a self-signed
 *	            certificate for the hostname until a real one is named
 *	  tls       `mailbag tls apply` (Postfix's SNI table, Dovecot's TLS file)
 *	  postfix   main.cf settings from config-templates/postfix-main.cf
 *	            (postconf -e, only those that differ), and one marked
 *	            block of master.cf services; the first change keeps
 *	            main.cf.mailbag-backup and master.cf.mailbag-backup
 *	  dovecot   conf.d/90-mailbag.conf from dovecot-mailbag.conf, the
 *	            dedupe Sieve script compiled; the system users' passdb
 *	            (10-auth.conf) and the snakeoil certificate (10-ssl.conf)
 *	            commented out (backups kept): only mailbag's users log
 *	            in, with the certificates of tls.certificates
 *	  systemd   the units installed and enabled (started when systemd runs)
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
#include "cli.h"
#include "mailbag-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

extern char **environ;

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

#define PATH_SIZE 4096
#define MASTER_BEGIN "# BEGIN mailbag: services of `mailbag setup` (`mailbag unsetup` removes them)\n"
#define MASTER_END "# END mailbag\n"

struct setup {
	struct cli *cli;
	const char *root;            /* "" for / */
	const char *hostname;
	char **domains;
	size_t domain_count;
	bool dry_run;
	long smtp_port, submission_port, submissions_port, imap_port, imaps_port;
	int changes;
	long vmail_uid, vmail_gid;
	char context[PATH_SIZE];
	char postfix_dir[PATH_SIZE];
	char dovecot_dir[PATH_SIZE];
};

/* --- small helpers ------------------------------------------------------- */

static void in_root(const struct setup *s, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", s->root, path);
}

static void change(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* change - one change made (or, with --dry-run, one that would be) */
static void change(struct setup *s, const char *fmt, ...)
{
	va_list args;

	s->changes++;
	fputs(s->dry_run ? "would " : "", stdout);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t size = 0;

	if (f == NULL)
		return NULL;
	FILE *mem = open_memstream(&text, &size);
	char buf[8192];
	size_t n;
	while (mem != NULL && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	if (mem != NULL)
		fclose(mem);
	return text;
}

/* run - a command, waited for; 0 or -1 (printed) */
static int run(struct setup *s, char *const argv[], char **output)
{
	posix_spawn_file_actions_t actions;
	int pipefd[2] = { -1, -1 }, status;
	pid_t pid;

	posix_spawn_file_actions_init(&actions);
	if (output != NULL) {
		if (pipe(pipefd) < 0)
			return cli_fail(s->cli, -1, "pipe: %s", strerror(errno));
		posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
		posix_spawn_file_actions_addclose(&actions, pipefd[0]);
	}
	int err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (output != NULL)
		close(pipefd[1]);
	if (err != 0) {
		if (output != NULL)
			close(pipefd[0]);
		return cli_fail(s->cli, -1, "cannot run %s: %s", argv[0], strerror(err));
	}
	if (output != NULL) {
		size_t size = 0;
		FILE *mem = open_memstream(output, &size);
		char buf[8192];
		ssize_t n;
		while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, mem);
		fclose(mem);
		close(pipefd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cli_fail(s->cli, -1, "waiting for %s: %s", argv[0], strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cli_fail(s->cli, -1, "%s failed (exit %d); its message is above", argv[0],
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* write_if_changed - a file setup owns: written when its text differs */
static int write_if_changed(struct setup *s, const char *path, const char *text, mode_t mode)
{
	char *old = read_text(path);
	bool same = old != NULL && strcmp(old, text) == 0;
	bool changed;

	free(old);
	if (same)
		return 0;
	change(s, "write %s", path);
	if (s->dry_run)
		return 0;
	return cli_write_file(s->cli, path, text, mode, &changed);
}

/* backup_once - keep the distribution's file as PATH.mailbag-backup
   before setup first changes it */
static int backup_once(struct setup *s, const char *path)
{
	char backup[PATH_SIZE + 32];
	bool changed;

	snprintf(backup, sizeof(backup), "%s.mailbag-backup", path);
	if (access(backup, F_OK) == 0)
		return 0;
	char *text = read_text(path);
	if (text == NULL)
		return cli_fail(s->cli, -1, "cannot read %s: %s", path, strerror(errno));
	change(s, "keep %s as %s", path, backup);
	int ret = s->dry_run ? 0 : cli_write_file(s->cli, backup, text, 0644, &changed);
	free(text);
	return ret;
}

/* render - a template of config-templates/ with every @NAME@ filled
   from values (name, value pairs ending with NULL) */
static char *render(struct setup *s, const char *template_name, const char *const *values)
{
	const char *dir = getenv("MAILBAG_TEMPLATES");
	char path[PATH_SIZE];

	snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] != '\0' ? dir : MAILBAG_TEMPLATE_DIR,
		 template_name);
	char *text = read_text(path);
	if (text == NULL) {
		cli_fail(s->cli, -1, "cannot read the template %s: %s (set MAILBAG_TEMPLATES to config-templates/)",
			 path, strerror(errno));
		return NULL;
	}
	for (const char *const *v = values; v[0] != NULL; v += 2) {
		char placeholder[64];
		snprintf(placeholder, sizeof(placeholder), "@%s@", v[0]);
		size_t plen = strlen(placeholder), vlen = strlen(v[1]);
		char *at;
		while ((at = strstr(text, placeholder)) != NULL) {
			size_t before = (size_t)(at - text), after = strlen(at + plen);
			char *next = malloc(before + vlen + after + 1);
			if (next == NULL)
				abort();
			memcpy(next, text, before);
			memcpy(next + before, v[1], vlen);
			memcpy(next + before + vlen, at + plen, after + 1);
			free(text);
			text = next;
		}
	}
	char *left = strchr(text, '@');
	while (left != NULL) {
		size_t n = strspn(left + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		if (n > 0 && left[n + 1] == '@') {
			cli_fail(s->cli, -1, "%s: no value for %.*s", path, (int)n + 2, left);
			free(text);
			return NULL;
		}
		left = strchr(left + 1, '@');
	}
	return text;
}

/* --- users ----------------------------------------------------------------- */

static int ensure_user(struct setup *s, const char *name, const char *home)
{
	if (getpwnam(name) != NULL)
		return 0;
	change(s, "create the system user %s", name);
	if (s->dry_run)
		return 0;
	char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
			 (char *)home, "--shell", "/usr/sbin/nologin", (char *)name, NULL };
	return run(s, argv, NULL);
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

static void put_path(const struct setup *s, json_t *obj, const char *key, const char *path)
{
	char full[PATH_SIZE];

	in_root(s, path, full, sizeof(full));
	json_object_set_new(obj, key, json_string(full));
}

static char *context_text(struct setup *s)
{
	char full[PATH_SIZE], cert[PATH_SIZE], key[PATH_SIZE];
	json_t *root = json_object();

	json_object_set_new(root, "hostname", json_string(s->hostname));
	in_root(s, "/var/lib/mailbag/store", full, sizeof(full));
	char store[PATH_SIZE + 8];
	snprintf(store, sizeof(store), "lmdb:%s", full);
	json_object_set_new(root, "store", json_string(store));
	json_object_set_new(root, "daemon_user", json_string("mailbag"));
	put_path(s, root, "mail_root", "/var/vmail");
	json_object_set_new(root, "vmail_uid", json_integer(s->vmail_uid));
	json_object_set_new(root, "vmail_gid", json_integer(s->vmail_gid));
	json_t *policyd = json_object(), *lmtpd = json_object(), *milter = json_object();
	put_path(s, policyd, "socketmap_socket", "/var/spool/postfix/private/mailbag-socketmap");
	put_path(s, policyd, "policy_socket", "/var/spool/postfix/private/mailbag-policy");
	put_path(s, policyd, "usage_socket", "/run/mailbag/usage");
	json_object_set_new(root, "policyd", policyd);
	put_path(s, lmtpd, "socket", "/var/spool/postfix/private/mailbag-lmtp");
	/* not in Postfix's private/ (mode 0700): mailbag-lmtpd connects after
	   dropping to the mailbag user */
	put_path(s, lmtpd, "dovecot_lmtp", "/run/dovecot/mailbag-lmtp");
	put_path(s, lmtpd, "spool_dir", "/var/spool/mailbag");
	json_object_set_new(root, "lmtpd", lmtpd);
	put_path(s, milter, "socket", "/var/spool/postfix/private/mailbag-milter");
	json_object_set_new(root, "milter", milter);
	json_t *dkim = json_object();
	put_path(s, dkim, "key_dir", "/etc/mailbag/dkim");
	json_object_set_new(root, "dkim", dkim);
	snprintf(full, sizeof(full), "/etc/mailbag/tls/%s.pem", s->hostname);
	in_root(s, full, cert, sizeof(cert));
	snprintf(full, sizeof(full), "/etc/mailbag/tls/%s.key", s->hostname);
	in_root(s, full, key, sizeof(key));
	json_t *tls = json_object(), *certs = json_object();
	json_object_set_new(certs, s->hostname, json_pack("{s:s, s:s}", "cert", cert, "key", key));
	json_object_set_new(tls, "certificates", certs);
	put_path(s, tls, "postfix_sni_map", "/etc/postfix/mailbag-sni");
	put_path(s, tls, "dovecot_conf", "/etc/dovecot/conf.d/91-mailbag-tls.conf");
	json_object_set_new(root, "tls", tls);
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
		printf("keeping %s\n", s->context);
		return 0;
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
	in_root(s, "/etc/mailbag", dir, sizeof(dir));
	if (!s->dry_run && cli_mkdir_p(dir, 0755) < 0) {
		free(text);
		return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
	}
	int ret = write_if_changed(s, s->context, text, 0644);
	free(text);
	return ret;
}

static int setup_store(struct setup *s)
{
	char *argv[] = { "init", NULL };
	int exit_code;

	if (s->dry_run) {
		if (access(s->context, F_OK) < 0)
			change(s, "create the store and the mail root (mailbag init)");
		return 0;
	}
	/* init says "keeping" and "ready" each time; setup's own lines are enough */
	fflush(stdout);
	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(null, STDOUT_FILENO);
	int ret = cmd_init(s->cli, 1, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
	s->cli->command = "setup";
	if (ret != EX_OK)
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
		change(s, "add the domain %s", s->domains[i]);
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
		in_root(s, "/etc/mailbag/dkim", key_dir, sizeof(key_dir));
		if (!s->dry_run)
			snprintf(key_dir, sizeof(key_dir), "%s", s->cli->ctx->dkim_key_dir);
		snprintf(dir, sizeof(dir), "%s/%s", key_dir, s->domains[i]);
		if (has_key(dir))
			continue;
		change(s, "make DKIM keys for %s (mailbag dkim keygen)", s->domains[i]);
		if (s->dry_run)
			continue;
		char *argv[] = { "dkim", "keygen", s->domains[i], NULL };
		fflush(stdout);
		int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(null, STDOUT_FILENO);
		int ret = cmd_dkim(s->cli, 3, argv);
		fflush(stdout);
		dup2(saved, STDOUT_FILENO);
		close(saved);
		close(null);
		s->cli->command = "setup";
		if (ret != EX_OK)
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
		in_root(s, dir, cert, sizeof(cert));
		if (access(cert, F_OK) < 0)
			change(s, "make a self-signed certificate for %s", s->hostname);
		return 0;
	}
	const struct mb_tls_certificate *c = mb_context_certificate(s->cli->ctx, s->cli->ctx->hostname);
	if (c == NULL || access(c->cert_file, F_OK) == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", c->cert_file);
	*strrchr(dir, '/') = '\0';
	if (cli_mkdir_p(dir, 0750) < 0)
		return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
	change(s, "make a self-signed certificate for %s (%s) until a real one is in tls.certificates",
	       c->hostname, c->cert_file);
	return self_signed(s, c->hostname, c->cert_file, c->key_file);
}

static int setup_tls(struct setup *s)
{
	char *argv[] = { "tls", "apply", NULL };

	if (s->dry_run) {
		char sni[PATH_SIZE];
		in_root(s, "/etc/postfix/mailbag-sni.db", sni, sizeof(sni));
		if (access(sni, F_OK) < 0)
			change(s, "write Postfix's SNI table and Dovecot's TLS file (mailbag tls apply)");
		return 0;
	}
	int ret = cmd_tls(s->cli, 2, argv);
	s->cli->command = "setup";
	return ret == EX_OK ? 0 : -1;
}

/* --- Postfix --------------------------------------------------------------- */

static char *postfix_main_settings(struct setup *s)
{
	char cert[PATH_SIZE], key[PATH_SIZE], sni[PATH_SIZE], dir[PATH_SIZE];
	char delimiter[8];

	snprintf(dir, sizeof(dir), "/etc/mailbag/tls/%s.pem", s->hostname);
	in_root(s, dir, cert, sizeof(cert));
	snprintf(dir, sizeof(dir), "/etc/mailbag/tls/%s.key", s->hostname);
	in_root(s, dir, key, sizeof(key));
	in_root(s, "/etc/postfix/mailbag-sni", sni, sizeof(sni));
	snprintf(delimiter, sizeof(delimiter), "%s", s->dry_run || s->cli->ctx == NULL ? "+" :
		 s->cli->ctx->recipient_delimiter);
	const char *values[] = {
		"SOCKETMAP", "private/mailbag-socketmap",
		"POLICY", "private/mailbag-policy",
		"LMTPD", "private/mailbag-lmtp",
		"MILTER", "unix:private/mailbag-milter",
		"DOVECOT_AUTH", "private/mailbag-auth",
		"DELIMITER", delimiter,
		"TLS_CERT", cert,
		"TLS_KEY", key,
		"SNI_MAP", sni,
		NULL,
	};
	return render(s, "postfix-main.cf", values);
}

/* current_value - the value main.cf gives name, from `postconf -n`
   output (NULL when main.cf does not set it) */
static char *current_value(const char *postconf_n, const char *name)
{
	size_t len = strlen(name);

	for (const char *line = postconf_n; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t line_len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (line_len >= len + 3 && strncmp(line, name, len) == 0 && strncmp(line + len, " = ", 3) == 0)
			return strndup(line + len + 3, line_len - len - 3);
		if (line_len == len + 2 && strncmp(line, name, len) == 0 && strncmp(line + len, " =", 2) == 0)
			return strdup("");
		line = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

/* add_setting - one "name = value" line of the template, compared with
   what main.cf has; changed ones go into edits for postconf -e */
static void add_setting(struct setup *s, const char *current, char *line, char ***edits, size_t *count)
{
	char *eq = strstr(line, " = ");
	if (eq == NULL)
		return;
	*eq = '\0';
	const char *value = eq + 3;
	char *now = current_value(current, line);
	bool same = now != NULL && strcmp(now, value) == 0;
	if (!same) {
		change(s, "set %s = %s in main.cf (was %s%s%s)", line, value, now != NULL ? "\"" : "",
		       now != NULL ? now : "the default", now != NULL ? "\"" : "");
		char **grown = realloc(*edits, (*count + 2) * sizeof(*grown));
		if (grown == NULL)
			abort();
		*edits = grown;
		*eq = ' ';
		(*edits)[(*count)++] = strdup(line);
		(*edits)[*count] = NULL;
		*eq = '\0';
	}
	free(now);
	*eq = ' ';
}

static int setup_postfix_main(struct setup *s)
{
	char main_cf[PATH_SIZE + 16], *current = NULL;
	char **edits = NULL;
	size_t count = 0;

	snprintf(main_cf, sizeof(main_cf), "%s/main.cf", s->postfix_dir);
	char *argv_n[] = { "postconf", "-c", s->postfix_dir, "-n", NULL };
	if (access(main_cf, F_OK) < 0)
		return cli_fail(s->cli, -1, "%s is missing: install Debian's postfix (or give --root a copy of /etc/postfix)", main_cf);
	if (run(s, argv_n, &current) < 0)
		return -1;
	char *settings = postfix_main_settings(s);
	if (settings == NULL) {
		free(current);
		return -1;
	}
	char extra[3 * PATH_SIZE];
	size_t used = (size_t)snprintf(extra, sizeof(extra), "myhostname = %s\n", s->hostname);
	if (s->root[0] != '\0') {
		/* everything under --root: the queue (and the sockets in it) too */
		used += (size_t)snprintf(extra + used, sizeof(extra) - used,
					 "queue_directory = %s/var/spool/postfix\ndata_directory = %s/var/lib/postfix\n",
					 s->root, s->root);
	}
	char *save = NULL;
	for (char *line = strtok_r(settings, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '#' && line[0] != '\0')
			add_setting(s, current, line, &edits, &count);
	}
	for (char *line = strtok_r(extra, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		add_setting(s, current, line, &edits, &count);
	free(settings);
	free(current);
	int ret = 0;
	if (count > 0 && !s->dry_run) {
		ret = backup_once(s, main_cf);
		char **argv = calloc(count + 5, sizeof(*argv));
		argv[0] = "postconf";
		argv[1] = "-c";
		argv[2] = s->postfix_dir;
		argv[3] = "-e";
		memcpy(argv + 4, edits, count * sizeof(*argv));
		if (ret == 0)
			ret = run(s, argv, NULL);
		free(argv);
	} else if (count > 0) {
		backup_once(s, main_cf);
	}
	for (size_t i = 0; i < count; i++)
		free(edits[i]);
	free(edits);
	return ret;
}

/* without_block - text with the BEGIN..END mailbag block taken out */
static char *without_block(const char *text)
{
	const char *begin = strstr(text, MASTER_BEGIN);
	const char *end = begin != NULL ? strstr(begin, MASTER_END) : NULL;

	if (begin == NULL || end == NULL)
		return strdup(text);
	end += strlen(MASTER_END);
	size_t before = (size_t)(begin - text);
	char *out = malloc(before + strlen(end) + 1);
	if (out == NULL)
		abort();
	memcpy(out, text, before);
	strcpy(out + before, end);
	return out;
}

static void port_or_service(long port, long standard, const char *service, char *out, size_t size)
{
	if (port == standard)
		snprintf(out, size, "%s", service);
	else
		snprintf(out, size, "%ld", port);
}

static int setup_postfix_master(struct setup *s)
{
	char master_cf[PATH_SIZE + 16], submission[16], submissions[16];

	snprintf(master_cf, sizeof(master_cf), "%s/master.cf", s->postfix_dir);
	char *text = read_text(master_cf);
	if (text == NULL)
		return cli_fail(s->cli, -1, "cannot read %s: %s", master_cf, strerror(errno));
	port_or_service(s->submission_port, 587, "submission", submission, sizeof(submission));
	port_or_service(s->submissions_port, 465, "submissions", submissions, sizeof(submissions));
	const char *values[] = { "SUBMISSION_LISTEN", submission, "SUBMISSIONS_LISTEN", submissions, NULL };
	char *services = render(s, "postfix-master.cf", values);
	if (services == NULL) {
		free(text);
		return -1;
	}
	char *rest = without_block(text);
	size_t len = strlen(rest);
	char smtp[160] = "";
	if (s->smtp_port != 25)
		snprintf(smtp, sizeof(smtp), "# SMTP from other servers on port %ld (setup --smtp-port)\n"
			 "%ld inet n - y - - smtpd\n", s->smtp_port, s->smtp_port);
	char *next = malloc(len + strlen(MASTER_BEGIN) + strlen(smtp) + strlen(services) + strlen(MASTER_END) + 2);
	if (next == NULL)
		abort();
	sprintf(next, "%s%s%s%s%s%s", rest, len > 0 && rest[len - 1] != '\n' ? "\n" : "", MASTER_BEGIN,
		smtp, services, MASTER_END);
	int ret = 0;
	if (strcmp(next, text) != 0) {
		ret = backup_once(s, master_cf);
		if (ret == 0)
			ret = write_if_changed(s, master_cf, next, 0644);
	}
	free(text);
	free(rest);
	free(services);
	free(next);
	return ret;
}

static int setup_postfix_dirs(struct setup *s)
{
	char queue[PATH_SIZE], data[PATH_SIZE];
	struct passwd *postfix = getpwnam("postfix");

	if (s->root[0] == '\0' || s->dry_run)
		return 0;
	in_root(s, "/var/spool/postfix", queue, sizeof(queue));
	in_root(s, "/var/lib/postfix", data, sizeof(data));
	if (cli_mkdir_p(queue, 0755) < 0 || cli_mkdir_p(data, 0700) < 0)
		return cli_fail(s->cli, -1, "cannot create %s or %s: %s", queue, data, strerror(errno));
	if (postfix != NULL && chown(data, postfix->pw_uid, postfix->pw_gid) < 0)
		return cli_fail(s->cli, -1, "cannot give %s to postfix: %s", data, strerror(errno));
	return 0;
}

/* --- Dovecot ---------------------------------------------------------------- */

static int compile_sieve(struct setup *s, char *sieve_path, size_t size)
{
	char dir[PATH_SIZE], binary[PATH_SIZE + 32];
	struct stat src, bin;
	const char *no_values[] = { NULL };

	in_root(s, "/etc/mailbag", dir, sizeof(dir));
	snprintf(sieve_path, size, "%s/mailbag-dedupe.sieve", dir);
	char *text = render(s, "mailbag-dedupe.sieve", no_values);
	if (text == NULL)
		return -1;
	int ret = write_if_changed(s, sieve_path, text, 0644);
	free(text);
	snprintf(binary, sizeof(binary), "%s/mailbag-dedupe.svbin", dir);
	if (ret < 0 || s->dry_run)
		return ret;
	if (stat(sieve_path, &src) == 0 && stat(binary, &bin) == 0 &&
	    (bin.st_mtim.tv_sec > src.st_mtim.tv_sec ||
	     (bin.st_mtim.tv_sec == src.st_mtim.tv_sec && bin.st_mtim.tv_nsec >= src.st_mtim.tv_nsec)))
		return 0;
	change(s, "compile %s (sievec)", sieve_path);
	char *argv[] = { "sievec", sieve_path, NULL };
	return run(s, argv, NULL);
}

/* comment_out - in a Dovecot conf.d file, each line starting with one
   of prefixes commented out with a note (backup kept); setup's own file
   then decides. Lines already commented stay as they are. */
static int comment_out(struct setup *s, const char *file, const char *const *prefixes, const char *why)
{
	char path[PATH_SIZE + 32];

	snprintf(path, sizeof(path), "%s/conf.d/%s", s->dovecot_dir, file);
	char *text = read_text(path);
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
	int ret = 0;
	if (strcmp(next, text) != 0) {
		ret = backup_once(s, path);
		if (ret == 0)
			ret = write_if_changed(s, path, next, 0644);
	}
	free(text);
	free(next);
	return ret;
}

/* the distribution's Dovecot settings that mailbag replaces: the system
   users' passdb (PAM: every account of the host could log in), and the
   snakeoil certificate (which need not exist; 91-mailbag-tls.conf names
   the real one) */
static int replace_distribution_settings(struct setup *s)
{
	static const char *const auth[] = { "!include auth-system.conf.ext", NULL };
	static const char *const ssl[] = { "ssl_cert = <", "ssl_key = <", NULL };

	if (comment_out(s, "10-auth.conf", auth, "only mailbag's users log in") < 0)
		return -1;
	return comment_out(s, "10-ssl.conf", ssl, "the certificates are tls.certificates' (91-mailbag-tls.conf)");
}

static int setup_dovecot(struct setup *s)
{
	char conf[PATH_SIZE + 32], dovecot_conf[PATH_SIZE + 16], sieve[PATH_SIZE + 32];
	char auth[PATH_SIZE], lmtp[PATH_SIZE], usage[PATH_SIZE], context[PATH_SIZE];
	char uid[24], gid[24], quota_warning[PATH_SIZE], run_dir[PATH_SIZE];
	const char *libexec = getenv("MAILBAG_LIBEXEC");

	snprintf(conf, sizeof(conf), "%s/conf.d/90-mailbag.conf", s->dovecot_dir);
	snprintf(dovecot_conf, sizeof(dovecot_conf), "%s/dovecot.conf", s->dovecot_dir);
	if (access(dovecot_conf, F_OK) < 0)
		return cli_fail(s->cli, -1, "%s is missing: install Debian's dovecot-core (or give --root a copy of /etc/dovecot)",
				dovecot_conf);
	if (compile_sieve(s, sieve, sizeof(sieve)) < 0)
		return -1;
	in_root(s, "/var/spool/postfix/private/mailbag-auth", auth, sizeof(auth));
	in_root(s, "/run/dovecot/mailbag-lmtp", lmtp, sizeof(lmtp));
	in_root(s, "/run/mailbag/usage", usage, sizeof(usage));
	in_root(s, "/run/dovecot", run_dir, sizeof(run_dir));
	snprintf(context, sizeof(context), "%s", s->context);
	snprintf(uid, sizeof(uid), "%ld", s->vmail_uid);
	snprintf(gid, sizeof(gid), "%ld", s->vmail_gid);
	snprintf(quota_warning, sizeof(quota_warning), "%s/mailbag-quota-warning",
		 libexec != NULL && libexec[0] != '\0' ? libexec : MAILBAG_LIBEXECDIR);
	const char *values[] = {
		"CONTEXT", context, "STORE_GROUP", "mailbag", "DOVECOT_AUTH", auth,
		"DOVECOT_LMTP", lmtp, "LMTPD_USER", "mailbag", "HOSTNAME", s->hostname,
		"USAGE_SOCKET", usage, "QUOTA_WARNING", quota_warning, "DOVECOT_CONF", dovecot_conf,
		"SIEVE_DEDUPE", sieve, "VMAIL_UID", uid, "VMAIL_GID", gid, "VMAIL_USER", "vmail",
		"DELIMITER", "+", NULL,
	};
	char *text = render(s, "dovecot-mailbag.conf", values);
	if (text == NULL)
		return -1;
	char ports[512] = "";
	if (s->imap_port != 143 || s->imaps_port != 993)
		snprintf(ports, sizeof(ports),
			 "\n# setup --imap-port / --imaps-port\nservice imap-login {\n"
			 "  inet_listener imap {\n    port = %ld\n  }\n"
			 "  inet_listener imaps {\n    port = %ld\n  }\n}\n", s->imap_port, s->imaps_port);
	char *full = malloc(strlen(text) + strlen(ports) + 128);
	if (full == NULL)
		abort();
	sprintf(full, "# written by `mailbag setup`; `mailbag unsetup` removes it\n%s%s", text, ports);
	free(text);
	if (!s->dry_run && s->root[0] != '\0' && cli_mkdir_p(run_dir, 0755) < 0) {
		free(full);
		return cli_fail(s->cli, -1, "cannot create %s: %s", run_dir, strerror(errno));
	}
	int ret = write_if_changed(s, conf, full, 0644);
	free(full);
	if (ret == 0)
		ret = replace_distribution_settings(s);
	return ret;
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
	in_root(s, "/etc/systemd/system", dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char from[PATH_SIZE + 64], to[PATH_SIZE + 64], link_path[PATH_SIZE + 128], target[128];
		bool timer = strstr(units[i], ".timer") != NULL;
		snprintf(from, sizeof(from), "%s/%s", source, units[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, units[i]);
		char *text = read_text(from);
		if (text == NULL)
			return cli_fail(s->cli, -1, "cannot read the unit %s: %s (set MAILBAG_UNITS)", from, strerror(errno));
		if (!s->dry_run && cli_mkdir_p(dir, 0755) < 0) {
			free(text);
			return cli_fail(s->cli, -1, "cannot create %s: %s", dir, strerror(errno));
		}
		int ret = write_if_changed(s, to, text, 0644);
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
		change(s, "enable %s", units[i]);
		if (s->dry_run)
			continue;
		if (cli_mkdir_p(wants, 0755) < 0 || (unlink(link_path) < 0 && errno != ENOENT) ||
		    symlink(target, link_path) < 0)
			return cli_fail(s->cli, -1, "cannot link %s: %s", link_path, strerror(errno));
	}
	return 0;
}

static void start_units(struct setup *s)
{
	if (s->dry_run || s->root[0] != '\0' || s->changes == 0)
		return;
	if (access("/run/systemd/system", F_OK) < 0) {
		printf("systemd is not running here: start mailbag-policyd, mailbag-lmtpd and mailbag-milter yourself\n");
		return;
	}
	char *reload[] = { "systemctl", "daemon-reload", NULL };
	char *start[] = { "systemctl", "restart", "mailbag-policyd.service", "mailbag-lmtpd.service",
			  "mailbag-milter.service", "mailbag-expire.timer", "mailbag-tls-renew.timer", NULL };
	char *reload_mail[] = { "systemctl", "reload-or-restart", "postfix.service", "dovecot.service", NULL };
	if (run(s, reload, NULL) == 0 && run(s, start, NULL) == 0)
		run(s, reload_mail, NULL);
}

/* --- the commands -------------------------------------------------------------- */

static int parse_port(struct cli *cli, const char *option, const char *text, long *port)
{
	char *end;

	errno = 0;
	*port = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || *port < 1 || *port > 65535)
		return cli_fail(cli, -1, "%s '%s': a port number from 1 to 65535", option, text);
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
	in_root(s, "/etc/mailbag/context.json", s->context, sizeof(s->context));
	in_root(s, "/etc/postfix", s->postfix_dir, sizeof(s->postfix_dir));
	in_root(s, "/etc/dovecot", s->dovecot_dir, sizeof(s->dovecot_dir));
}

static int do_setup(struct setup *s)
{
	int exit_code;

	set_paths(s);
	s->cli->context_path = s->context;
	if (setup_users(s) < 0 || setup_context(s) < 0 || setup_store(s) < 0)
		return EX_CANTCREAT;
	if (!s->dry_run && cli_context(s->cli, &exit_code) < 0)
		return exit_code;
	if (setup_dkim(s) < 0 || setup_certificate(s) < 0 || setup_postfix_dirs(s) < 0 ||
	    setup_postfix_main(s) < 0 || setup_tls(s) < 0 || setup_postfix_master(s) < 0 ||
	    setup_dovecot(s) < 0 || setup_units(s) < 0)
		return EX_CANTCREAT;
	start_units(s);
	if (s->dry_run) {
		printf("%d change%s to make\n", s->changes, s->changes == 1 ? "" : "s");
		return EX_OK;
	}
	printf("%s: %d change%s\n", s->changes > 0 ? "set up" : "already set up, nothing changed",
	       s->changes, s->changes == 1 ? "" : "s");
	char *postfix_check[] = { "postfix", "-c", s->postfix_dir, "check", NULL };
	if (run(s, postfix_check, NULL) < 0)
		return EX_CONFIG;
	printf("\nPublish these DNS records, then check them with 'mailbag dns check':\n");
	for (size_t i = 0; i < s->domain_count; i++) {
		char *argv[] = { "dns", "records", s->domains[i], NULL };
		cmd_dns(s->cli, 3, argv);
	}
	return EX_OK;
}

/* restore - put PATH.mailbag-backup back as PATH */
static int restore(struct setup *s, const char *path)
{
	char backup[PATH_SIZE + 32];

	snprintf(backup, sizeof(backup), "%s.mailbag-backup", path);
	if (access(backup, F_OK) < 0)
		return 0;
	change(s, "put %s back from %s", path, backup);
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
	change(s, "remove %s", path);
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
		run(s, stop, NULL);
	}
	snprintf(path, sizeof(path), "%s/main.cf", s->postfix_dir);
	int ret = restore(s, path);
	snprintf(path, sizeof(path), "%s/master.cf", s->postfix_dir);
	ret = ret < 0 ? ret : restore(s, path);
	snprintf(path, sizeof(path), "%s/conf.d/10-auth.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	snprintf(path, sizeof(path), "%s/conf.d/10-ssl.conf", s->dovecot_dir);
	ret = ret < 0 ? ret : restore(s, path);
	static const char *const added[] = {
		"/etc/postfix/mailbag-sni", "/etc/postfix/mailbag-sni.db",
		"/etc/dovecot/conf.d/90-mailbag.conf", "/etc/dovecot/conf.d/91-mailbag-tls.conf",
	};
	for (size_t i = 0; ret == 0 && i < sizeof(added) / sizeof(added[0]); i++) {
		in_root(s, added[i], path, sizeof(path));
		ret = remove_file(s, path);
	}
	in_root(s, "/etc/systemd/system", dir, sizeof(dir));
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
		run(s, reload, NULL);
		run(s, restart, NULL);
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
			if (cli_parse_domain(cli, optarg, hostname) < 0 || strchr(hostname, '.') == NULL)
				ret = cli_fail(cli, EX_USAGE, "--hostname '%s': give this host's fully qualified name", optarg);
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
