/* protocol/: Raft commands, bus messages and batches decoded from any
 * bytes: each is refused or decodes; what decodes encodes again and decodes
 * to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"

static void cmd_round_trip(const uint8_t *data, size_t size)
{
	struct proto_cmd c;
	if (proto_cmd_decode(data, size, &c) != PROTO_OK) {
		return;
	}
	struct proto_buf a, b;
	if (proto_cmd_encode(&c, &a) == PROTO_OK) {
		struct proto_cmd d;
		if (proto_cmd_decode(a.data, a.len, &d) != PROTO_OK) {
			abort(); /* what we encode we must read back */
		}
		if (proto_cmd_encode(&d, &b) != PROTO_OK || b.len != a.len || memcmp(a.data, b.data, a.len) != 0) {
			abort();
		}
		proto_buf_free(&b);
		proto_cmd_free(&d);
		proto_buf_free(&a);
	}
	proto_cmd_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t version;
	(void)proto_format_version(data, size, &version);
	if (proto_is_batch(data, size)) {
		struct proto_batch bt;
		if (proto_batch_decode(data, size, &bt) == PROTO_OK) {
			proto_batch_free(&bt);
		}
	}
	cmd_round_trip(data, size);
	struct proto_msg m;
	if (proto_msg_decode(data, size, &m) == PROTO_OK) {
		struct proto_buf b;
		if (proto_msg_encode(&m, &b) == PROTO_OK) {
			proto_buf_free(&b);
		}
		proto_msg_free(&m);
	}
	struct proto_result r;
	(void)proto_result_decode(data, size, &r);
	return 0;
}
