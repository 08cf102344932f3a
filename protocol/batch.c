/* Batches: several encoded commands proposed as one Raft entry, and the
 * results of such an entry (one per command, in order). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"

int proto_batch_encode(const struct proto_slice *cmds, uint32_t n, struct proto_buf *out)
{
	if (n == 0 || n > PROTO_MAX_BATCH) {
		return PROTO_EINVAL;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, PROTO_CMD_BATCH);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		codec_pack_bin(&pk, cmds[i].data, cmds[i].len);
	}
	return codec_finish(&sb, out);
}

/* Big-endian unsigned of n bytes at p. */
static uint32_t be(const unsigned char *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

int proto_format_version(const void *buf, size_t len, uint32_t *version)
{
	const unsigned char *p = buf;
	size_t at = len == 0 ? 0 : (p[0] & 0xf0) == 0x90 ? 1 : p[0] == 0xdc ? 3 : p[0] == 0xdd ? 5 : 0;
	if (at == 0 || len <= at) {
		return PROTO_EINVAL;
	}
	unsigned char tag = p[at];
	size_t width = tag <= 0x7f ? 0 : tag == 0xcc ? 1 : tag == 0xcd ? 2 : tag == 0xce ? 4 : tag == 0xcf ? 8 : SIZE_MAX;
	if (width == SIZE_MAX || len - at - 1 < width) {
		return PROTO_EINVAL;
	}
	if (width == 8) { /* above any uint32: clamp */
		*version = be(p + at + 1, 4) != 0 ? UINT32_MAX : be(p + at + 5, 4);
		return PROTO_OK;
	}
	*version = width == 0 ? tag : be(p + at + 1, width);
	return PROTO_OK;
}

/* Big-endian u32 at p. */
static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Written by hand, not by msgpack-c: a fixed layout that reads in place. */
void proto_zentry_header(uint32_t raw_len, uint32_t zlen, unsigned char out[PROTO_ZENTRY_HEADER])
{
	out[0] = 0x94; /* fixarray of 4 */
	out[1] = PROTO_ZENTRY_VERSION;
	out[2] = PROTO_CMD_ZENTRY;
	out[3] = 0xce; /* uint32 */
	put_be32(out + 4, raw_len);
	out[8] = 0xc6; /* bin32 */
	put_be32(out + 9, zlen);
}

int proto_zentry_parse(const void *buf, size_t len, uint32_t *raw_len, const void **z, size_t *zlen)
{
	const unsigned char *p = buf;
	if (len < 3 || p[0] != 0x94 || p[1] != PROTO_ZENTRY_VERSION || p[2] != PROTO_CMD_ZENTRY) {
		return PROTO_ENOTFOUND;
	}
	if (len < PROTO_ZENTRY_HEADER || p[3] != 0xce || p[8] != 0xc6) {
		return PROTO_EINVAL;
	}
	uint32_t n = be(p + 9, 4);
	if (n > len - PROTO_ZENTRY_HEADER) {
		return PROTO_EINVAL;
	}
	*raw_len = be(p + 4, 4);
	*z = p + PROTO_ZENTRY_HEADER;
	*zlen = n;
	return PROTO_OK;
}

bool proto_is_batch(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	/* [version, PROTO_CMD_BATCH, ...]: msgpack-c packs both as positive fixints */
	return len >= 3 && p[0] == 0x93 && p[1] == PROTO_VERSION && p[2] == PROTO_CMD_BATCH;
}

int proto_batch_decode(const void *buf, size_t len, struct proto_batch *b)
{
	msgpack_unpacked up;
	struct codec_arena a;
	uint32_t version, type;
	memset(b, 0, sizeof(*b));
	/* extra: the slice array (16 bytes per command of at least 8 bytes) */
	int rv = codec_unpack(buf, len, &up, &a, 2 * len);
	if (rv != PROTO_OK) {
		return rv;
	}
	const msgpack_object *o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
	    codec_u32(&o->via.array.ptr[0], &version) != 0 || version != PROTO_VERSION ||
	    codec_u32(&o->via.array.ptr[1], &type) != 0 || type != PROTO_CMD_BATCH ||
	    o->via.array.ptr[2].type != MSGPACK_OBJECT_ARRAY || o->via.array.ptr[2].via.array.size == 0 ||
	    o->via.array.ptr[2].via.array.size > PROTO_MAX_BATCH) {
		rv = PROTO_EINVAL;
	}
	const msgpack_object_array *cmds = rv == PROTO_OK ? &o->via.array.ptr[2].via.array : NULL;
	uint32_t n = cmds != NULL ? cmds->size : 0;
	if (rv == PROTO_OK && (b->cmds = codec_alloc(&a, cmds->size * sizeof(*b->cmds))) == NULL) {
		rv = PROTO_ENOMEM;
	}
	for (uint32_t i = 0; rv == PROTO_OK && i < cmds->size; i++) {
		const void *p;
		rv = codec_bin(&cmds->ptr[i], &a, &p, &b->cmds[i].len);
		b->cmds[i].data = p;
	}
	msgpack_unpacked_destroy(&up);
	if (rv != PROTO_OK) {
		free(a.base);
		memset(b, 0, sizeof(*b));
		return rv;
	}
	b->n = n;
	b->mem_ = a.base;
	return PROTO_OK;
}

void proto_batch_free(struct proto_batch *b)
{
	free(b->mem_);
	memset(b, 0, sizeof(*b));
}

int proto_results_encode(const struct proto_result *r, uint32_t n, struct proto_buf *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_array(&pk, 5);
		msgpack_pack_int32(&pk, r[i].code);
		msgpack_pack_uint64(&pk, r[i].index);
		msgpack_pack_uint32(&pk, r[i].replay);
		msgpack_pack_uint32(&pk, r[i].created);
		msgpack_pack_uint32(&pk, r[i].updated);
	}
	return codec_finish(&sb, out);
}

int proto_results_decode(const void *buf, size_t len, struct proto_result *r, uint32_t n)
{
	msgpack_unpacked up;
	struct codec_arena a;
	uint32_t version;
	memset(r, 0, n * sizeof(*r));
	int rv = codec_unpack(buf, len, &up, &a, 0);
	if (rv != PROTO_OK) {
		return rv;
	}
	free(a.base);
	const msgpack_object *o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
	    codec_u32(&o->via.array.ptr[0], &version) != 0 || version != PROTO_VERSION ||
	    o->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY || o->via.array.ptr[1].via.array.size != n) {
		rv = PROTO_EINVAL;
	}
	for (uint32_t i = 0; rv == PROTO_OK && i < n; i++) {
		const msgpack_object *e = &o->via.array.ptr[1].via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 5 ||
		    codec_i32(&e->via.array.ptr[0], &r[i].code) != 0 || codec_u64(&e->via.array.ptr[1], &r[i].index) != 0 ||
		    codec_u32(&e->via.array.ptr[2], &r[i].replay) != 0 ||
		    codec_u32(&e->via.array.ptr[3], &r[i].created) != 0 ||
		    codec_u32(&e->via.array.ptr[4], &r[i].updated) != 0) {
			rv = PROTO_EINVAL;
		}
	}
	msgpack_unpacked_destroy(&up);
	return rv;
}
