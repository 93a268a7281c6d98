/* srs-secrets.c - the SRS secret file (srs.secret_file): `mailbag setup`
 * makes it when it is missing, `mailbag srs rotate` puts a new secret
 * first
 *
 * SUMMARY
 *	One secret a line: mailbag-policyd signs with the first and accepts
 *	an address signed with any, so a rotation keeps the older lines
 *	(CLI_SRS_KEEP_DEFAULT of them unless told) for the bounces of mail
 *	already forwarded (an address is good for srs.max_age). Secrets are
 *	24 random bytes from libsodium, in base64. The file is written whole
 *	(a temporary file renamed over it), mode 0640, root and the daemon's
 *	group, so policyd re-reads it at once and never sees half of one.
 *
 * SECURITY
 *	No message shows a secret.
 */
#include "srs-secrets.h"

#include "atomic-file.h"
#include "srs.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* read_old - the file's text, NULL (and *len_r 0) when it is missing;
   -1 with error when it cannot be read or is too large */
static int read_old(const char *path, char **text_r, size_t *len_r, char *error, size_t error_size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*text_r = NULL;
	*len_r = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(error, error_size, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MB_SRS_FILE_MAX) {
		snprintf(error, error_size, "%s: not a regular file of at most %d bytes", path, MB_SRS_FILE_MAX);
		close(fd);
		return -1;
	}
	char *text = malloc((size_t)st.st_size + 1);
	ssize_t got = text != NULL ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (got < 0) {
		snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
		free(text);
		return -1;
	}
	*text_r = text;
	*len_r = (size_t)got;
	return 1;
}

int cli_srs_secrets_write(const char *path, const char *daemon_user, size_t keep_old,
			  bool create_only, bool *made_r, char *error, size_t error_size)
{
	char *old = NULL;
	size_t old_len = 0;

	*made_r = false;
	int exists = read_old(path, &old, &old_len, error, error_size);
	if (exists < 0)
		return -1;
	if (exists > 0 && create_only) {
		sodium_memzero(old, old_len);
		free(old);
		return 0;
	}
	char *text = mb_srs_secrets_rotated(old, old_len, keep_old, error, error_size);
	if (old != NULL) {
		sodium_memzero(old, old_len);
		free(old);
	}
	if (text == NULL)
		return -1;
	struct passwd *daemon = getpwnam(daemon_user);
	size_t len = strlen(text);
	int ret = mb_atomic_file_write(path, ".new", text, len, daemon != NULL ? 0640 : 0600,
				       daemon != NULL ? daemon->pw_gid : (gid_t)-1, MB_ATOMIC_FILE_EXACT_MODE,
				       error, error_size);
	sodium_memzero(text, len);
	free(text);
	if (ret < 0)
		return -1;
	if (geteuid() == 0 && chown(path, 0, daemon != NULL ? daemon->pw_gid : 0) < 0) {
		snprintf(error, error_size, "cannot give %s to root: %s", path, strerror(errno));
		return -1;
	}
	*made_r = true;
	return 0;
}
