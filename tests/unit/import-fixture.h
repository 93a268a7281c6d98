/* import-fixture.h - what the import readers' unit tests share: a temp
 * directory to write a format's files into, and the plan's messages
 * searched. Header-only, included by test-import-courier.c and
 * test-import-mailorama.c. */
#ifndef MAILBAG_TEST_IMPORT_FIXTURE_H
#define MAILBAG_TEST_IMPORT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import-formats.h"

#define SHA512_CRYPT "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
#define MD5_CRYPT "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"

static char fixture_dir[256];

static void fixture_start(void)
{
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/mailbag-test-import-XXXXXX");
	if (mkdtemp(fixture_dir) == NULL)
		abort();
}

static void fixture_stop(void)
{
	char command[400];
	snprintf(command, sizeof(command), "rm -rf '%s'", fixture_dir);
	if (system(command) != 0)
		abort();
}

/* fixture_write - dir/name holds text; its path into path */
static void fixture_write(const char *name, const char *text, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", fixture_dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void fixture_mkdir(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	if (mkdir(path, 0755) < 0)
		abort();
}

/* plan_says - a problem (or notice) at line of a file ending in file_end
   whose text holds words */
static bool plan_says(const struct import_message *messages, size_t count, const char *file_end, size_t line,
		      const char *words)
{
	for (size_t i = 0; i < count; i++) {
		const char *f = messages[i].origin.file;
		size_t flen = strlen(f), elen = strlen(file_end);
		if (flen >= elen && strcmp(f + flen - elen, file_end) == 0 && messages[i].origin.line == line &&
		    strstr(messages[i].text, words) != NULL)
			return true;
	}
	return false;
}

static void print_messages(const char *what, const struct import_message *messages, size_t count)
{
	for (size_t i = 0; i < count; i++)
		fprintf(stderr, "  %s %s:%zu: %s\n", what, messages[i].origin.file, messages[i].origin.line,
			messages[i].text);
}

#endif
