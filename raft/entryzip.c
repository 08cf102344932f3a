#include "raft/entryzip.h"

#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"

void entryzip_buf_free(struct entryzip_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}

static int reserve(struct entryzip_buf *b, size_t n)
{
	if (n <= b->cap) {
		return 0;
	}
	void *p = realloc(b->p, n);
	if (p == NULL) {
		return -1;
	}
	b->p = p;
	b->cap = n;
	return 0;
}

size_t entryzip_pack(const void *src, size_t len, struct entryzip_buf *scratch)
{
	if (len < ENTRYZIP_MIN || len > PROTO_MAX_MSG) {
		return 0;
	}
	size_t bound = (size_t)LZ4_compressBound((int)len);
	if (reserve(scratch, PROTO_ZENTRY_HEADER + bound + 8) != 0) {
		return 0;
	}
	unsigned char *out = scratch->p;
	int z = LZ4_compress_default(src, (char *)out + PROTO_ZENTRY_HEADER, (int)len, (int)bound);
	size_t total = PROTO_ZENTRY_HEADER + (size_t)(z > 0 ? z : 0);
	size_t padded = (total + 7) / 8 * 8;
	if (z <= 0 || padded > len - len / 10) {
		return 0;
	}
	proto_zentry_header((uint32_t)len, (uint32_t)z, out);
	memset(out + total, 0, padded - total);
	return padded;
}

int entryzip_unpack(const void *entry, size_t len, struct entryzip_buf *scratch, const void **out, size_t *out_len)
{
	uint32_t raw_len;
	const void *z;
	size_t zlen;
	int rv = proto_zentry_parse(entry, len, &raw_len, &z, &zlen);
	if (rv == PROTO_ENOTFOUND) {
		*out = entry;
		*out_len = len;
		return PROTO_OK;
	}
	if (rv != PROTO_OK) {
		return rv;
	}
	if (raw_len == 0 || raw_len > PROTO_MAX_MSG || zlen > (size_t)INT32_MAX) {
		return PROTO_EINVAL;
	}
	if (reserve(scratch, raw_len) != 0) {
		return PROTO_ENOMEM;
	}
	int n = LZ4_decompress_safe(z, scratch->p, (int)zlen, (int)raw_len);
	if (n < 0 || (uint32_t)n != raw_len) {
		return PROTO_EINVAL;
	}
	*out = scratch->p;
	*out_len = raw_len;
	return PROTO_OK;
}
