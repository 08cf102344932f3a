/* Checks of raft_uv's files before raft starts (segments.c). */
#ifndef SHIPLOG_RAFT_SEGMENTS_H
#define SHIPLOG_RAFT_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

#define REPL_SEGMENT_SIZE (8u << 20) /* raft_uv's default, set explicitly */

/* 0 when every open-N segment in raft_dir holds complete batches (then
 * possibly a tail of zeros), or there is no directory yet; -1 (and a FATAL
 * line on stderr) when one is cut inside a batch or has a failing batch
 * followed by more data. */
int repl_check_open_segments(const char *raft_dir);

/* Walks the batches of an open segment's content p[0..size): NULL if
 * raft_uv can load it safely (complete batches, then a torn or unwritten
 * tail of zeros, or a format raft_uv refuses cleanly itself), else why not. */
const char *repl_open_segment_damage(const unsigned char *p, size_t size);

/* raft_uv's batch checksum (CRC-32, polynomial 0x04C11DB7, MSB first,
 * initial value 0, no final xor); exposed for tests that build segments. */
uint32_t repl_raft_crc(const unsigned char *p, size_t n);

/* 0 when every snapshot in raft_dir is complete (its LZ4 frames whole, or
 * not LZ4 at all), -1 (and a FATAL line) when one is cut short or empty. */
int repl_check_snapshots(const char *raft_dir);

#endif
