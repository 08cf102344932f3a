/* Checks of raft_uv's files before raft starts (segments.c). */
#ifndef SHIPLOG_RAFT_SEGMENTS_H
#define SHIPLOG_RAFT_SEGMENTS_H

#include <stddef.h>

#define REPL_SEGMENT_SIZE (8u << 20) /* raft_uv's default, set explicitly */

/* 0 when every open-N segment in raft_dir has the full preallocated size
 * (or there is no directory yet), -1 (and a FATAL line on stderr) otherwise. */
int repl_check_open_segments(const char *raft_dir, size_t segment_size);

/* 0 when every snapshot in raft_dir is complete (its LZ4 frames whole, or
 * not LZ4 at all), -1 (and a FATAL line) when one is cut short or empty. */
int repl_check_snapshots(const char *raft_dir);

#endif
