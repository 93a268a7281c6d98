/* fuzz-import-postfix-dovecot.c - libFuzzer harness for the
 * postfix-dovecot reader of `mailbag import`
 * (cli/import-postfix-dovecot.c)
 *
 * The input, split at NUL bytes, becomes settings.env,
 * _server_workspace_/etc/dovecot/passwd, etc/postfix/valias and
 * etc/opendkim/keys/mailserver.private of a checkout; the reader runs
 * over it and the plan must hold parsable addresses, hashes the store
 * accepts (or a reset reason) and aliases with targets; then it is freed.
 */
#include "import-postfix-dovecot.h"
#include "import-tree-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const files[] = {
		"settings.env", "_server_workspace_/etc/dovecot/passwd",
		"_server_workspace_/etc/postfix/valias",
		"_server_workspace_/etc/opendkim/keys/mailserver.private",
	};
	struct import_plan plan;

	const char *root = fuzz_tree(files, sizeof(files) / sizeof(files[0]), data, size);
	import_plan_init(&plan);
	if (import_read_postfix_dovecot(root, NULL, &plan) < 0)
		abort();
	fuzz_check_plan(&plan);
	import_plan_free(&plan);
	return 0;
}
