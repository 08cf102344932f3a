/* A check of raft_uv's open segments before raft starts. raft_uv creates
 * every open segment preallocated to the full segment size and only ever
 * shortens a segment when it closes it (renaming it), so a shorter open-N
 * file was damaged from outside. libraft 0.15.0 frees twice when such a
 * file ends inside its second batch (found by tests/jepsen, corrupt
 * nemesis): refuse to start instead, loudly. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/internal.h"

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
		char path[CFG_PATH_MAX + 64];
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
