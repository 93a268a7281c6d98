/* run-corpus.c - run a fuzz harness over its seed corpus without libFuzzer
 *
 * Linked with each harness when the build is not a fuzzing build, so the
 * corpus (tests/fuzz/corpus/NAME/) runs in `meson test` under gcc and the
 * sanitizers. Usage: fuzz-NAME-corpus FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static uint8_t buf[1 << 20];
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("%d inputs run\n", argc - 1);
	return 0;
}
