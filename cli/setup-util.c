/* setup-util.c - the helpers of `mailbag setup`: paths below --root, saying
 * each change (or, with --dry-run, only saying it), running Postfix's and
 * Dovecot's tools, files written only when their text differs, backups of
 * the distribution's files, and config-templates/ filled in.
 */
#include "setup.h"
#include "files.h"
#include "mailbag-config.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* --- small helpers ------------------------------------------------------- */

void setup_in_root(const struct setup *s, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", s->root, path);
}

/* change - one change made (or, with --dry-run, one that would be) */
void setup_change(struct setup *s, const char *fmt, ...)
{
	va_list args;

	s->changes++;
	fputs(s->dry_run ? "would " : "", stdout);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
}

char *setup_read_text(const char *path)
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
int setup_run(struct setup *s, char *const argv[], char **output)
{
	posix_spawn_file_actions_t actions;
	int pipefd[2] = { -1, -1 }, status;
	pid_t pid;

	if (output != NULL && pipe(pipefd) < 0)
		return cli_fail(s->cli, -1, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&actions);
	if (output != NULL) {
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
int setup_write_if_changed(struct setup *s, const char *path, const char *text, mode_t mode)
{
	char *old = setup_read_text(path);
	bool same = old != NULL && strcmp(old, text) == 0;
	bool changed;

	free(old);
	if (same)
		return 0;
	setup_change(s, "write %s", path);
	if (s->dry_run)
		return 0;
	return cli_write_file(s->cli, path, text, mode, &changed);
}

/* backup_once - keep the distribution's file as PATH.mailbag-backup
   before setup first changes it */
int setup_backup_once(struct setup *s, const char *path)
{
	char backup[PATH_SIZE + 32];
	bool changed;

	snprintf(backup, sizeof(backup), "%s.mailbag-backup", path);
	if (access(backup, F_OK) == 0)
		return 0;
	char *text = setup_read_text(path);
	if (text == NULL)
		return cli_fail(s->cli, -1, "cannot read %s: %s", path, strerror(errno));
	setup_change(s, "keep %s as %s", path, backup);
	int ret = s->dry_run ? 0 : cli_write_file(s->cli, backup, text, 0644, &changed);
	free(text);
	return ret;
}

int setup_edit_distribution_file(struct setup *s, const char *path, const char *old, const char *next)
{
	if (strcmp(old, next) == 0)
		return 0;
	if (setup_backup_once(s, path) < 0)
		return -1;
	return setup_write_if_changed(s, path, next, 0644);
}

/* render - a template of config-templates/ with every @NAME@ filled
   from values (name, value pairs ending with NULL) */
char *setup_render(struct setup *s, const char *template_name, const char *const *values)
{
	const char *dir = getenv("MAILBAG_TEMPLATES");
	char path[PATH_SIZE];

	snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] != '\0' ? dir : MAILBAG_TEMPLATE_DIR,
		 template_name);
	char *text = setup_read_text(path);
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
