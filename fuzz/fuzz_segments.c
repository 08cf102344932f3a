/* raft/segments.c: any bytes as the content of an open Raft segment, walked
 * batch by batch before raft_uv loads it. */
#include <stdint.h>

#include "raft/segments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)repl_open_segment_damage(data, size);
	return 0;
}
