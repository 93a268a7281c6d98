/* test-service.c - the service skeleton (lib/service.c): options, a bad
   context, listeners, the reload, and one whole run in a child */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "context.h"
#include "daemon.h"
#include "service.h"

#include "mailbag-config.h"

static const char test_usage[] = "usage: mailbag-test [-c CONTEXT] [-d]\n\nA test daemon.\n";

/* The test daemon: two unix listeners (one in a directory the skeleton
   makes) and an optional TCP one, as policyd and mailbag-lmtpd have */
static const struct mb_service_listener test_listeners[] = {
	{ .kind = MB_SERVICE_UNIX,
	  .address = { "policyd.socketmap_socket", offsetof(struct mb_context, policyd.socketmap_socket) },
	  .group = { "policyd.socket_group", offsetof(struct mb_context, policyd.socket_group) },
	  .mode = { "policyd.socket_mode", offsetof(struct mb_context, policyd.socket_mode) } },
	{ .kind = MB_SERVICE_UNIX,
	  .address = { "policyd.usage_socket", offsetof(struct mb_context, policyd.usage_socket) },
	  .group_id = { "vmail_gid", offsetof(struct mb_context, vmail_gid) },
	  .mode = { "policyd.socket_mode", offsetof(struct mb_context, policyd.socket_mode) },
	  .make_directory = true },
	{ .kind = MB_SERVICE_TCP,
	  .address = { "lmtpd.listen_tcp", offsetof(struct mb_context, lmtpd.listen_tcp) } },
};

/* What the callbacks saw */
struct test_daemon {
	int reloads;
	int steps;     /* the callbacks called, in order: 1 setup, 2 init, 3 run */
	int failed_at; /* the first out-of-order or wrong observation, 0: none */
	uid_t started_as;
};

static void note_step(struct test_daemon *d, int step, bool ok)
{
	if (d->failed_at == 0 && (d->steps != step - 1 || !ok))
		d->failed_at = step;
	d->steps = step;
}

static int test_setup(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct test_daemon *d = run->daemon;
	(void)error_r;

	/* before the listeners, as the caller */
	note_step(d, 1, run->ctx != NULL && run->listen_fds[0] == -1 && geteuid() == d->started_as);
	return 0;
}

static bool is_socket(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int test_init(struct mb_service_run *run, struct mb_error_text *error_r)
{
	struct test_daemon *d = run->daemon;
	(void)error_r;

	/* the listeners made, root given up */
	note_step(d, 2, is_socket(run->listen_fds[0]) && is_socket(run->listen_fds[1]) &&
		  run->listen_fds[2] == -1 && (d->started_as != 0 || geteuid() != 0));
	return 0;
}

static int test_run(struct mb_service_run *run)
{
	struct test_daemon *d = run->daemon;

	note_step(d, 3, true);
	return d->failed_at == 0 ? 0 : 10 + d->failed_at;
}

static void test_reloaded(struct mb_service_run *run)
{
	struct test_daemon *d = run->daemon;

	d->reloads++;
}

static const struct mb_service test_service = {
	.name = "mailbag-test",
	.usage = test_usage,
	.listeners = test_listeners,
	.listener_count = 3,
	.setup = test_setup,
	.init = test_init,
	.run = test_run,
	.reloaded = test_reloaded,
};

/* Capturing what a call writes on stdout or stderr */

struct capture {
	int fd;    /* 1 or 2 */
	int saved; /* the real one */
	char path[64];
};

static void capture_start(struct capture *c, int fd)
{
	c->fd = fd;
	snprintf(c->path, sizeof(c->path), "/tmp/test-service-out.XXXXXX");
	int out = mkstemp(c->path);
	assert_true(out >= 0);
	fflush(fd == 1 ? stdout : stderr);
	c->saved = dup(fd);
	assert_true(c->saved >= 0);
	assert_true(dup2(out, fd) >= 0);
	close(out);
}

/* capture_end - what was written, malloc'd */
static char *capture_end(struct capture *c)
{
	static char text[8192];
	fflush(c->fd == 1 ? stdout : stderr);
	dup2(c->saved, c->fd);
	close(c->saved);
	FILE *f = fopen(c->path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(c->path);
	return strdup(text);
}

/* run_main - mb_service_main with argv, what it wrote on fd */
static int run_main(char **argv, int argc, int fd, char **output_r)
{
	struct test_daemon d = { .started_as = geteuid() };
	struct capture c;

	capture_start(&c, fd);
	int status = mb_service_main(&test_service, &d, argc, argv);
	*output_r = capture_end(&c);
	return status;
}

/* Options */

static void test_help_prints_the_usage_on_stdout(void **state)
{
	(void)state;
	const char *spellings[] = { "--help", "-h" };

	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { "mailbag-test", (char *)spellings[i], NULL };
		char *out;
		int status = run_main(argv, 2, 1, &out);
		if (status != 0 || strcmp(out, test_usage) != 0)
			fail_msg("%s: got status %d and \"%s\", want 0 and the usage", spellings[i], status, out);
		free(out);
	}
}

static void test_version_names_the_daemon(void **state)
{
	(void)state;
	char *argv[] = { "mailbag-test", "-V", NULL };
	char *out;

	int status = run_main(argv, 2, 1, &out);
	assert_int_equal(status, 0);
	assert_string_equal(out, "mailbag-test " MAILBAG_VERSION "\n");
	free(out);
}

static void test_bad_options_print_the_usage_on_stderr(void **state)
{
	(void)state;
	char *unknown[] = { "mailbag-test", "-x", NULL };
	char *extra[] = { "mailbag-test", "-d", "surplus", NULL };
	char *missing[] = { "mailbag-test", "-c", NULL };
	struct { char **argv; int argc; } cases[] = { { unknown, 2 }, { extra, 3 }, { missing, 2 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out;
		int status = run_main(cases[i].argv, cases[i].argc, 2, &out);
		if (status != EX_USAGE || strstr(out, test_usage) == NULL)
			fail_msg("%s %s: got status %d and \"%s\", want %d and the usage", cases[i].argv[1],
				 cases[i].argc > 2 ? cases[i].argv[2] : "", status, out, EX_USAGE);
		free(out);
	}
}

/* A context that does not load */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_a_bad_context_is_logged_and_exits_config(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-service.XXXXXX";
	char path[128], missing[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/context.json", dir);
	snprintf(missing, sizeof(missing), "%s/none.json", dir);
	write_file(path, "{\"hostname\": \"nodot\"}\n");

	char *bad[] = { "mailbag-test", "-c", path, NULL };
	char *absent[] = { "mailbag-test", "--context", missing, NULL };
	struct { char **argv; const char *want; } cases[] = {
		{ bad, "key 'hostname': expected a fully qualified host name" },
		{ absent, "cannot open" },
	};
	for (size_t i = 0; i < 2; i++) {
		char *out;
		int status = run_main(cases[i].argv, 3, 2, &out);
		if (status != EX_CONFIG || strncmp(out, "mailbag-test: error: ", 21) != 0 ||
		    strstr(out, cases[i].argv[2]) == NULL || strstr(out, cases[i].want) == NULL)
			fail_msg("%s: got status %d and \"%s\", want %d and an error naming the file and '%s'",
				 cases[i].argv[2], status, out, EX_CONFIG, cases[i].want);
		free(out);
	}
	unlink(path);
	rmdir(dir);
}

/* Listeners */

struct test_tree {
	char dir[32];
	char sock[96];     /* dir/map.sock */
	char sub_sock[96]; /* dir/sub/usage.sock: the directory is the skeleton's */
	char context[96];
};

static void tree_make(struct test_tree *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test-service.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/map.sock", t->dir);
	snprintf(t->sub_sock, sizeof(t->sub_sock), "%s/sub/usage.sock", t->dir);
	snprintf(t->context, sizeof(t->context), "%s/context.json", t->dir);
}

static void tree_remove(struct test_tree *t)
{
	char sub[64];

	unlink(t->sock);
	unlink(t->sub_sock);
	unlink(t->context);
	snprintf(sub, sizeof(sub), "%s/sub", t->dir);
	rmdir(sub);
	rmdir(t->dir);
}

/* context_text - a context with the tree's sockets; the usage socket's
   group is the caller's (nogroup's for root: vmail_gid may not be 0) */
static void context_text(const struct test_tree *t, const char *group, const char *mode,
			 const char *tcp, const char *extra, char *out, size_t size)
{
	snprintf(out, size,
		 "{\"daemon_user\": \"nobody\", \"vmail_gid\": %ld,"
		 " \"policyd\": {\"socketmap_socket\": \"%s\", \"usage_socket\": \"%s\","
		 " \"socket_group\": \"%s\", \"socket_mode\": \"%s\"},"
		 " \"lmtpd\": {\"listen_tcp\": \"%s\"}%s}\n",
		 getegid() != 0 ? (long)getegid() : 65534L, t->sock, t->sub_sock, group, mode, tcp, extra);
}

static struct mb_context *parse_context(const char *text)
{
	struct mb_context *ctx = NULL;
	char error[1024];

	if (mb_context_parse("test", text, strlen(text), &ctx, error, sizeof(error)) < 0)
		fail_msg("the test's context does not parse: %s", error);
	return ctx;
}

/* free_tcp_address - "127.0.0.1:PORT" with a port free just now (the
   schema refuses port 0) */
static void free_tcp_address(char *out, size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(out, size, "127.0.0.1:%u", ntohs(sin.sin_port));
	close(fd);
}

static void test_listeners_are_made_with_their_mode(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024], tcp[32];
	struct mb_error_text error;
	struct stat st;
	tree_make(&t);
	free_tcp_address(tcp, sizeof(tcp));
	context_text(&t, "root", "0640", tcp, "", text, sizeof(text));
	struct mb_service_run run = { .service = &test_service, .ctx = parse_context(text) };

	assert_int_equal(mb_service_find_groups(&run, &error), 0);
	if (mb_service_listen(&run, &error) != 0)
		fail_msg("mb_service_listen: %s", error.text);
	const char *paths[] = { t.sock, t.sub_sock };
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(lstat(paths[i], &st), 0);
		if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0640)
			fail_msg("%s: got mode %o, want a socket of mode 0640", paths[i], (unsigned)st.st_mode);
		assert_true(run.listen_fds[i] >= 0);
	}
	assert_true(is_socket(run.listen_fds[2]));
	mb_service_close_listeners(&run);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(run.listen_fds[i], -1);
	/* the unix sockets are removed at the end */
	assert_int_equal(lstat(t.sock, &st), -1);
	assert_int_equal(lstat(t.sub_sock, &st), -1);
	mb_context_free(&run.ctx);
	tree_remove(&t);
}

static void test_an_empty_tcp_address_is_no_listener(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024];
	struct mb_error_text error;
	tree_make(&t);
	context_text(&t, "root", "0660", "", "", text, sizeof(text));
	struct mb_service_run run = { .service = &test_service, .ctx = parse_context(text) };

	assert_int_equal(mb_service_find_groups(&run, &error), 0);
	assert_int_equal(mb_service_listen(&run, &error), 0);
	assert_int_equal(run.listen_fds[2], -1);
	mb_service_close_listeners(&run);
	mb_context_free(&run.ctx);
	tree_remove(&t);
}

static void test_a_listener_that_fails_names_its_key(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024];
	struct mb_error_text error;
	tree_make(&t);
	/* TEST-NET-1 is no address of this host */
	context_text(&t, "root", "0660", "192.0.2.1:2525", "", text, sizeof(text));
	struct mb_service_run run = { .service = &test_service, .ctx = parse_context(text) };

	assert_int_equal(mb_service_find_groups(&run, &error), 0);
	assert_int_equal(mb_service_listen(&run, &error), EX_OSERR);
	if (strncmp(error.text, "lmtpd.listen_tcp: cannot listen on 192.0.2.1:2525: ", 51) != 0)
		fail_msg("got \"%s\", want the key, the address and the reason", error.text);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(run.listen_fds[i], -1);
	mb_context_free(&run.ctx);
	tree_remove(&t);
}

static void test_a_missing_group_is_a_config_error_as_root(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024];
	struct mb_error_text error;
	tree_make(&t);
	context_text(&t, "nosuchgroup", "0660", "", "", text, sizeof(text));
	struct mb_service_run run = { .service = &test_service, .ctx = parse_context(text) };

	int status = mb_service_find_groups(&run, &error);
	if (geteuid() == 0) {
		assert_int_equal(status, EX_CONFIG);
		assert_string_equal(error.text, "policyd.socket_group 'nosuchgroup' does not exist");
	} else {
		/* not root: the socket keeps the caller's group, none is looked up */
		assert_int_equal(status, 0);
		assert_int_equal(run.gids[0], -1);
	}
	mb_context_free(&run.ctx);
	tree_remove(&t);
}

/* The reload */

static void test_sighup_reloads_and_keeps_the_fixed_keys(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024];
	struct test_daemon d = { 0 };
	tree_make(&t);
	context_text(&t, "root", "0660", "", ", \"checks\": {\"message_size\": true}", text, sizeof(text));
	write_file(t.context, text);
	struct mb_service_run run = { .service = &test_service, .daemon = &d, .context_path = t.context };
	char error[1024];
	assert_int_equal(mb_context_load(t.context, &run.ctx, error, sizeof(error)), 0);
	assert_int_equal(mb_signals_install(), 0);
	mb_take_reload_request(); /* none left over */

	/* no SIGHUP: nothing happens */
	assert_false(mb_service_reload_if_requested(&run));
	assert_int_equal(d.reloads, 0);

	/* a new socket path (fixed at start) and a new check (not fixed) */
	char moved[128];
	snprintf(moved, sizeof(moved), "%s/elsewhere.sock", t.dir);
	snprintf(text, sizeof(text),
		 "{\"daemon_user\": \"nobody\", \"policyd\": {\"socketmap_socket\": \"%s\"},"
		 " \"checks\": {\"message_size\": false}}\n", moved);
	write_file(t.context, text);
	assert_int_equal(raise(SIGHUP), 0);
	assert_true(mb_service_reload_if_requested(&run));
	assert_int_equal(d.reloads, 1);
	assert_int_equal(run.ctx->checks.message_size, 0);
	assert_string_equal(run.ctx->policyd.socketmap_socket, t.sock);
	/* the signal was taken */
	assert_false(mb_service_reload_if_requested(&run));
	assert_int_equal(d.reloads, 1);

	/* a file that does not load keeps the running settings */
	write_file(t.context, "{\"hostname\": \"nodot\"}\n");
	struct mb_context *running = run.ctx;
	assert_int_equal(mb_service_reload(&run), -1);
	assert_ptr_equal(run.ctx, running);
	assert_int_equal(d.reloads, 1);
	mb_context_free(&run.ctx);
	tree_remove(&t);
}

/* One whole run, in a child: as root it gives up root for nobody */

static void test_a_whole_run_calls_the_daemon_in_order(void **state)
{
	(void)state;
	struct test_tree t;
	char text[1024];
	tree_make(&t);
	context_text(&t, "root", "0660", "", "", text, sizeof(text));
	write_file(t.context, text);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct test_daemon d = { .started_as = geteuid() };
		char *argv[] = { "mailbag-test", "-c", t.context, NULL };
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		_exit(mb_service_main(&test_service, &d, 3, argv));
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("got exit status %d, want 0 (11: setup, 12: init, 13: run out of order or wrong)",
			 WEXITSTATUS(status));
	/* not root, the skeleton could remove its sockets at the end */
	struct stat st;
	if (geteuid() != 0)
		assert_int_equal(lstat(t.sock, &st), -1);
	tree_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_prints_the_usage_on_stdout),
		cmocka_unit_test(test_version_names_the_daemon),
		cmocka_unit_test(test_bad_options_print_the_usage_on_stderr),
		cmocka_unit_test(test_a_bad_context_is_logged_and_exits_config),
		cmocka_unit_test(test_listeners_are_made_with_their_mode),
		cmocka_unit_test(test_an_empty_tcp_address_is_no_listener),
		cmocka_unit_test(test_a_listener_that_fails_names_its_key),
		cmocka_unit_test(test_a_missing_group_is_a_config_error_as_root),
		cmocka_unit_test(test_sighup_reloads_and_keeps_the_fixed_keys),
		cmocka_unit_test(test_a_whole_run_calls_the_daemon_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
