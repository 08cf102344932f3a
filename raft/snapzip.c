/* LZ4 frames for snapshots (see snapzip.h). */
#include "raft/snapzip.h"

#include <lz4frame.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int repl_snapshot_compress(const void *data, size_t len, void **out, size_t *out_len)
{
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.contentSize = len; /* raft_uv's reader sizes its buffer from it */
	prefs.frameInfo.blockSizeID = LZ4F_max4MB;
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled; /* damage is found, not restored */
	size_t cap = LZ4F_compressFrameBound(len, &prefs);
	void *buf = malloc(cap);
	if (buf == NULL) {
		return -1;
	}
	size_t n = LZ4F_compressFrame(buf, cap, data, len, &prefs);
	if (LZ4F_isError(n)) {
		free(buf);
		return -1;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

bool repl_snapshot_is_compressed(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	return len >= 4 && (p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) == LZ4F_MAGICNUMBER;
}

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
	if (LZ4F_isError(LZ4F_getFrameInfo(ctx, &info, buf, &src)) || info.contentSize == 0 ||
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
