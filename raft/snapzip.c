/* LZ4 frames for snapshots (see snapzip.h). */
#include "raft/snapzip.h"

#include <lz4frame.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PIECE_MAX (1u << 20) /* input handed to LZ4F at once: bounds the headroom needed */

struct snapzip {
	LZ4F_cctx *ctx;
	LZ4F_preferences_t prefs;
	char *out;
	size_t pos, cap;
	int failed;
};

struct snapzip *snapzip_begin(size_t content_len)
{
	struct snapzip *z = calloc(1, sizeof(*z));
	if (z == NULL) {
		return NULL;
	}
	z->prefs.frameInfo.contentSize = content_len; /* raft_uv's reader sizes its buffer from it */
	z->prefs.frameInfo.blockSizeID = LZ4F_max4MB;
	z->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled; /* damage is found, not restored */
	/* Sized once for the worst case, so it is never grown (and copied):
	 * only the pages written are ever touched. */
	z->cap = LZ4F_compressFrameBound(content_len, &z->prefs) + LZ4F_compressBound(PIECE_MAX, &z->prefs);
	if (LZ4F_isError(LZ4F_createCompressionContext(&z->ctx, LZ4F_VERSION))) {
		free(z);
		return NULL;
	}
	size_t n;
	if ((z->out = malloc(z->cap)) == NULL ||
	    LZ4F_isError(n = LZ4F_compressBegin(z->ctx, z->out, z->cap, &z->prefs))) {
		snapzip_abort(z);
		return NULL;
	}
	z->pos = n;
	return z;
}

int snapzip_put(void *zv, const void *p, size_t len)
{
	struct snapzip *z = zv;
	while (len > 0 && !z->failed) {
		size_t piece = len < PIECE_MAX ? len : PIECE_MAX;
		size_t n = LZ4F_compressUpdate(z->ctx, z->out + z->pos, z->cap - z->pos, p, piece, NULL);
		if (LZ4F_isError(n)) {
			z->failed = 1;
			break;
		}
		z->pos += n;
		p = (const char *)p + piece;
		len -= piece;
	}
	return z->failed ? -1 : 0;
}

int snapzip_end(struct snapzip *z, void **out, size_t *out_len)
{
	size_t n = z->failed ? 0 : LZ4F_compressEnd(z->ctx, z->out + z->pos, z->cap - z->pos, NULL);
	if (z->failed || LZ4F_isError(n)) {
		snapzip_abort(z); /* LZ4F checks the announced content size here */
		return -1;
	}
	*out = z->out;
	*out_len = z->pos + n;
	LZ4F_freeCompressionContext(z->ctx);
	free(z);
	return 0;
}

void snapzip_abort(struct snapzip *z)
{
	if (z != NULL) {
		LZ4F_freeCompressionContext(z->ctx);
		free(z->out);
		free(z);
	}
}

int repl_snapshot_compress(const void *data, size_t len, void **out, size_t *out_len)
{
	struct snapzip *z = snapzip_begin(len);
	if (z == NULL || snapzip_put(z, data, len) != 0) {
		snapzip_abort(z);
		return -1;
	}
	return snapzip_end(z, out, out_len);
}

bool repl_snapshot_is_compressed(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	return len >= 4 && (p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) == LZ4F_MAGICNUMBER;
}

#define SNAPZIP_MAX_RATIO 256u /* above LZ4's largest expansion of a byte of input */

int repl_snapshot_decompress(const void *buf, size_t len, void **out, size_t *out_len)
{
	LZ4F_dctx *ctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
		return -1;
	}
	LZ4F_frameInfo_t info;
	size_t src = len, dst;
	void *content = NULL;
	int rv = -1;
	/* LZ4 expands a byte at most 255-fold: a frame announcing more content
	 * than that is malformed, and is not given the memory it announces
	 * (found by fuzz/fuzz_snapshot: a 64-byte frame asked for 1 TB). */
	if (LZ4F_isError(LZ4F_getFrameInfo(ctx, &info, buf, &src)) || info.contentSize == 0 ||
	    info.contentSize > (unsigned long long)len * SNAPZIP_MAX_RATIO + 65536 ||
	    (content = malloc((size_t)info.contentSize)) == NULL) {
		goto out;
	}
	size_t in = src, done = 0, more = 1;
	while (more != 0 && in < len) {
		src = len - in;
		dst = (size_t)info.contentSize - done;
		more = LZ4F_decompress(ctx, (char *)content + done, &dst, (const char *)buf + in, &src, NULL);
		if (LZ4F_isError(more) || (src == 0 && dst == 0)) {
			goto out; /* malformed, or content larger than the header said */
		}
		in += src;
		done += dst;
	}
	if (more == 0 && done == info.contentSize) {
		*out = content;
		*out_len = done;
		content = NULL;
		rv = 0;
	}
out:
	free(content);
	LZ4F_freeDecompressionContext(ctx);
	return rv;
}
