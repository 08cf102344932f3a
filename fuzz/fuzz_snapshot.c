/* A snapshot as a peer installs it: the LZ4 frame expanded (raft/snapzip.c)
 * and the state restored (store_restore) into a fresh store, which must
 * refuse what is malformed and answer reads either way. Stores live in
 * /dev/shm (tmpfs) when it exists, so each input costs little I/O. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/snapzip.h"
#include "store/store.h"

static char dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/shiplog-fuzz-snapshot-XXXXXX", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	return 0;
}

static void remove_store(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *state = NULL;
	size_t len = size;
	const void *raw = data;
	if (repl_snapshot_is_compressed(data, size)) {
		if (repl_snapshot_decompress(data, size, &state, &len) != 0) {
			return 0;
		}
		raw = state;
	}
	(void)store_snapshot_index(raw, len);
	store *s;
	char err[256];
	if (store_open(&s, dir, 16u << 20, err, sizeof(err)) != PROTO_OK) {
		fprintf(stderr, "store_open %s: %s\n", dir, err);
		abort();
	}
	(void)store_restore(s, raw, len);
	struct store_read *rd;
	if (store_read_begin(s, &rd) == PROTO_OK) {
		(void)store_read_index(rd);
		(void)store_release_count(rd, NULL);
		store_read_end(rd);
	}
	store_close(s);
	remove_store();
	free(state);
	return 0;
}
