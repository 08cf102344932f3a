/* lib/timefmt.c: any text as an RFC 3339 time; what parses formats and
 * parses again to the same instant. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz/fuzz_text.h"
#include "lib/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	if (s == NULL) {
		return 0;
	}
	int64_t ms, again;
	if (timefmt_parse(s, &ms) == 0) {
		char out[64];
		timefmt_format(ms, out, sizeof(out));
		if (timefmt_parse(out, &again) != 0 || again != ms) {
			abort(); /* what we write we must read back */
		}
	}
	free(s);
	return 0;
}
