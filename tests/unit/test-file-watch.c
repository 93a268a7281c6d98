/* test-file-watch.c - a write, a rename over the file and a removal are
   each seen at the next question; an unrelated file in the directory is not */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "file-watch.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_changes_are_seen(void **state)
{
	char dir[] = "/tmp/mailbag-watch-XXXXXX", path[128], other[128], tmp[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/context.json", dir);
	snprintf(other, sizeof(other), "%s/other.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/context.json.new", dir);
	write_file(path, "{}");
	struct mb_file_watch *watch = mb_file_watch_open(path);
	assert_non_null(watch);
	assert_false(mb_file_watch_maybe_changed(watch));
	write_file(other, "{}");
	assert_false(mb_file_watch_maybe_changed(watch));
	write_file(path, "{\"a\": 1}");
	assert_true(mb_file_watch_maybe_changed(watch));
	assert_false(mb_file_watch_maybe_changed(watch));
	write_file(tmp, "{\"a\": 2}");
	assert_int_equal(rename(tmp, path), 0);
	assert_true(mb_file_watch_maybe_changed(watch));
	assert_int_equal(unlink(path), 0);
	assert_true(mb_file_watch_maybe_changed(watch));
	/* nothing happens: still "maybe" once a second */
	sleep(1);
	usleep(100000);
	assert_true(mb_file_watch_maybe_changed(watch));
	mb_file_watch_close(&watch);
	assert_null(watch);
	unlink(other);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes_are_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
