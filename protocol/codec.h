/* Internal helpers shared by the command and message codecs: a bounded
 * arena for decoded strings and typed accessors over msgpack objects. */
#ifndef SHIPLOG_PROTOCOL_CODEC_H
#define SHIPLOG_PROTOCOL_CODEC_H

#include <msgpack.h>
#include <stdbool.h>

#include "protocol/proto.h"

/* Bump allocator sized from the input, so decoded copies can never overflow. */
struct codec_arena {
	char *base;
	size_t used;
	size_t cap;
};

/* Unpacks exactly one object from buf; trailing bytes must be zero padding
 * shorter than 8 bytes. The arena is sized for every copy decoding may make. */
int codec_unpack(const void *buf, size_t len, msgpack_unpacked *up, struct codec_arena *arena, size_t extra);

/* Checks the envelope [version, type, ...] with n_fields after version/type. */
/* [version, type, fields...]: version must be PROTO_VERSION, or, when
 * version is not NULL, any this binary reads (PROTO_VERSION or
 * PROTO_CMD_VERSION_IDENTITY), given back in *version. */
int codec_envelope(const msgpack_object *o, uint32_t max_type, uint32_t *version, uint32_t *type,
                   const msgpack_object **fields, uint32_t *n);

int codec_u64(const msgpack_object *o, uint64_t *v);
int codec_u32(const msgpack_object *o, uint32_t *v);
int codec_i64(const msgpack_object *o, int64_t *v);
int codec_i32(const msgpack_object *o, int32_t *v);
/* Copies a string (no NUL bytes, at most max bytes) into the arena. */
int codec_str(const msgpack_object *o, struct codec_arena *a, size_t max, const char **out);
/* Copies a binary field into the arena. */
int codec_bin(const msgpack_object *o, struct codec_arena *a, const void **out, size_t *len);
void *codec_alloc(struct codec_arena *a, size_t size);

/* Writer side: packs into an sbuffer, then pads and hands the bytes out. */
void codec_pack_str(msgpack_packer *pk, const char *s);
void codec_pack_bin(msgpack_packer *pk, const void *p, size_t len);
int codec_finish(msgpack_sbuffer *sb, struct proto_buf *out);

#endif
