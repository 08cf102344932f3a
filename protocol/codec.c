#include "protocol/codec.h"

#include <stdlib.h>
#include <string.h>

void proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

int codec_unpack(const void *buf, size_t len, msgpack_unpacked *up, struct codec_arena *arena, size_t extra)
{
	size_t off = 0;
	if (buf == NULL || len == 0) {
		return PROTO_EINVAL;
	}
	if (len > PROTO_MAX_MSG) {
		return PROTO_ETOOBIG;
	}
	msgpack_unpacked_init(up);
	msgpack_unpack_return rv = msgpack_unpack_next(up, buf, len, &off);
	if (rv != MSGPACK_UNPACK_SUCCESS && rv != MSGPACK_UNPACK_EXTRA_BYTES) {
		msgpack_unpacked_destroy(up);
		return rv == MSGPACK_UNPACK_NOMEM_ERROR ? PROTO_ENOMEM : PROTO_EINVAL;
	}
	if (len - off >= 8) {
		msgpack_unpacked_destroy(up);
		return PROTO_EINVAL;
	}
	for (size_t i = off; i < len; i++) {
		if (((const unsigned char *)buf)[i] != 0) {
			msgpack_unpacked_destroy(up);
			return PROTO_EINVAL;
		}
	}
	/* Every copied string/binary comes from the input, plus one NUL and
	 * alignment slack each; extra covers fixed-size arrays. */
	arena->cap = 2 * len + 16 + extra;
	arena->used = 0;
	arena->base = malloc(arena->cap);
	if (arena->base == NULL) {
		msgpack_unpacked_destroy(up);
		return PROTO_ENOMEM;
	}
	return PROTO_OK;
}

void *codec_alloc(struct codec_arena *a, size_t size)
{
	size_t start = (a->used + 7u) & ~(size_t)7u;
	if (start > a->cap || a->cap - start < size) {
		return NULL;
	}
	a->used = start + size;
	return a->base + start;
}

int codec_envelope(const msgpack_object *o, uint32_t max_type, uint32_t *type, const msgpack_object **fields, uint32_t *n)
{
	uint32_t version;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2) {
		return PROTO_EINVAL;
	}
	if (codec_u32(&o->via.array.ptr[0], &version) != 0 || version != PROTO_VERSION) {
		return PROTO_EINVAL;
	}
	if (codec_u32(&o->via.array.ptr[1], type) != 0 || *type == 0 || *type >= max_type) {
		return PROTO_EINVAL;
	}
	*fields = o->via.array.ptr + 2;
	*n = o->via.array.size - 2;
	return PROTO_OK;
}

int codec_u64(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		return PROTO_EINVAL;
	}
	*v = o->via.u64;
	return PROTO_OK;
}

int codec_u32(const msgpack_object *o, uint32_t *v)
{
	uint64_t x;
	if (codec_u64(o, &x) != 0 || x > UINT32_MAX) {
		return PROTO_EINVAL;
	}
	*v = (uint32_t)x;
	return PROTO_OK;
}

int codec_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return PROTO_OK;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
		*v = (int64_t)o->via.u64;
		return PROTO_OK;
	}
	return PROTO_EINVAL;
}

int codec_i32(const msgpack_object *o, int32_t *v)
{
	int64_t x;
	if (codec_i64(o, &x) != 0 || x < INT32_MIN || x > INT32_MAX) {
		return PROTO_EINVAL;
	}
	*v = (int32_t)x;
	return PROTO_OK;
}

int codec_str(const msgpack_object *o, struct codec_arena *a, size_t max, const char **out)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max) {
		return PROTO_EINVAL;
	}
	if (o->via.str.size > 0 && memchr(o->via.str.ptr, 0, o->via.str.size) != NULL) {
		return PROTO_EINVAL;
	}
	char *s = codec_alloc(a, o->via.str.size + 1);
	if (s == NULL) {
		return PROTO_ETOOBIG;
	}
	if (o->via.str.size > 0) {
		memcpy(s, o->via.str.ptr, o->via.str.size);
	}
	s[o->via.str.size] = '\0';
	*out = s;
	return PROTO_OK;
}

int codec_bin(const msgpack_object *o, struct codec_arena *a, const void **out, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_BIN) {
		return PROTO_EINVAL;
	}
	char *p = codec_alloc(a, o->via.bin.size + 1);
	if (p == NULL) {
		return PROTO_ETOOBIG;
	}
	if (o->via.bin.size > 0) {
		memcpy(p, o->via.bin.ptr, o->via.bin.size);
	}
	*out = p;
	*len = o->via.bin.size;
	return PROTO_OK;
}

void codec_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s != NULL ? s : "", n);
}

void codec_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, p, len);
}

int codec_finish(msgpack_sbuffer *sb, struct proto_buf *out)
{
	static const char zeros[8] = {0};
	size_t pad = (8 - sb->size % 8) % 8;
	if (pad > 0 && msgpack_sbuffer_write(sb, zeros, pad) != 0) {
		msgpack_sbuffer_destroy(sb);
		return PROTO_ENOMEM;
	}
	if (sb->size > PROTO_MAX_MSG) {
		msgpack_sbuffer_destroy(sb);
		return PROTO_ETOOBIG;
	}
	out->len = sb->size;
	out->data = msgpack_sbuffer_release(sb);
	return out->data != NULL ? PROTO_OK : PROTO_ENOMEM;
}
