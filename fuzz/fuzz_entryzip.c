/* raft/entryzip.c: a Raft entry from the log or a peer, compressed or not,
 * expanded and then decoded as the FSM would; packing what expands gives it
 * back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"
#include "raft/entryzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entryzip_buf scratch = {0}, again = {0}, back = {0};
	const void *out;
	size_t out_len;
	if (entryzip_unpack(data, size, &scratch, &out, &out_len) == PROTO_OK) {
		struct proto_cmd c;
		if (proto_cmd_decode(out, out_len, &c) == PROTO_OK) {
			proto_cmd_free(&c);
		}
		size_t packed = entryzip_pack(out, out_len, &again);
		if (packed > 0) {
			const void *round;
			size_t round_len;
			if (entryzip_unpack(again.p, packed, &back, &round, &round_len) != PROTO_OK || round_len != out_len ||
			    memcmp(round, out, out_len) != 0) {
				abort(); /* what we pack must expand to itself */
			}
		}
	}
	entryzip_buf_free(&scratch);
	entryzip_buf_free(&again);
	entryzip_buf_free(&back);
	return 0;
}
