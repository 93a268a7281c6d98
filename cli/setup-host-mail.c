/* setup-host-mail.c - what `mailbag setup` does for the host's own mail
 *
 * SUMMARY
 *	The host's own names (lib/host-names.c) stay Postfix's local
 *	domain (config-templates/postfix-main.cf: mydestination, alias_maps,
 *	local_recipient_maps, non_smtpd_milters). Around those settings:
 *	  domains   no --domain, and no domain of the store, may be one of
 *	            them (Postfix would treat it as local and warn): refused
 *	            before anything changes
 *	  aliases   /etc/aliases as Debian's postfix makes it when it is
 *	            missing, and its hash database built when it is missing
 *	            or older (local(8) and smtpd's local_recipient_maps read
 *	            it); under --root DIR, DIR/etc/aliases and DIR/var/mail
 *	            for local(8)'s mailboxes
 *	  root      a system alias for root to the admin address, when there
 *	            is one and root has none; otherwise said, with the command
 *	            that makes one
 */
#include "setup.h"
#include "files.h"
#include "host-names.h"
#include "system-alias.h"
#include "system-aliases.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* Debian's postfix writes this when it installs */
static const char debian_aliases[] = "# See man 5 aliases for format\npostmaster:    root\n";

static int refuse_domain(struct setup *s, const char *domain)
{
	return cli_fail(s->cli, -1, "--domain %s is this host's own name (--hostname %s: Postfix's "
			"mydestination lists it, and its mail is the host's local mail): give the host a "
			"name of its own with --hostname (mx.%s)", domain, s->hostname, domain);
}

int setup_host_mail_check_domains(struct setup *s)
{
	struct mb_host_names names;

	mb_host_names(s->hostname, &names);
	for (size_t i = 0; i < s->domain_count; i++) {
		if (mb_host_names_contain(&names, s->domains[i]))
			return refuse_domain(s, s->domains[i]);
	}
	return 0;
}

struct conflict_search {
	struct mb_host_names names;
	char found[MB_DOMAIN_MAX + 1];
};

static int note_conflict(const char *domain, void *context)
{
	struct conflict_search *search = context;

	if (!mb_host_names_contain(&search->names, domain))
		return 0;
	snprintf(search->found, sizeof(search->found), "%s", domain);
	return 1;
}

int setup_host_mail_check_store(struct setup *s)
{
	struct conflict_search search = { .found = "" };
	char error[1024];

	if (s->dry_run || s->cli->store == NULL)
		return 0;
	mb_host_names(s->hostname, &search.names);
	if (mb_store_domains_foreach(s->cli->store, note_conflict, &search, error, sizeof(error)) < 0)
		return cli_fail(s->cli, -1, "%s", error);
	if (search.found[0] == '\0')
		return 0;
	return cli_fail(s->cli, -1, "the store serves %s, which is this host's own name (--hostname %s): Postfix "
			"would deliver its mail locally. Give the host another name with --hostname, or remove the "
			"domain ('mailbag domain del %s')", search.found, s->hostname, search.found);
}

/* older - whether the database is missing or older than its source */
static bool older(const char *db, const char *source)
{
	struct stat d, src;

	if (stat(db, &d) < 0)
		return true;
	return stat(source, &src) == 0 && d.st_mtime < src.st_mtime;
}

static int spool_directory(struct setup *s)
{
	char spool[PATH_SIZE];
	struct group *mail = getgrnam("mail");

	if (s->root[0] == '\0')
		return 0; /* the host's /var/mail is Debian's */
	setup_in_root(s, "/var/mail", spool, sizeof(spool));
	if (access(spool, F_OK) == 0)
		return 0;
	setup_change(s, "create %s (local(8)'s mailboxes)", spool);
	if (s->dry_run)
		return 0;
	/* as Debian's: root:mail 2775; local(8) writes as the recipient, in
	   the group of the directory */
	if (cli_mkdir_p(spool, 0755) < 0 || (mail != NULL && chown(spool, 0, mail->gr_gid) < 0) ||
	    chmod(spool, mail != NULL ? 02775 : 01777) < 0)
		return cli_fail(s->cli, -1, "cannot make %s: %s", spool, strerror(errno));
	return 0;
}

int setup_host_mail_files(struct setup *s)
{
	char aliases[PATH_SIZE], db[PATH_SIZE + 8], map[PATH_SIZE + 8];

	setup_in_root(s, "/etc/aliases", aliases, sizeof(aliases));
	snprintf(db, sizeof(db), "%s.db", aliases);
	if (access(aliases, F_OK) < 0 && setup_write_if_changed(s, aliases, debian_aliases, 0644) < 0)
		return -1;
	if (older(db, aliases)) {
		setup_change(s, "build %s (postalias)", db);
		snprintf(map, sizeof(map), "hash:%s", aliases);
		char *argv[] = { "postalias", "-c", s->postfix_dir, map, NULL };
		if (!s->dry_run && setup_run(s, argv, NULL) < 0)
			return -1;
	}
	return spool_directory(s);
}

int setup_system_aliases(struct setup *s, const char *admin)
{
	struct mb_alias alias;
	char error[1024];

	if (s->dry_run || s->cli->store == NULL)
		return 0;
	int ret = mb_system_alias_get(s->cli->store, "root", &alias, error, sizeof(error));
	if (ret < 0)
		return cli_fail(s->cli, -1, "%s", error);
	if (ret > 0) {
		mb_alias_clear(&alias);
		return 0;
	}
	if (admin == NULL || admin[0] == '\0') {
		printf("mail to root stays on this host (/var/mail/root): the context names no admin address; "
		       "send it to a mailbox with 'mailbag alias add root ADDRESS'\n");
		return 0;
	}
	setup_change(s, "add the system alias root -> %s", admin);
	const char *targets[] = { admin };
	s->cli->command = "alias add";
	ret = cli_system_alias_add(s->cli, "root", targets, 1, true);
	s->cli->command = "setup";
	return ret == EX_OK ? 0 : -1;
}
