/* k8s/imageref.c: any text as a container image reference and as a pod's
 * imageID. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz/fuzz_text.h"
#include "k8s/imageref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	if (s == NULL) {
		return 0;
	}
	struct image_ref ref;
	char digest[160];
	(void)image_ref_parse(s, &ref);
	(void)image_ref_digest_of_image_id(s, digest, sizeof(digest));
	free(s);
	return 0;
}
