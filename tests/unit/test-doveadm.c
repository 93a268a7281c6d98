/* test-doveadm.c - the doveadm password file's checks (cli/doveadm.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doveadm.h"

static void test_password_file_modes(void **state)
{
	static const struct {
		mode_t mode;
		const char *content;
		int want;
		const char *error; /* part of the message, when refused */
	} cases[] = {
		{ 0600, "secret\n", 0, NULL },
		{ 0640, "secret\n", 0, NULL },
		{ 0400, "secret\n", 0, NULL },
		{ 0440, "secret\n", 0, NULL },
		{ 0644, "secret\n", -1, "mode 0644" },
		{ 0660, "secret\n", -1, "mode 0660" },
		{ 0604, "secret\n", -1, "chmod 600" },
		{ 0700, "secret\n", -1, "mode 0700" },
		{ 0600, "", -1, "is empty" },
	};
	char dir[] = "/tmp/mailbag-doveadm-XXXXXX", path[128];
	struct mb_error_text error;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/password", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(cases[i].content, f);
		fclose(f);
		assert_int_equal(chmod(path, cases[i].mode), 0);
		error.text[0] = '\0';
		int got = cli_doveadm_password_check(path, &error);
		if (got != cases[i].want)
			fail_msg("mode %04o: got %d, want %d (%s)", (unsigned)cases[i].mode, got, cases[i].want,
				 error.text);
		if (cases[i].error != NULL && strstr(error.text, cases[i].error) == NULL)
			fail_msg("mode %04o: error '%s' lacks '%s'", (unsigned)cases[i].mode, error.text, cases[i].error);
		/* the password itself never appears in a message */
		assert_null(strstr(error.text, "secret"));
	}
	unlink(path);
	assert_int_equal(cli_doveadm_password_check(path, &error), -1);
	assert_non_null(strstr(error.text, "move.doveadm_password_file"));
	assert_int_equal(cli_doveadm_password_check(dir, &error), -1);
	assert_non_null(strstr(error.text, "not a regular file"));
	rmdir(dir);
}

/* doveadm's exit code and output come back; a missing command is an error */
static void test_run_output_and_exit_code(void **state)
{
	const char *args[] = { "help", NULL };
	struct mb_error_text error;
	char *output = NULL;

	(void)state;
	if (access("/usr/bin/doveadm", X_OK) != 0)
		skip();
	int ret = cli_doveadm_run("/nonexistent/dovecot.conf", args, &output, &error);
	/* doveadm refuses the missing config: a non-zero exit, not -1 */
	assert_true(ret > 0);
	assert_non_null(output);
	free(output);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file_modes),
		cmocka_unit_test(test_run_output_and_exit_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
