/* doveadm.c - this node's doveadm, run for `mailbag user move`
 *
 * SUMMARY
 *	The move copies mailboxes with Dovecot's own dsync (`doveadm backup`
 *	and `doveadm sync` to tcp:HOST:PORT, the other node's doveadm
 *	server), kicks sessions and deletes the old copy with doveadm too.
 *	Each is a child process run with the node's own Dovecot config
 *	(context move.dovecot_config), its arguments an argv: no shell.
 *
 * SECURITY
 *	The doveadm password the nodes share never appears in an argument
 *	(where `ps` would show it) nor in a message: Dovecot's config reads
 *	it from the file (doveadm_password = <FILE), and this file only
 *	checks that file's mode.
 */
#include "doveadm.h"
#include "grow.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOVEADM_ARGS_MAX 32

/* build_argv - "doveadm" "-c" config args... NULL; 0 or -1 (too many) */
static int build_argv(const char *config, const char *const *args, const char *argv[DOVEADM_ARGS_MAX + 4])
{
	size_t n = 0;

	argv[n++] = "doveadm";
	argv[n++] = "-c";
	argv[n++] = config;
	for (size_t i = 0; args[i] != NULL; i++) {
		if (i == DOVEADM_ARGS_MAX)
			return -1;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return 0;
}

/* read_output - the child's stdout into *output_r, at most
   CLI_DOVEADM_OUTPUT_MAX bytes kept; 0 or -1 (out of memory) */
static int read_output(int fd, char **output_r)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char chunk[4096];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		size_t keep = len + (size_t)n > CLI_DOVEADM_OUTPUT_MAX ? CLI_DOVEADM_OUTPUT_MAX - len : (size_t)n;
		if (keep > 0) {
			char *grown = mb_grow(buf, &cap, len + keep + 1, 1, 4096);
			if (grown == NULL) {
				free(buf);
				return -1;
			}
			buf = grown;
		}
		memcpy(buf + len, chunk, keep);
		len += keep;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return -1;
	buf[len] = '\0';
	*output_r = buf;
	return 0;
}

int cli_doveadm_run(const char *config, const char *const *args, char **output_r,
		    struct mb_error_text *error_r)
{
	const char *argv[DOVEADM_ARGS_MAX + 4];
	int pipe_fds[2] = { -1, -1 }, status;
	char *output = NULL;

	if (build_argv(config, args, argv) < 0)
		return mb_set_error(error_r, "doveadm %s: too many arguments", args[0]);
	if (output_r != NULL && pipe2(pipe_fds, O_CLOEXEC) < 0)
		return mb_set_error(error_r, "doveadm %s: pipe: %s", args[0], strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		mb_set_error(error_r, "doveadm %s: fork: %s", args[0], strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		if (output_r != NULL && dup2(pipe_fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp("doveadm", (char *const *)argv);
		fprintf(stderr, "mailbag: cannot run doveadm: %s\n", strerror(errno));
		_exit(127);
	}
	if (output_r != NULL) {
		close(pipe_fds[1]);
		pipe_fds[1] = -1;
		if (read_output(pipe_fds[0], &output) < 0)
			mb_set_error(error_r, "doveadm %s: out of memory", args[0]);
		close(pipe_fds[0]);
		pipe_fds[0] = -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			mb_set_error(error_r, "doveadm %s: waitpid: %s", args[0], strerror(errno));
			goto fail;
		}
	}
	if (output_r != NULL && output == NULL)
		goto fail;
	if (WIFSIGNALED(status)) {
		mb_set_error(error_r, "doveadm %s was killed by signal %d", args[0], WTERMSIG(status));
		goto fail;
	}
	if (WEXITSTATUS(status) == 127) {
		mb_set_error(error_r, "doveadm %s could not be run (is Dovecot's doveadm installed?)", args[0]);
		goto fail;
	}
	if (output_r != NULL)
		*output_r = output;
	return WEXITSTATUS(status);
fail:
	free(output);
	if (pipe_fds[0] >= 0)
		close(pipe_fds[0]);
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	return -1;
}

int cli_doveadm_password_check(const char *path, struct mb_error_text *error_r)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		return mb_set_error(error_r, "doveadm password file %s: %s (context move.doveadm_password_file; "
				    "every node needs the same password there, mode 0600 or 0640)",
				    path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return mb_set_error(error_r, "doveadm password file %s is not a regular file", path);
	if ((st.st_mode & 0137) != 0) {
		return mb_set_error(error_r, "doveadm password file %s has mode %04o: others (or its group) may read "
				    "or write it; make it 0600 or 0640 (chmod 600 %s)",
				    path, (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_size == 0)
		return mb_set_error(error_r, "doveadm password file %s is empty", path);
	return 0;
}
