/* gateway/target.c: any request target (path and query) is split and
 * percent-decoded or refused. */
#include <stdint.h>
#include <string.h>

#include "gateway/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	h2o_mem_pool_t pool;
	struct gw_target t;
	const char *q = memchr(data, '?', size);
	h2o_mem_init_pool(&pool);
	if (gw_parse_target(&pool, (const char *)data, size, q != NULL ? (size_t)(q - (const char *)data) : SIZE_MAX, &t)) {
		for (int i = 0; i < t.n_seg; i++) {
			(void)strlen(t.seg[i]);
		}
		for (int i = 0; i < t.n_query; i++) {
			(void)strlen(t.qk[i]);
			(void)strlen(t.qv[i]);
		}
	}
	h2o_mem_clear_pool(&pool);
	return 0;
}
