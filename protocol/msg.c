/* Actor messages (proposals, barriers, replies, published status, ...):
 * their envelope, with the fields described in tables.c. */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/schema.h"

static bool known(uint32_t type)
{
	return type < PROTO_MSG_TYPE_MAX_ && schema_msgs[type].record_size != 0;
}

int proto_msg_encode(const struct proto_msg *m, struct proto_buf *out)
{
	if (!known(m->type)) {
		return PROTO_EINVAL;
	}
	const struct schema_table *t = &schema_msgs[m->type];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, t->n + 2);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, m->type);
	schema_pack(&pk, t, m);
	return codec_finish(&sb, out);
}

int proto_msg_decode(const void *buf, size_t len, struct proto_msg *m)
{
	msgpack_unpacked up;
	struct codec_arena a;
	const msgpack_object *f;
	uint32_t n;
	memset(m, 0, sizeof(*m));
	int rv = codec_unpack(buf, len, &up, &a, 0);
	if (rv != PROTO_OK) {
		return rv;
	}
	m->mem_ = a.base;
	rv = codec_envelope(&up.data, PROTO_MSG_TYPE_MAX_, NULL, &m->type, &f, &n);
	if (rv == PROTO_OK && (!known(m->type) || schema_unpack(f, n, &a, &schema_msgs[m->type], m) != PROTO_OK)) {
		rv = PROTO_EINVAL; /* a message that does not fit is malformed, whatever the cause */
	}
	msgpack_unpacked_destroy(&up);
	if (rv != PROTO_OK) {
		proto_msg_free(m);
	}
	return rv;
}

void proto_msg_free(struct proto_msg *m)
{
	free(m->mem_);
	memset(m, 0, sizeof(*m));
}
