/* test-atomic-file.c - mb_atomic_file_write: replace, exclusive, mode */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic-file.h"

static char dir[PATH_MAX];

/* slurp - the whole small file at path, in a static buffer ("" if none) */
static const char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void test_replaces_and_leaves_no_temporary(void **state)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], error[PATH_MAX + 256];
	(void)state;

	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	for (int round = 0; round < 2; round++) {
		const char *text = round == 0 ? "first\n" : "second\n";
		int ret = mb_atomic_file_write(path, ".new", text, strlen(text), 0644, (gid_t)-1, 0,
					       error, sizeof(error));
		if (ret != 0)
			fail_msg("round %d: got %d (%s), want 0", round, ret, error);
		assert_string_equal(slurp(path), text);
		assert_int_equal(access(tmp, F_OK), -1);
	}
	unlink(path);
}

static void test_exclusive_refuses_an_existing_file(void **state)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], error[PATH_MAX + 256];
	(void)state;

	snprintf(path, sizeof(path), "%s/exclusive", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	assert_int_equal(mb_atomic_file_write(path, ".new", "old\n", 4, 0644, (gid_t)-1,
					      MB_ATOMIC_FILE_EXCLUSIVE, error, sizeof(error)), 0);
	int ret = mb_atomic_file_write(path, ".new", "new\n", 4, 0644, (gid_t)-1, MB_ATOMIC_FILE_EXCLUSIVE,
				       error, sizeof(error));
	if (ret != -EEXIST || strstr(error, path) == NULL)
		fail_msg("got %d (%s), want %d naming %s", ret, error, -EEXIST, path);
	assert_string_equal(slurp(path), "old\n");
	assert_int_equal(access(tmp, F_OK), -1);
	/* another writer's temporary name is left alone */
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fclose(f);
	unlink(path);
	ret = mb_atomic_file_write(path, ".new", "new\n", 4, 0644, (gid_t)-1, MB_ATOMIC_FILE_EXCLUSIVE,
				   error, sizeof(error));
	if (ret != -EEXIST || access(tmp, F_OK) != 0 || access(path, F_OK) == 0)
		fail_msg("got %d (%s), want %d, %s kept and %s not made", ret, error, -EEXIST, tmp, path);
	unlink(tmp);
}

static void test_mode_and_umask(void **state)
{
	static const struct { unsigned int flags; mode_t want; } cases[] = {
		{ 0, 0600 },                          /* 0640 less umask 077 */
		{ MB_ATOMIC_FILE_EXACT_MODE, 0640 },
	};
	char path[PATH_MAX + 16], error[PATH_MAX + 256];
	(void)state;

	snprintf(path, sizeof(path), "%s/mode", dir);
	mode_t old_umask = umask(077);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st;
		unlink(path);
		assert_int_equal(mb_atomic_file_write(path, ".new", "x", 1, 0640, (gid_t)-1, cases[i].flags,
						      error, sizeof(error)), 0);
		assert_int_equal(stat(path, &st), 0);
		if ((st.st_mode & 07777) != cases[i].want)
			fail_msg("flags %u: got mode %04o, want %04o", cases[i].flags,
				 (unsigned int)(st.st_mode & 07777), (unsigned int)cases[i].want);
	}
	umask(old_umask);
	unlink(path);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	(void)state;

	snprintf(dir, sizeof(dir), "%s/test-atomic-file.XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replaces_and_leaves_no_temporary),
		cmocka_unit_test(test_exclusive_refuses_an_existing_file),
		cmocka_unit_test(test_mode_and_umask),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
