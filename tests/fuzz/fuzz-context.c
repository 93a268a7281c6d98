/* fuzz-context.c - libFuzzer harness for the context file parser
 *
 * Any bytes must give either a context or a one-line error, never both.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_context *ctx = NULL;
	char error[1024] = "";
	int ret = mb_context_parse("fuzz", (const char *)data, size, &ctx, error, sizeof(error));

	if ((ret == 0) != (ctx != NULL))
		abort();
	if (ret < 0 && (error[0] == '\0' || strchr(error, '\n') != NULL))
		abort();
	mb_context_free(&ctx);
	return 0;
}
