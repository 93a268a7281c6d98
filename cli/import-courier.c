/* import-courier.c - `mailbag import courier PATH`: a Courier userdb source
 *
 * SUMMARY
 *	Courier's authuserdb keeps virtual users in a text file (or a
 *	directory of them, concatenated by makeuserdb, e.g.
 *	/etc/courier/userdb/rton.me), one a line:
 *
 *	    ADDRESS<TAB>field=value|field=value|...
 *
 *	Read: home (absolute), mail (the Maildir when not HOME/Maildir),
 *	systempw (a crypt(3) string: $6$, $5$, $1$, $2y$, kept as the Dovecot
 *	scheme so the old password logs in), quota (Courier's maildir quota
 *	"NNNS[,NNNC]": the bytes kept, the message count not), uid and gid
 *	(checked, not kept: mailbag's mailboxes belong to the vmail user).
 *	hmac-md5pw, hmac-sha1pw, hmac-sha256pw and cram-md5pw are HMAC
 *	states for CRAM logins that Dovecot cannot check a plain password
 *	against: a user with only those is made with no usable password and
 *	named as needing a reset (`mailbag user passwd`). shell, gecos,
 *	options and the service passwords (imappw, pop3pw, esmtppw,
 *	webmailpw) are ignored with a notice; any other field, a key that is
 *	not an address, a duplicate, plain text or an unknown hash is
 *	refused as FILE:LINE.
 *	Files in a directory are read in name order, skipping dot files and
 *	backups (NAME~), as makeuserdb does. The reader only reads.
 */
#include "import-formats.h"
#include "import-hash.h"
#include "import-lines.h"
#include "address.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COURIER_FILES_MAX 10000

struct courier_read {
	struct import_plan *plan;
};

static const char *const ignored_fields[] = {
	"shell", "gecos", "options", "imappw", "pop3pw", "esmtppw", "webmailpw",
};

static const char *const hmac_fields[] = {
	"hmac-md5pw", "hmac-sha1pw", "hmac-sha256pw", "cram-md5pw",
};

static bool in_list(const char *name, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

#define IN_LIST(name, list) in_list(name, list, sizeof(list) / sizeof(list[0]))

static bool number_valid(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 10;
}

static bool path_valid(const char *s)
{
	return s[0] == '/' && strstr(s, "/../") == NULL &&
		(strlen(s) < 3 || strcmp(s + strlen(s) - 3, "/..") != 0) && strlen(s) < 1024;
}

/* parse_quota - "1000000S", "1000000S,500C", "500C" (bytes kept) */
static int parse_quota(const char *value, uint64_t *bytes_r, bool *count_r)
{
	char copy[256], *save = NULL;

	if (strlen(value) >= sizeof(copy))
		return -1;
	memcpy(copy, value, strlen(value) + 1);
	*bytes_r = 0;
	*count_r = false;
	for (char *part = strtok_r(copy, ",", &save); part != NULL; part = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(part);
		if (len < 2 || len > 20 || strspn(part, "0123456789") != len - 1)
			return -1;
		char unit = part[len - 1];
		part[len - 1] = '\0';
		unsigned long long n = strtoull(part, NULL, 10);
		if (unit == 'S' && n > 0 && n < UINT64_MAX)
			*bytes_r = n;
		else if (unit == 'C')
			*count_r = true;
		else
			return -1;
	}
	return 0;
}

/* what one line's fields say */
struct courier_fields {
	char *home, *mail, *systempw, *hmac;
	uint64_t quota_bytes;
};

/* one_field - name=value into fields; 0, 1 refused (a problem), -1 oom */
static int one_field(const char *file, size_t line, const char *address, char *field,
		     struct courier_fields *f, struct import_plan *plan)
{
	char *eq = strchr(field, '=');
	if (eq == NULL || eq == field)
		return import_plan_problem(plan, file, line, "%s: field '%.40s' is not name=value", address, field) < 0 ? -1 : 1;
	*eq = '\0';
	const char *name = field, *value = eq + 1;
	if (strcmp(name, "uid") == 0 || strcmp(name, "gid") == 0) {
		if (!number_valid(value))
			return import_plan_problem(plan, file, line, "%s: %s must be a number", address, name) < 0 ? -1 : 1;
		return 0;
	}
	if (strcmp(name, "home") == 0 || strcmp(name, "mail") == 0) {
		if (!path_valid(value))
			return import_plan_problem(plan, file, line, "%s: %s must be an absolute path without '..'",
						   address, name) < 0 ? -1 : 1;
		if (strcmp(name, "home") == 0)
			f->home = eq + 1;
		else
			f->mail = eq + 1;
		return 0;
	}
	if (strcmp(name, "systempw") == 0) {
		f->systempw = eq + 1;
		return 0;
	}
	if (strcmp(name, "quota") == 0) {
		bool count = false;
		if (parse_quota(value, &f->quota_bytes, &count) < 0)
			return import_plan_problem(plan, file, line, "%s: quota must be NNNS and/or NNNC (Courier's maildir quota)",
						   address) < 0 ? -1 : 1;
		if (count && import_plan_notice(plan, file, line, "%s: the quota's message count (C) is not carried over; only its size is",
						address) < 0)
			return -1;
		return 0;
	}
	if (IN_LIST(name, hmac_fields)) {
		if (f->hmac == NULL)
			f->hmac = field;
		return 0;
	}
	if (IN_LIST(name, ignored_fields))
		return import_plan_notice(plan, file, line, "%s: field %s is not carried over", address, name) < 0 ? -1 : 0;
	return import_plan_problem(plan, file, line, "%s: unknown field '%.40s' (known: uid, gid, home, mail, systempw, "
				   "hmac-md5pw, hmac-sha1pw, hmac-sha256pw, cram-md5pw, quota, shell, gecos, options)",
				   address, name) < 0 ? -1 : 1;
}

/* maildir_of - the user's Maildir if it exists: mail=, else HOME/Maildir */
static void maildir_of(const struct courier_fields *f, char *buf, size_t size)
{
	struct stat st;

	buf[0] = '\0';
	if (f->mail != NULL)
		snprintf(buf, size, "%s", f->mail);
	else if (f->home != NULL && !import_path_join(buf, size, f->home, "Maildir"))
		buf[0] = '\0';
	if (buf[0] != '\0' && (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)))
		buf[0] = '\0';
}

static int add_user(const char *file, size_t line, const char *address, const struct courier_fields *f,
		    struct import_plan *plan)
{
	char hash[MB_HASH_MAX], maildir[4096], reason[128];
	const char *why;
	struct import_user user = { .address = (char *)address, .quota_bytes = f->quota_bytes };

	if (f->systempw != NULL) {
		if (import_hash_from_crypt(f->systempw, hash, &why) < 0)
			return import_plan_problem(plan, file, line, "%s: systempw: %s", address, why) < 0 ? -1 : 0;
		user.hash = hash;
	} else {
		const char *hmac = f->hmac != NULL ? f->hmac : NULL;
		snprintf(reason, sizeof(reason), "%s", hmac != NULL ?
			 "only an HMAC password, which Dovecot cannot check a login against" : "no password");
		if (hmac != NULL)
			snprintf(reason, sizeof(reason), "only %s, an HMAC state Dovecot cannot check a login against", hmac);
		user.reset_reason = reason;
	}
	maildir_of(f, maildir, sizeof(maildir));
	user.maildir = maildir[0] != '\0' ? maildir : NULL;
	if (user.maildir == NULL && (f->home != NULL || f->mail != NULL) &&
	    import_plan_notice(plan, file, line, "%s: no Maildir at %s%s; the mailbox starts empty", address,
			       f->mail != NULL ? f->mail : f->home, f->mail != NULL ? "" : "/Maildir") < 0)
		return -1;
	int ret = import_plan_user(plan, &user, file, line);
	explicit_bzero(hash, sizeof(hash));
	return ret;
}

/* read_line - "ADDRESS<TAB>fields" */
static int read_line(const char *file, size_t line, char *text, void *context)
{
	struct courier_read *r = context;
	struct mb_address parsed;
	char address[MB_ADDRESS_MAX + 1];
	const char *why;

	char *tab = strchr(text, '\t');
	if (tab == NULL)
		return import_plan_problem(r->plan, file, line, "expected ADDRESS<TAB>field=value|...") < 0 ? -1 : 0;
	*tab = '\0';
	if (mb_address_parse(text, NULL, &parsed, &why) < 0)
		return import_plan_problem(r->plan, file, line, "'%.80s' is not an address: %s", text, why) < 0 ? -1 : 0;
	mb_address_format(&parsed, address, sizeof(address));
	const struct import_user *seen = import_plan_find_user(r->plan, address);
	if (seen != NULL)
		return import_plan_problem(r->plan, file, line, "duplicate: %s is also on %s:%zu", address,
					   seen->origin.file, seen->origin.line) < 0 ? -1 : 0;
	struct courier_fields f = { 0 };
	char *save = NULL, *fields = tab + 1;
	int refused = 0;
	while (*fields == '\t' || *fields == ' ')
		fields++;
	for (char *field = strtok_r(fields, "|", &save); field != NULL; field = strtok_r(NULL, "|", &save)) {
		int ret = one_field(file, line, address, field, &f, r->plan);
		if (ret < 0)
			return -1;
		refused |= ret;
	}
	if (refused)
		return 0;
	bool known = false;
	for (size_t i = 0; i < r->plan->domain_count && !known; i++)
		known = strcmp(r->plan->domains[i].name, parsed.domain) == 0;
	if (!known && import_plan_domain(r->plan, parsed.domain, file, line) < 0)
		return -1;
	return add_user(file, line, address, &f, r->plan);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped_name(const char *name)
{
	size_t len = strlen(name);
	return name[0] == '.' || (len > 0 && name[len - 1] == '~') ||
		(len > 4 && strcmp(name + len - 4, ".dat") == 0) || (len > 5 && strcmp(name + len - 5, ".lock") == 0);
}

/* read_dir - each file of a userdb directory in name order */
static int read_dir(const char *path, struct courier_read *r)
{
	DIR *dir = opendir(path);
	char **names = NULL, file[4096];
	size_t count = 0;
	int ret = 0;

	if (dir == NULL)
		return import_plan_problem(r->plan, path, 0, "cannot read the directory: %s", strerror(errno));
	for (struct dirent *e; (e = readdir(dir)) != NULL && count < COURIER_FILES_MAX;) {
		if (skipped_name(e->d_name))
			continue;
		char **grown = realloc(names, (count + 1) * sizeof(*names));
		if (grown == NULL || (grown[count] = strdup(e->d_name)) == NULL) {
			names = grown != NULL ? grown : names;
			ret = -1;
			break;
		}
		names = grown;
		count++;
	}
	closedir(dir);
	if (ret == 0)
		qsort(names, count, sizeof(*names), compare_names);
	for (size_t i = 0; ret == 0 && i < count; i++) {
		struct stat st;
		if (!import_path_join(file, sizeof(file), path, names[i]) || stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		ret = import_lines_read(file, true, read_line, r, r->plan, NULL);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return ret;
}

int import_read_courier(const char *path, const struct import_options *options, struct import_plan *plan)
{
	struct courier_read r = { .plan = plan };
	struct stat st;

	(void)options;
	if (stat(path, &st) < 0)
		return import_plan_problem(plan, path, 0, "missing: %s (give the userdb source file or directory)",
					   strerror(errno));
	int ret = S_ISDIR(st.st_mode) ? read_dir(path, &r) : import_lines_read(path, true, read_line, &r, plan, NULL);
	if (ret == 0 && plan->user_count == 0 && plan->problem_count == 0)
		ret = import_plan_problem(plan, path, 0, "no users in it");
	if (ret == 0 && plan->user_count > 0)
		ret = import_plan_notice(plan, path, 0, "uid and gid are not kept: every mailbox belongs to mailbag's vmail user");
	return ret;
}
