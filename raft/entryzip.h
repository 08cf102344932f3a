/* Raft entries compressed with LZ4 (block format) inside protocol/'s
 * envelope (PROTO_CMD_ZENTRY): fewer bytes to append, fsync, replicate and
 * hold in raft's in-memory log, whose byte budget (snapshot_log_mb) then
 * calls for fewer full snapshots. */
#ifndef SHIPLOG_RAFT_ENTRYZIP_H
#define SHIPLOG_RAFT_ENTRYZIP_H

#include <stddef.h>

#define ENTRYZIP_MIN 256 /* entries shorter than this are left as they are */

/* A buffer reused from entry to entry (grown as needed). */
struct entryzip_buf {
	void *p;
	size_t cap;
};
void entryzip_buf_free(struct entryzip_buf *b);

/* Writes src (len bytes: a command or a batch) into scratch as a whole
 * compressed entry: header, compressed bytes, zero padding to 8 bytes.
 * Returns its length, or 0 when that would not save a tenth of len (or
 * memory ran out): then src is proposed as it is. */
size_t entryzip_pack(const void *src, size_t len, struct entryzip_buf *scratch);

/* Points *out, *out_len at the bytes entry carries: entry itself, or its
 * expansion into scratch if it is compressed. Returns PROTO_OK,
 * PROTO_EINVAL for a compressed entry that does not expand (it is then
 * applied as it is: a bad command, the same on every node) or
 * PROTO_ENOMEM. */
int entryzip_unpack(const void *entry, size_t len, struct entryzip_buf *scratch, const void **out, size_t *out_len);

#endif
