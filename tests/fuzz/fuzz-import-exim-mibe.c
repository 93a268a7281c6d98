/* fuzz-import-exim-mibe.c - libFuzzer harness for the exim-mibe reader of
 * `mailbag import` (cli/import-exim-mibe.c)
 *
 * The input, split at NUL bytes, becomes passwd/example.org,
 * aliases/example.org, exim/conf/global_aliases, rewrite_domains,
 * relay_from_hosts, relay_to_domains, dkim_required and passwd/example.net
 * of a /srv/mail tree; the reader runs over it and the plan must hold
 * parsable addresses, hashes the store accepts (or a reset reason) and
 * aliases with targets; then it is freed.
 */
#include "import-exim-mibe.h"
#include "import-tree-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const files[] = {
		"passwd/example.org", "aliases/example.org", "exim/conf/global_aliases",
		"exim/conf/rewrite_domains", "exim/conf/relay_from_hosts", "exim/conf/relay_to_domains",
		"exim/conf/dkim_required", "passwd/example.net",
	};
	struct import_plan plan;

	const char *root = fuzz_tree(files, sizeof(files) / sizeof(files[0]), data, size);
	import_plan_init(&plan);
	if (import_read_exim_mibe(root, NULL, &plan) < 0)
		abort();
	fuzz_check_plan(&plan);
	import_plan_free(&plan);
	return 0;
}
