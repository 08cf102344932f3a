/* Checks of raft_uv's files before raft starts, for damage libraft 0.15.0
 * does not survive (found by tests/jepsen, corrupt nemesis).
 *
 * Open segments: raft_uv creates
 * every open segment preallocated to the full segment size and only ever
 * shortens a segment when it closes it (renaming it), so a shorter open-N
 * file was damaged from outside. libraft 0.15.0 frees twice when such a
 * file ends inside its second batch (found by tests/jepsen, corrupt
 * nemesis): refuse to start instead, loudly.
 *
 * Snapshots: raft_uv writes them as LZ4 frames, and 0.15.0's decompression
 * loop spins for ever on a frame cut short. Walking the frame's block sizes
 * (no decompression) shows whether it is complete. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/segments.h"

int repl_check_open_segments(const char *raft_dir, size_t segment_size)
{
	DIR *d = opendir(raft_dir);
	if (d == NULL) {
		return errno == ENOENT ? 0 : -1; /* a new node has no directory yet */
	}
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "open-", 5) != 0) {
			continue;
		}
		char path[4352];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", raft_dir, e->d_name);
		if (stat(path, &st) != 0 || (size_t)st.st_size != segment_size) {
			fprintf(stderr,
			        "FATAL: raft: %s is %lld bytes, not the %zu of an open segment: the file was truncated; "
			        "refusing to start (remove this node's data directory and let it rejoin)\n",
			        path, (long long)st.st_size, segment_size);
			bad = 1;
		}
	}
	closedir(d);
	return bad ? -1 : 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 0 if the LZ4 frames in fd (of size bytes) are complete or fd holds no
 * LZ4 frame at all (an uncompressed snapshot), -1 if one is cut short. */
static int lz4_complete(int fd, off_t size)
{
	unsigned char b[16];
	off_t off = 0;
	if (size == 0) {
		return -1; /* raft_uv never writes an empty snapshot */
	}
	static const unsigned char magic[4] = {0x04, 0x22, 0x4D, 0x18};
	size_t head = size < 4 ? (size_t)size : 4;
	if (pread(fd, b, head, 0) != (ssize_t)head || memcmp(b, magic, head) != 0) {
		return 0; /* not LZ4: an uncompressed snapshot, checked by the FSM */
	}
	while (off < size) {
		if (pread(fd, b, 7, off) != 7 || le32(b) != 0x184D2204u) {
			return -1; /* cut inside a frame header, or junk after a frame */
		}
		unsigned flg = b[4];
		off += 4 + 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1; /* magic FLG BD [size] [dict] HC */
		for (;;) {
			if (pread(fd, b, 4, off) != 4) {
				return -1;
			}
			uint32_t bs = le32(b);
			off += 4;
			if (bs == 0) {
				break; /* end mark */
			}
			off += (off_t)(bs & 0x7FFFFFFFu) + ((flg & 0x10) ? 4 : 0);
			if (off > size) {
				return -1;
			}
		}
		off += (flg & 0x04) ? 4 : 0; /* content checksum */
		if (off > size) {
			return -1;
		}
	}
	return 0;
}

int repl_check_snapshots(const char *raft_dir)
{
	DIR *d = opendir(raft_dir);
	if (d == NULL) {
		return errno == ENOENT ? 0 : -1;
	}
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "snapshot-", 9) != 0 || (len > 5 && strcmp(e->d_name + len - 5, ".meta") == 0)) {
			continue;
		}
		char path[4352];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", raft_dir, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0 || lz4_complete(fd, st.st_size) != 0) {
			fprintf(stderr,
			        "FATAL: raft: snapshot %s is cut short (an incomplete LZ4 frame): the file was truncated; "
			        "refusing to start (remove this node's data directory and let it rejoin)\n",
			        path);
			bad = 1;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	closedir(d);
	return bad ? -1 : 0;
}
