#include "protocol/codec.h"

#include <stdlib.h>
#include <string.h>

void proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

/* Walks the msgpack framing of one object without allocating. msgpack-c
 * allocates a declared array or map size before reading it, so a few hostile
 * bytes could ask for gigabytes: every declared count must fit the bytes
 * left (each element takes at least one). */
static int prescan(const unsigned char *p, size_t len, uint64_t *objects)
{
	size_t off = 0;
	uint64_t pending = 1;
	*objects = 0;
	while (pending > 0) {
		if (off >= len) {
			return PROTO_EINVAL;
		}
		unsigned char c = p[off++];
		uint64_t skip = 0, items = 0;
		(*objects)++;
		int hdr = 0;
		pending--;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
			continue;
		} else if (c >= 0x80 && c <= 0x8f) {
			items = 2u * (c & 0x0fu);
		} else if (c >= 0x90 && c <= 0x9f) {
			items = c & 0x0fu;
		} else if (c >= 0xa0 && c <= 0xbf) {
			skip = c & 0x1fu;
		} else {
			switch (c) {
			case 0xc4: case 0xd9: hdr = 1; break;
			case 0xc5: case 0xda: hdr = 2; break;
			case 0xc6: case 0xdb: hdr = 4; break;
			case 0xc7: hdr = 1; skip = 1; break;
			case 0xc8: hdr = 2; skip = 1; break;
			case 0xc9: hdr = 4; skip = 1; break;
			case 0xca: case 0xce: case 0xd2: skip = 4; break;
			case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: case 0xde: hdr = 2; break;
			case 0xdd: case 0xdf: hdr = 4; break;
			default: return PROTO_EINVAL; /* 0xc1 is never used */
			}
			if (hdr > 0) {
				if (len - off < (size_t)hdr) {
					return PROTO_EINVAL;
				}
				uint64_t n = be(p + off, hdr);
				off += (size_t)hdr;
				if (c >= 0xdc) {
					items = c >= 0xde ? 2 * n : n;
				} else {
					skip += n;
				}
			}
		}
		if (skip > len - off || items > len - off) {
			return PROTO_EINVAL;
		}
		off += (size_t)skip;
		pending += items;
		if (pending > len - off) {
			return PROTO_EINVAL; /* more objects declared than bytes left */
		}
	}
	return PROTO_OK;
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
	uint64_t objects;
	if (prescan(buf, len, &objects) != PROTO_OK) {
		return PROTO_EINVAL;
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
	 * alignment slack each; a pointer per object covers string arrays;
	 * extra covers fixed-size structs. */
	arena->cap = 2 * len + 16 + 8 * (size_t)objects + extra;
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

int codec_envelope(const msgpack_object *o, uint32_t max_type, uint32_t *version_out, uint32_t *type,
                   const msgpack_object **fields, uint32_t *n)
{
	uint32_t version;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2) {
		return PROTO_EINVAL;
	}
	if (codec_u32(&o->via.array.ptr[0], &version) != 0 ||
	    (version != PROTO_VERSION && (version_out == NULL || version != PROTO_CMD_VERSION_IDENTITY))) {
		return PROTO_EINVAL;
	}
	if (version_out != NULL) {
		*version_out = version;
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
