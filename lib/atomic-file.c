/* atomic-file.c - write a file whole or not at all
 *
 * SUMMARY
 *	The one way mailbag replaces a file that another program reads
 *	(the context, a domain's rotation.json, the configuration that
 *	`mailbag setup`, `tls apply` and `web build` write): the text goes
 *	to a temporary name beside the file, is flushed to disk and then
 *	renamed into place. rename(2) within a directory is atomic, so a
 *	reader sees the old file or the new one; a crash leaves at most the
 *	temporary name behind. A file that must not be replaced is linked
 *	into place instead, since link(2) refuses an existing name.
 *
 * DIAGNOSTICS
 *	-errno and a message naming the file: the temporary name could not
 *	be created, or writing, flushing or renaming it failed.
 */
#include "atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* write_all - len bytes to fd; false with errno set */
static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

int mb_atomic_file_write(const char *path, const char *tmp_suffix, const char *data, size_t len,
			 mode_t mode, gid_t gid, unsigned int flags, char *error, size_t error_size)
{
	char tmp[PATH_MAX];
	bool exclusive = (flags & MB_ATOMIC_FILE_EXCLUSIVE) != 0;

	if (snprintf(tmp, sizeof(tmp), "%s%s", path, tmp_suffix) >= (int)sizeof(tmp)) {
		snprintf(error, error_size, "cannot write %.200s...: path too long", path);
		return -ENAMETOOLONG;
	}
	/* O_EXCL: a temporary name that exists is another writer's, left alone */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC),
		      mode);
	if (fd < 0) {
		int saved = errno;
		snprintf(error, error_size, "cannot create %s: %s", tmp, strerror(saved));
		return -saved;
	}
	/* the group first: fchown may clear mode bits that fchmod then sets */
	bool ok = (gid == (gid_t)-1 || fchown(fd, (uid_t)-1, gid) == 0) &&
		  ((flags & MB_ATOMIC_FILE_EXACT_MODE) == 0 || fchmod(fd, mode) == 0) &&
		  write_all(fd, data, len) && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) < 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(error, error_size, "cannot write %s: %s", path, strerror(saved));
		return -saved;
	}
	/* link(2), unlike rename(2), refuses to replace an existing file */
	int ret = exclusive ? link(tmp, path) : rename(tmp, path);
	saved = errno;
	if (exclusive || ret < 0)
		unlink(tmp);
	if (ret < 0) {
		snprintf(error, error_size, "cannot %s %s: %s", exclusive ? "create" : "write", path,
			 strerror(saved));
		return -saved;
	}
	return 0;
}
