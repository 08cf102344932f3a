/* Checks of raft_uv's files before raft starts, for damage libraft 0.15.0
 * does not survive or hides (found by tests/jepsen, corrupt nemesis).
 *
 * Open segments: 0.15.0 frees twice when an open segment ends inside its
 * second or later batch, and takes a checksum failure in any batch for a
 * torn write, cutting the segment there without a word even when more
 * batches follow. The batches are walked here the way raft_uv writes them
 * (two checksums, entry count, entry headers, data): a file cut inside a
 * batch, or a failing batch followed by more data, refuses the start; a
 * torn or unwritten tail (zeros after the last good batch) is left to
 * raft_uv, which drops it.
 *
 * Snapshots: raft_uv writes them as LZ4 frames, and 0.15.0's decompression
 * loop spins for ever on a frame cut short. Walking the frame's block sizes
 * (no decompression) shows whether it is complete. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/segments.h"
#include "lib/log.h"

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

uint32_t repl_raft_crc(const unsigned char *p, size_t n)
{
	static uint32_t table[256];
	if (table[1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i << 24;
			for (int k = 0; k < 8; k++) {
				c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
			}
			table[i] = c;
		}
	}
	uint32_t crc = 0;
	while (n--) {
		crc = (crc << 8) ^ table[((crc >> 24) ^ *p++) & 0xffu];
	}
	return crc;
}

static bool zeros_from(const unsigned char *p, size_t from, size_t size)
{
	for (size_t i = from; i < size; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Walks the batches of an open segment's content; NULL if raft_uv can load
 * it safely (complete batches, then a torn or unwritten tail of zeros, or a
 * format raft_uv refuses cleanly itself), else why not. */
const char *repl_open_segment_damage(const unsigned char *p, size_t size)
{
	if (size > 0 && size < 8) {
		return "it ends inside its format header";
	}
	if (size == 0 || le64(p) != 1) {
		return NULL; /* empty, never written (zeros), or a format raft_uv refuses itself */
	}
	size_t off = 8;
	while (off < size) {
		if (size - off < 16) {
			return zeros_from(p, off, size) ? NULL : "it ends inside a batch header";
		}
		uint64_t n = le64(p + off + 8);
		if (n == 0) {
			return zeros_from(p, off, size) ? NULL : "a batch declares no entries but data follows";
		}
		if (n > (size - off - 16) / 16) {
			return "it ends inside a batch header";
		}
		size_t hdr = 8 + 16 * (size_t)n, data = 0;
		for (uint64_t i = 0; i < n; i++) {
			data += le32(p + off + 8 + 8 + 16 * i + 12);
		}
		size_t data_at = off + 8 + hdr;
		if (repl_raft_crc(p + off + 8, hdr) != le32(p + off)) {
			/* a torn last write leaves zeros after it; damage leaves more data */
			return zeros_from(p, data_at, size) ? NULL : "a batch header checksum fails and data follows";
		}
		if (data > size - data_at) {
			return "it ends inside a batch (the file was cut)";
		}
		if (repl_raft_crc(p + data_at, data) != le32(p + off + 4)) {
			return zeros_from(p, data_at + data, size) ? NULL : "a batch data checksum fails and data follows";
		}
		off = data_at + data;
	}
	return NULL;
}

/* Reads the open segment in fd whole and walks it. */
static const char *open_segment_file_damage(int fd, off_t size)
{
	if (size == 0) {
		return NULL;
	}
	const char *why = "it cannot be read";
	unsigned char *buf = malloc((size_t)size);
	if (buf != NULL && pread(fd, buf, (size_t)size, 0) == (ssize_t)size) {
		why = repl_open_segment_damage(buf, (size_t)size);
	}
	free(buf);
	return why;
}

/* NULL if the LZ4 frames in fd (of size bytes) are complete or fd holds no
 * LZ4 frame at all (an uncompressed snapshot), else why not. */
static const char *snapshot_damage(int fd, off_t size)
{
	static const char *const cut = "it is cut short (an incomplete LZ4 frame): the file was truncated";
	unsigned char b[16];
	off_t off = 0;
	if (size == 0) {
		return "it is empty"; /* raft_uv never writes one */
	}
	static const unsigned char magic[4] = {0x04, 0x22, 0x4D, 0x18};
	size_t head = size < 4 ? (size_t)size : 4;
	if (pread(fd, b, head, 0) != (ssize_t)head || memcmp(b, magic, head) != 0) {
		return NULL; /* not LZ4: an uncompressed snapshot, checked by the FSM */
	}
	while (off < size) {
		if (pread(fd, b, 7, off) != 7 || le32(b) != 0x184D2204u) {
			return cut; /* cut inside a frame header, or junk after a frame */
		}
		unsigned flg = b[4];
		off += 4 + 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1; /* magic FLG BD [size] [dict] HC */
		for (;;) {
			if (pread(fd, b, 4, off) != 4) {
				return cut;
			}
			uint32_t bs = le32(b);
			off += 4;
			if (bs == 0) {
				break; /* end mark */
			}
			off += (off_t)(bs & 0x7FFFFFFFu) + ((flg & 0x10) ? 4 : 0);
			if (off > size) {
				return cut;
			}
		}
		off += (flg & 0x04) ? 4 : 0; /* content checksum */
		if (off > size) {
			return cut;
		}
	}
	return NULL;
}

static bool is_open_segment(const char *name)
{
	return strncmp(name, "open-", 5) == 0;
}

static bool is_snapshot(const char *name)
{
	size_t len = strlen(name);
	return strncmp(name, "snapshot-", 9) == 0 && !(len > 5 && strcmp(name + len - 5, ".meta") == 0);
}

/* Runs damage() on every file of raft_dir that want() names; a FATAL line
 * for each damaged one. 0 if none is (or there is no directory yet). */
static int check_files(const char *raft_dir, bool (*want)(const char *name),
                       const char *(*damage)(int fd, off_t size), const char *what)
{
	DIR *d = opendir(raft_dir);
	if (d == NULL) {
		return errno == ENOENT ? 0 : -1; /* a new node has no directory yet */
	}
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!want(e->d_name)) {
			continue;
		}
		char path[4352];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", raft_dir, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		const char *why = fd >= 0 && fstat(fd, &st) == 0 ? damage(fd, st.st_size) : "it cannot be read";
		if (fd >= 0) {
			close(fd);
		}
		if (why != NULL) {
			log_error("raft", "FATAL: %s %s is damaged: %s; refusing to start (remove this node's data directory and let it rejoin)",
			        what, path, why);
			bad = 1;
		}
	}
	closedir(d);
	return bad ? -1 : 0;
}

int repl_check_open_segments(const char *raft_dir)
{
	return check_files(raft_dir, is_open_segment, open_segment_file_damage, "open segment");
}

int repl_check_snapshots(const char *raft_dir)
{
	return check_files(raft_dir, is_snapshot, snapshot_damage, "snapshot");
}
