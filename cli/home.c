/* home.c - a mailbox's home directory made for Dovecot, or removed
 *
 * SUMMARY
 *	cli_make_home() creates a new user's home (`user add`, `user
 *	import`) owned by the vmail user, so that the first delivery finds
 *	the place of Dovecot's duplicate database; cli_purge_home() deletes
 *	one (`user del --purge`, `expire --apply`), refusing anything that
 *	is not below mail_root.
 */
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* cli_make_home - create home and its missing parents for Dovecot's
   vmail user: the home 0700, parents 0755, each directory made here owned
   by vmail_uid:vmail_gid (existing ones are left as they are). Only as
   root, and with a vmail user that is not root: otherwise Dovecot makes
   the home at the first delivery, as before. EX_OK, or printed failure
   naming the path. */
int cli_make_home(struct cli *cli, const char *home)
{
	uid_t uid = (uid_t)cli->ctx->vmail_uid;
	gid_t gid = (gid_t)cli->ctx->vmail_gid;
	char path[4096];
	size_t len = strlen(home);

	if (geteuid() != 0 || cli->ctx->vmail_uid <= 0 || cli->ctx->vmail_gid <= 0)
		return EX_OK;
	if (home[0] != '/' || len >= sizeof(path))
		return cli_fail(cli, EX_DATAERR, "cannot create home %s: not an absolute path", home);
	memcpy(path, home, len + 1);
	int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return cli_fail(cli, EX_OSERR, "cannot create home %s: opening /: %s", home, strerror(errno));
	for (char *name = path + 1; *name != '\0';) {
		char *slash = strchr(name, '/');
		if (slash != NULL)
			*slash = '\0';
		bool last = slash == NULL || slash[1] == '\0';
		mode_t mode = last ? 0700 : 0755;
		bool made = false;
		if (name[0] != '\0' && strcmp(name, ".") != 0) {
			if (strcmp(name, "..") == 0) {
				close(dir);
				return cli_fail(cli, EX_DATAERR, "cannot create home %s: it has a .. component", home);
			}
			if (mkdirat(dir, name, mode) == 0)
				made = true;
			else if (errno != EEXIST)
				goto failed;
			/* a directory just made is not followed if something
			   replaced it with a link; existing ones may be links */
			int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0));
			if (next < 0)
				goto failed;
			close(dir);
			dir = next;
			if (made && (fchown(dir, uid, gid) < 0 || fchmod(dir, mode) < 0))
				goto failed;
		}
		if (slash == NULL)
			break;
		*slash = '/';
		name = slash + 1;
	}
	close(dir);
	return EX_OK;
failed:;
	int saved = errno;
	close(dir);
	return cli_fail(cli, EX_CANTCREAT, "cannot create home %s for %ld:%ld (Dovecot's duplicate "
			"database is kept there): %s", home, cli->ctx->vmail_uid, cli->ctx->vmail_gid,
			strerror(saved));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* cli_purge_home - delete a mailbox directory, only below mail_root */
int cli_purge_home(struct cli *cli, const char *home)
{
	size_t root_len = strlen(cli->ctx->mail_root);

	if (home[0] == '\0' || strncmp(home, cli->ctx->mail_root, root_len) != 0 ||
	    home[root_len] != '/' || strstr(home, "/../") != NULL)
		return cli_fail(cli, EX_DATAERR, "not purging %s: it is not below mail_root %s", home, cli->ctx->mail_root);
	if (access(home, F_OK) < 0)
		return EX_OK;
	if (nftw(home, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return cli_fail(cli, EX_IOERR, "user deleted, but removing %s failed: %s", home, strerror(errno));
	return EX_OK;
}

