/* import-tree-fuzz.h - a fuzz input written into a foreign set-up's tree:
 * the input's parts (separated by NUL bytes) become the files named, in
 * order, under one temporary directory made once per process. */
#ifndef MAILBAG_FUZZ_IMPORT_TREE_H
#define MAILBAG_FUZZ_IMPORT_TREE_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "import-plan.h"
#include "password.h"

static void fuzz_mkdirs(char *path)
{
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
}

/* the tree's root, made on first use; files[] rewritten from data */
static const char *fuzz_tree(const char *const *files, size_t file_count, const uint8_t *data, size_t size)
{
	static char root[64];
	char path[PATH_MAX];

	if (root[0] == '\0') {
		snprintf(root, sizeof(root), "/tmp/fuzz-import.XXXXXX");
		if (mkdtemp(root) == NULL)
			abort();
	}
	size_t at = 0;
	for (size_t i = 0; i < file_count; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		if (at > size) {
			unlink(path);
			continue;
		}
		const uint8_t *end = memchr(data + at, '\0', size - at);
		size_t len = end != NULL ? (size_t)(end - (data + at)) : size - at;
		fuzz_mkdirs(path);
		FILE *f = fopen(path, "wb");
		if (f == NULL)
			abort();
		fwrite(data + at, 1, len, f);
		fclose(f);
		at += len + 1;
	}
	return root;
}

/* what every plan must hold, whatever the input */
static void fuzz_check_plan(const struct import_plan *plan)
{
	struct mb_address addr;
	const char *why;

	for (size_t i = 0; i < plan->user_count; i++) {
		const struct import_user *u = &plan->users[i];
		if (mb_address_parse(u->address, NULL, &addr, &why) < 0)
			abort();
		if (u->hash == NULL ? u->reset_reason == NULL : mb_password_hash_check(u->hash, &why) < 0)
			abort();
	}
	for (size_t i = 0; i < plan->alias_count; i++) {
		if (plan->aliases[i].target_count == 0 || plan->aliases[i].source == NULL)
			abort();
	}
	for (size_t i = 0; i < plan->problem_count; i++) {
		if (plan->problems[i].text == NULL || plan->problems[i].origin.file == NULL)
			abort();
	}
}

#endif
