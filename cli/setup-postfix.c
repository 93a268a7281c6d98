/* setup-postfix.c - what `mailbag setup` does to Postfix: the settings of
 * config-templates/postfix-main.cf into main.cf with postconf -e (only
 * those that differ from what main.cf says; compatibility_level only when
 * main.cf's is lower), one marked block of services
 * at the end of master.cf, and, under --root, the queue and data
 * directories. Socket paths are relative to the queue directory, so that
 * chrooted services reach them too.
 */
#include "setup.h"
#include "files.h"
#include "grow.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASTER_BEGIN "# BEGIN mailbag: services of `mailbag setup` (`mailbag unsetup` removes them)\n"
#define MASTER_END "# END mailbag\n"

/* --- Postfix --------------------------------------------------------------- */

static char *postfix_main_settings(struct setup *s)
{
	char cert[PATH_SIZE], key[PATH_SIZE], sni[PATH_SIZE], dir[PATH_SIZE], aliases[PATH_SIZE];
	char delimiter[8], srs_port[16];

	snprintf(srs_port, sizeof(srs_port), "%lu", s->cli->ctx != NULL ?
		 (unsigned long)s->cli->ctx->srs.forward_port : 10027UL);
	snprintf(dir, sizeof(dir), "/etc/mailbag/tls/%s.pem", s->hostname);
	setup_in_root(s, dir, cert, sizeof(cert));
	snprintf(dir, sizeof(dir), "/etc/mailbag/tls/%s.key", s->hostname);
	setup_in_root(s, dir, key, sizeof(key));
	setup_in_root(s, "/etc/postfix/mailbag-sni", sni, sizeof(sni));
	setup_in_root(s, "/etc/aliases", aliases, sizeof(aliases));
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
		"SRS_FORWARD_PORT", srs_port,
		"ALIASES", aliases,
		NULL,
	};
	return setup_render(s, "postfix-main.cf", values);
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

/* parse_level - a compatibility_level ("2", "3.6", "3.10", "3.6.1") as
   major, minor, patch; false when it is none */
static bool parse_level(const char *text, unsigned long parts[3])
{
	parts[0] = parts[1] = parts[2] = 0;
	for (int i = 0; i < 3; i++) {
		char *end;
		if (*text < '0' || *text > '9')
			return false;
		errno = 0;
		parts[i] = strtoul(text, &end, 10);
		if (errno != 0)
			return false;
		if (*end == '\0')
			return true;
		if (*end != '.')
			return false;
		text = end + 1;
	}
	return false;
}

/* level_at_least - whether compatibility_level now is value or higher
   (numerically: 3.10 is above 3.9) */
static bool level_at_least(const char *now, const char *value)
{
	unsigned long a[3], b[3];

	if (!parse_level(now, a) || !parse_level(value, b))
		return false;
	for (int i = 0; i < 3; i++) {
		if (a[i] != b[i])
			return a[i] > b[i];
	}
	return true;
}

/* add_setting - one "name = value" line of the template, compared with
   what main.cf has; changed ones go into edits for postconf -e. The
   template's compatibility_level is a floor: a higher level that main.cf
   has (Debian 13 writes 3.9) is kept, so setup never brings back older
   defaults the distribution has left behind. */
/* the "name = value" lines for postconf -e */
struct postconf_edits {
	char **lines;
	size_t count, capacity;
};

static void add_setting(struct setup *s, const char *current, char *line, struct postconf_edits *edits)
{
	char *eq = strstr(line, " = ");
	if (eq == NULL)
		return;
	*eq = '\0';
	const char *value = eq + 3;
	char *now = current_value(current, line);
	bool same = now != NULL && (strcmp(now, value) == 0 ||
				    (strcmp(line, "compatibility_level") == 0 && level_at_least(now, value)));
	if (!same) {
		setup_change(s, "set %s = %s in main.cf (was %s%s%s)", line, value, now != NULL ? "\"" : "",
		       now != NULL ? now : "the default", now != NULL ? "\"" : "");
		char **grown = mb_grow(edits->lines, &edits->capacity, edits->count + 1, sizeof(*grown), 0);
		if (grown == NULL)
			abort();
		edits->lines = grown;
		*eq = ' ';
		edits->lines[edits->count++] = strdup(line);
		*eq = '\0';
	}
	free(now);
	*eq = ' ';
}

int setup_postfix_main(struct setup *s)
{
	char main_cf[PATH_SIZE + 16], *current = NULL;
	struct postconf_edits edits = { NULL, 0, 0 };

	snprintf(main_cf, sizeof(main_cf), "%s/main.cf", s->postfix_dir);
	char *argv_n[] = { "postconf", "-c", s->postfix_dir, "-n", NULL };
	if (access(main_cf, F_OK) < 0)
		return cli_fail(s->cli, -1, "%s is missing: install Debian's postfix (or give --root a copy of /etc/postfix)", main_cf);
	if (setup_run(s, argv_n, &current) < 0)
		return -1;
	char *settings = postfix_main_settings(s);
	if (settings == NULL) {
		free(current);
		return -1;
	}
	char extra[4 * PATH_SIZE];
	size_t used = (size_t)snprintf(extra, sizeof(extra), "myhostname = %s\n", s->hostname);
	if (s->root[0] != '\0') {
		/* everything under --root: the queue (and the sockets in it) too */
		used += (size_t)snprintf(extra + used, sizeof(extra) - used,
					 "queue_directory = %s/var/spool/postfix\ndata_directory = %s/var/lib/postfix\n",
					 s->root, s->root);
		/* and local(8)'s mailboxes (setup-host-mail.c makes the directory) */
		used += (size_t)snprintf(extra + used, sizeof(extra) - used, "mail_spool_directory = %s/var/mail\n",
					 s->root);
	}
	char *save = NULL;
	for (char *line = strtok_r(settings, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '#' && line[0] != '\0')
			add_setting(s, current, line, &edits);
	}
	for (char *line = strtok_r(extra, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		add_setting(s, current, line, &edits);
	free(settings);
	free(current);
	int ret = 0;
	size_t count = edits.count;
	if (count > 0 && !s->dry_run) {
		ret = setup_backup_once(s, main_cf);
		char **argv = calloc(count + 5, sizeof(*argv));
		argv[0] = "postconf";
		argv[1] = "-c";
		argv[2] = s->postfix_dir;
		argv[3] = "-e";
		memcpy(argv + 4, edits.lines, count * sizeof(*argv));
		if (ret == 0)
			ret = setup_run(s, argv, NULL);
		free(argv);
	} else if (count > 0) {
		setup_backup_once(s, main_cf);
	}
	for (size_t i = 0; i < count; i++)
		free(edits.lines[i]);
	free(edits.lines);
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

int setup_postfix_master(struct setup *s)
{
	char master_cf[PATH_SIZE + 16], submission[16], submissions[16];

	snprintf(master_cf, sizeof(master_cf), "%s/master.cf", s->postfix_dir);
	char *text = setup_read_text(master_cf);
	if (text == NULL)
		return cli_fail(s->cli, -1, "cannot read %s: %s", master_cf, strerror(errno));
	port_or_service(s->submission_port, 587, "submission", submission, sizeof(submission));
	port_or_service(s->submissions_port, 465, "submissions", submissions, sizeof(submissions));
	char srs_port[16];
	snprintf(srs_port, sizeof(srs_port), "%lu", s->cli->ctx != NULL ?
		 (unsigned long)s->cli->ctx->srs.forward_port : 10027UL);
	const char *values[] = { "SUBMISSION_LISTEN", submission, "SUBMISSIONS_LISTEN", submissions,
				 "SOCKETMAP", "private/mailbag-socketmap", "SRS_FORWARD_PORT", srs_port, NULL };
	char *services = setup_render(s, "postfix-master.cf", values);
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
	int ret = setup_edit_distribution_file(s, master_cf, text, next);
	free(text);
	free(rest);
	free(services);
	free(next);
	return ret;
}

int setup_postfix_dirs(struct setup *s)
{
	char queue[PATH_SIZE], data[PATH_SIZE];
	struct passwd *postfix = getpwnam("postfix");

	if (s->root[0] == '\0' || s->dry_run)
		return 0;
	setup_in_root(s, "/var/spool/postfix", queue, sizeof(queue));
	setup_in_root(s, "/var/lib/postfix", data, sizeof(data));
	if (cli_mkdir_p(queue, 0755) < 0 || cli_mkdir_p(data, 0700) < 0)
		return cli_fail(s->cli, -1, "cannot create %s or %s: %s", queue, data, strerror(errno));
	if (postfix != NULL && chown(data, postfix->pw_uid, postfix->pw_gid) < 0)
		return cli_fail(s->cli, -1, "cannot give %s to postfix: %s", data, strerror(errno));
	return 0;
}

