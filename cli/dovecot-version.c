/* dovecot-version.c - which Dovecot's configuration syntax to write
 *
 * SUMMARY
 *	Dovecot 2.4 (Debian 13) reads almost none of 2.3's (Debian 12)
 *	configuration lines: `mailbag setup` and `mailbag tls apply` write
 *	the syntax of the Dovecot this host runs, as `dovecot --version`
 *	names it ("2.3.19.1 (9b53102964)", "2.4.1-4 (7d8c0e5759)").
 *	MAILBAG_DOVECOT_VERSION (for example "2.4") names it instead, for
 *	files written for another host.
 *
 * DIAGNOSTICS
 *	No Dovecot found, or a version that is neither 2.3 nor 2.4, is an
 *	error naming what was read and what to do.
 */
#include "dovecot-version.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* parse_version - "MAJOR.MINOR..." into major.minor; -1 when not one */
static int parse_version(const char *text, int *major_r, int *minor_r)
{
	char *end;
	long major = strtol(text, &end, 10);

	if (end == text || *end != '.')
		return -1;
	const char *minor_text = end + 1;
	long minor = strtol(minor_text, &end, 10);
	if (end == minor_text || major < 0 || major > 99 || minor < 0 || minor > 99)
		return -1;
	*major_r = (int)major;
	*minor_r = (int)minor;
	return 0;
}

/* read_dovecot_version - the first line `dovecot --version` prints */
static int read_dovecot_version(char *line, size_t size, char *error, size_t error_size)
{
	static const char *const commands[] = {
		"dovecot --version 2>/dev/null",
		"/usr/sbin/dovecot --version 2>/dev/null",
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		FILE *out = popen(commands[i], "r");
		if (out == NULL)
			continue;
		bool got = fgets(line, (int)size, out) != NULL;
		int status = pclose(out);
		if (got && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			return 0;
		}
	}
	snprintf(error, error_size,
		 "cannot tell which Dovecot this is ('dovecot --version' failed): install Debian's dovecot-core, "
		 "or set MAILBAG_DOVECOT_VERSION to 2.3 or 2.4");
	return -1;
}

int cli_dovecot_version(enum cli_dovecot *version_r, char *error, size_t error_size)
{
	const char *forced = getenv("MAILBAG_DOVECOT_VERSION");
	char line[256];
	int major, minor;

	if (forced != NULL && forced[0] != '\0')
		snprintf(line, sizeof(line), "%s", forced);
	else if (read_dovecot_version(line, sizeof(line), error, error_size) < 0)
		return -1;
	if (parse_version(line, &major, &minor) == 0 && major == 2 && (minor == 3 || minor == 4)) {
		*version_r = minor == 3 ? CLI_DOVECOT_23 : CLI_DOVECOT_24;
		return 0;
	}
	snprintf(error, error_size, "Dovecot version '%.100s'%s is not one mailbag supports (2.3 or 2.4)", line,
		 forced != NULL && forced[0] != '\0' ? " (MAILBAG_DOVECOT_VERSION)" : "");
	return -1;
}
