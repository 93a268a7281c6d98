/* fuzz-import-mailorama.c - libFuzzer harness for the Mail-o-Rama reader
 * of `mailbag import mailorama`: the input is cut at each line "%%" into
 * the accounts, domains, virtuals and aliases files (in that order; a
 * file the input does not reach is absent) of a temporary directory,
 * read into a plan, the plan checked (import-fuzz-check.h) and freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import-formats.h"
#include "import-fuzz-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static const char *const names[] = { "accounts", "domains", "virtuals", "aliases" };

static void write_part(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (data == NULL) {
		unlink(path);
		return;
	}
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

/* next_cut - where "\n%%\n" starts in data, or NULL */
static const uint8_t *next_cut(const uint8_t *data, size_t size)
{
	return memmem(data, size, "\n%%\n", 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-import-mailorama-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	const uint8_t *p = data;
	size_t left = size;
	for (size_t i = 0; i < 4; i++) {
		if (p == NULL) {
			write_part(names[i], NULL, 0);
			continue;
		}
		const uint8_t *cut = next_cut(p, left);
		size_t len = cut != NULL ? (size_t)(cut - p) + 1 : left;
		write_part(names[i], p, len);
		if (cut != NULL) {
			left -= (size_t)(cut - p) + 4;
			p = cut + 4;
		} else {
			p = NULL;
		}
	}
	struct import_plan plan;
	import_plan_init(&plan);
	if (import_read_mailorama(dir, NULL, &plan) == 0)
		check_plan(&plan);
	import_plan_free(&plan);
	return 0;
}
