/* import-maildir.c - an imported user's Maildir moved into mailbag's home,
 * or left where it lies
 *
 * SUMMARY
 *	`mailbag import` keeps each user's old mail. Moved (--mail move),
 *	the Maildir becomes HOME/Maildir of mailbag's home for the user: a
 *	rename when both are on one filesystem (instant, all or nothing);
 *	across filesystems a copy (modes, times and links kept: Dovecot
 *	takes a message's received date from its file's mtime) into
 *	TO.mailbag-import, renamed to TO when whole, and only then the old
 *	tree removed: an interrupted run leaves the old Maildir untouched
 *	and its next run starts the copy again. Left in place (--mail
 *	leave), the user's home is the directory holding it. Either way,
 *	run as root, the tree is given to the vmail user, and a count of
 *	messages goes to stderr every IMPORT_PROGRESS_EVERY messages.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "import-maildir.h"
#include "files.h"
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* the walk's state: nftw has no context argument (one walk at a time) */
static struct {
	const char *who;
	const char *from, *to;   /* copy: source and destination roots */
	uid_t uid;
	gid_t gid;
	bool chown;
	unsigned long messages;
	int error;               /* errno of the first failure */
	char failed_path[4096];
} walk;

static void count_message(const char *path, int flag)
{
	if (flag != FTW_F)
		return;
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash - path < 4)
		return;
	if (strncmp(slash - 4, "/cur", 4) != 0 && strncmp(slash - 4, "/new", 4) != 0)
		return;
	walk.messages++;
	if (walk.messages % IMPORT_PROGRESS_EVERY == 0)
		fprintf(stderr, "mailbag: import: %s: %lu messages\n", walk.who, walk.messages);
}

static int fail_at(const char *path)
{
	walk.error = errno != 0 ? errno : EIO;
	snprintf(walk.failed_path, sizeof(walk.failed_path), "%s", path);
	return 1;
}

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)ftw;
	count_message(path, flag);
	if (walk.chown && lchown(path, walk.uid, walk.gid) < 0)
		return fail_at(path);
	return 0;
}

/* give_tree - the tree to uid:gid (as root), counting its messages */
static int give_tree(const char *dir)
{
	walk.error = 0;
	walk.chown = geteuid() == 0 && walk.uid > 0;
	return nftw(dir, chown_entry, 32, FTW_PHYS) == 0 && walk.error == 0 ? 0 : -1;
}

static int copy_file(const char *from, const char *to, const struct stat *st)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	ssize_t n;
	int ret = 0;
	while (ret == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 || write(out, buf, (size_t)n) != n)
			ret = -1;
	}
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	if (ret == 0 && (futimens(out, times) < 0 || fsync(out) < 0))
		ret = -1;
	int saved = errno;
	close(in);
	if (close(out) < 0)
		ret = -1;
	errno = saved;
	return ret;
}

static int copy_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char target[4096], link_text[4096];
	(void)ftw;

	if ((size_t)snprintf(target, sizeof(target), "%s%s", walk.to, path + strlen(walk.from)) >= sizeof(target)) {
		errno = ENAMETOOLONG;
		return fail_at(path);
	}
	count_message(path, flag);
	if (flag == FTW_D) {
		if (mkdir(target, st->st_mode & 07777) < 0)
			return fail_at(target);
	} else if (flag == FTW_SL) {
		ssize_t len = readlink(path, link_text, sizeof(link_text) - 1);
		if (len < 0)
			return fail_at(path);
		link_text[len] = '\0';
		if (symlink(link_text, target) < 0)
			return fail_at(target);
	} else if (flag == FTW_F) {
		if (copy_file(path, target, st) < 0)
			return fail_at(target);
	} else {
		errno = EACCES;
		return fail_at(path);
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? fail_at(path) : 0;
}

static int remove_tree(const char *dir)
{
	walk.error = 0;
	if (access(dir, F_OK) < 0)
		return 0;
	return nftw(dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS) == 0 && walk.error == 0 ? 0 : -1;
}

/* existing_parent - path, or its nearest parent that exists, into buf */
static void existing_parent(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	while (access(buf, F_OK) < 0) {
		char *slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf) {
			snprintf(buf, size, "/");
			return;
		}
		*slash = '\0';
	}
}

bool import_same_filesystem(const char *path, const char *other)
{
	char a[4096], b[4096];
	struct stat sa, sb;

	existing_parent(path, a, sizeof(a));
	existing_parent(other, b, sizeof(b));
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev;
}

static void walk_start(const char *who, uid_t uid, gid_t gid)
{
	memset(&walk, 0, sizeof(walk));
	walk.who = who;
	walk.uid = uid;
	walk.gid = gid;
}

/* copy_across - FROM copied whole to TO.mailbag-import, renamed to TO */
static int copy_across(struct cli *cli, const char *from, const char *to)
{
	char temp[4096];

	if ((size_t)snprintf(temp, sizeof(temp), "%s.mailbag-import", to) >= sizeof(temp))
		return cli_fail(cli, EX_SOFTWARE, "%s: the path is too long", to);
	if (remove_tree(temp) < 0)
		return cli_fail(cli, EX_IOERR, "cannot remove %s left by an interrupted import: %s", walk.failed_path,
				strerror(walk.error));
	fprintf(stderr, "mailbag: import: %s: %s is on another filesystem than %s: copying (the old Maildir is "
		"removed once the copy is whole)\n", walk.who, from, to);
	walk.from = from;
	walk.to = temp;
	walk.error = 0;
	if (nftw(from, copy_entry, 32, FTW_PHYS) != 0 || walk.error != 0) {
		int saved = walk.error;
		char failed[4096];
		snprintf(failed, sizeof(failed), "%s", walk.failed_path);
		remove_tree(temp);
		return cli_fail(cli, EX_IOERR, "copying %s to %s failed at %s: %s; the old Maildir is untouched",
				from, to, failed, strerror(saved));
	}
	if (rename(temp, to) < 0)
		return cli_fail(cli, EX_IOERR, "cannot rename %s to %s: %m; the old Maildir is untouched", temp, to);
	unsigned long copied = walk.messages;
	if (remove_tree(from) < 0)
		fprintf(stderr, "mailbag: import: %s: copied to %s, but removing the old %s failed at %s: %s; remove it by hand\n",
			walk.who, to, from, walk.failed_path, strerror(walk.error));
	walk.messages = copied;
	return EX_OK;
}

/* parent_of - the directory holding path */
static void parent_of(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	char *slash = strrchr(buf, '/');
	if (slash != NULL && slash != buf)
		*slash = '\0';
}

int import_maildir_move(struct cli *cli, const char *who, const char *from, const char *to,
			uid_t uid, gid_t gid, unsigned long *messages_r)
{
	char parent[4096];

	walk_start(who, uid, gid);
	parent_of(to, parent, sizeof(parent));
	int ret = cli_make_home(cli, parent);
	if (ret == EX_OK && cli_mkdir_p(parent, 0700) < 0)
		ret = cli_fail(cli, EX_CANTCREAT, "cannot create %s: %m", parent);
	if (ret != EX_OK)
		return ret;
	if (rename(from, to) < 0) {
		if (errno != EXDEV)
			return cli_fail(cli, EX_IOERR, "cannot move %s to %s: %m", from, to);
		ret = copy_across(cli, from, to);
		if (ret != EX_OK)
			return ret;
	}
	unsigned long copied = walk.messages;
	walk.messages = 0;
	if (give_tree(to) < 0)
		return cli_fail(cli, EX_IOERR, "cannot give %s to %ld:%ld: %s", walk.failed_path, (long)uid, (long)gid,
				strerror(walk.error));
	*messages_r = walk.messages > copied ? walk.messages : copied;
	return EX_OK;
}

int import_maildir_keep(struct cli *cli, const char *who, const char *maildir, uid_t uid, gid_t gid,
			unsigned long *messages_r)
{
	char home[4096];

	walk_start(who, uid, gid);
	if (give_tree(maildir) < 0)
		return cli_fail(cli, EX_IOERR, "cannot give %s to %ld:%ld: %s", walk.failed_path, (long)uid, (long)gid,
				strerror(walk.error));
	parent_of(maildir, home, sizeof(home));
	if (geteuid() == 0 && uid > 0 && chown(home, uid, gid) < 0)
		return cli_fail(cli, EX_IOERR, "cannot give the home %s to %ld:%ld: %m", home, (long)uid, (long)gid);
	*messages_r = walk.messages;
	return EX_OK;
}
