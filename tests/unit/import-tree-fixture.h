/* import-tree-fixture.h - a foreign set-up's tree in a temporary
 * directory, for the unit tests of the import readers. */
#ifndef MAILBAG_TEST_IMPORT_TREE_FIXTURE_H
#define MAILBAG_TEST_IMPORT_TREE_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import-plan.h"

#define SHA512 "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
#define BARE_SHA512 "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"

/* mkdir -p of the directories of rel under root */
static inline void tree_mkdirs(const char *root, const char *rel)
{
	char path[3 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
}

/* write content to root/rel (NULL: remove it) */
static inline void tree_write(const char *root, const char *rel, const char *content)
{
	char path[3 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (content == NULL) {
		unlink(path);
		return;
	}
	tree_mkdirs(root, rel);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

/* a Maildir at root/rel */
static inline void tree_maildir(const char *root, const char *rel)
{
	char sub[PATH_MAX + 8];
	const char *dirs[] = { "cur", "new", "tmp" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", rel, dirs[i]);
		tree_mkdirs(root, sub);
		char path[3 * PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		mkdir(path, 0700);
	}
}

static inline void tree_remove(const char *root)
{
	char command[PATH_MAX + 16];
	snprintf(command, sizeof(command), "rm -rf '%s'", root);
	if (system(command) != 0)
		abort();
}

/* the plan's problems as one text, "FILE:LINE: text\n" each */
static inline void plan_problems_text(const struct import_plan *plan, const char *root,
				      char *out, size_t size)
{
	size_t used = 0, skip = strlen(root) + 1;
	out[0] = '\0';
	for (size_t i = 0; i < plan->problem_count && used < size; i++) {
		const struct import_message *m = &plan->problems[i];
		const char *file = strncmp(m->origin.file, root, skip - 1) == 0 ? m->origin.file + skip : m->origin.file;
		int n = snprintf(out + used, size - used, "%s:%zu: %s\n", file, m->origin.line, m->text);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

#endif
