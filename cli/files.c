/* files.c - files that `mailbag` writes for other programs
 *
 * SUMMARY
 *	The commands that write configuration for Postfix, Dovecot and a
 *	web server (tls apply, web build) write each file whole to a
 *	temporary name and rename it into place, so a reader never sees half
 *	a file, and leave a file alone when its text would not change, so
 *	running them again changes nothing (no new mtime, no reload). A file
 *	made from others (a postmap table, a compiled Sieve script) is made
 *	again only when one of them is newer (cli_is_current).
 */
#include "files.h"
#include "cli.h"
#include "atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, i == len ? mode : 0755) < 0 && errno != EEXIST)
			return -1;
		buf[i] = saved;
	}
	return 0;
}

/* same_text - whether path holds exactly text (and has mode) */
static bool same_text(const char *path, const char *text, size_t len, mode_t mode)
{
	struct stat st;
	bool same = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len &&
	    (st.st_mode & 07777) == mode) {
		char *old = malloc(len + 1);
		same = old != NULL && read(fd, old, len + 1) == (ssize_t)len && memcmp(old, text, len) == 0;
		free(old);
	}
	close(fd);
	return same;
}

int cli_write_file(struct cli *cli, const char *path, const char *text, mode_t mode, bool *changed_r)
{
	char error[PATH_MAX + 256];
	size_t len = strlen(text);

	*changed_r = false;
	if (same_text(path, text, len, mode))
		return 0;
	/* the mode exactly: same_text compares it, whatever the umask */
	if (mb_atomic_file_write(path, ".mailbag-new", text, len, mode, (gid_t)-1, MB_ATOMIC_FILE_EXACT_MODE,
				 error, sizeof(error)) < 0)
		return cli_fail(cli, -1, "%s", error);
	*changed_r = true;
	return 0;
}

bool cli_is_current(const char *made, const char *source)
{
	struct stat m, src;

	if (stat(made, &m) < 0 || stat(source, &src) < 0)
		return false;
	/* the same tick counts as current: the clock behind file times is
	   coarser than a write followed at once by the derived file */
	return m.st_mtim.tv_sec > src.st_mtim.tv_sec ||
	       (m.st_mtim.tv_sec == src.st_mtim.tv_sec && m.st_mtim.tv_nsec >= src.st_mtim.tv_nsec);
}
