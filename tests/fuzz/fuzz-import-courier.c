/* fuzz-import-courier.c - libFuzzer harness for the Courier userdb reader
 * of `mailbag import courier`: the input is written to a file in a
 * temporary directory, read into a plan, the plan checked
 * (import-fuzz-check.h) and freed. Paths in the input name nothing that
 * exists, so no Maildir is found.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "import-formats.h"
#include "import-fuzz-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char file[128];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-import-courier-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(file, sizeof(file), "%s/userdb", dir);
	}
	FILE *f = fopen(file, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	struct import_plan plan;
	import_plan_init(&plan);
	if (import_read_courier(file, NULL, &plan) == 0)
		check_plan(&plan);
	import_plan_free(&plan);
	return 0;
}
