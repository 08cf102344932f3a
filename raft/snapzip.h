/* Snapshot compression on our own (niced) snapshot worker: raft_uv 0.15.0
 * compresses snapshots itself, but on libuv's pool at normal priority,
 * where LZ4 over the whole state took a core from the event loops and put
 * write p99 at several times its value without snapshots. The state goes
 * to raft as one LZ4 frame (raft_uv's own compression of it then finds
 * nothing to gain and is quick), and leaves it as one too: installs to
 * followers carry the compressed bytes. */
#ifndef SHIPLOG_RAFT_SNAPZIP_H
#define SHIPLOG_RAFT_SNAPZIP_H

#include <stdbool.h>
#include <stddef.h>

/* One LZ4 frame written as its content streams in: snapzip_begin(content
 * length), snapzip_put for each piece (a store_snapshot_sink: 0, or -1 when
 * LZ4 fails), then snapzip_end for the malloc'd frame (0, or -1 when the
 * content was not exactly the announced length; z is freed either way).
 * snapzip_abort frees z at any point. begin returns NULL when out of memory. */
struct snapzip;
struct snapzip *snapzip_begin(size_t content_len);
int snapzip_put(void *z, const void *p, size_t len);
int snapzip_end(struct snapzip *z, void **out, size_t *out_len);
void snapzip_abort(struct snapzip *z);

/* One LZ4 frame of data[0..len) (its content size recorded) in a malloc'd
 * *out; 0, or -1 when out of memory. */
int repl_snapshot_compress(const void *data, size_t len, void **out, size_t *out_len);

/* Whether buf is such a frame (older snapshots are the raw state). */
bool repl_snapshot_is_compressed(const void *buf, size_t len);

/* The content of the frame in buf, malloc'd in *out; 0, or -1 when the
 * frame is malformed (also when it announces more content than LZ4 can
 * expand its bytes to) or memory is short. */
int repl_snapshot_decompress(const void *buf, size_t len, void **out, size_t *out_len);

#endif
