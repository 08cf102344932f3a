/* A full disk under MDB_WRITEMAP: the data file is sparse at the map's
 * size, and the kernel answers a write to a page it cannot allocate with
 * SIGBUS. The handler turns that into the same deliberate stop as any LMDB
 * write error; the transaction under way was never committed, so LMDB stays
 * consistent. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/internal.h"
#include "lib/log.h"

/* The mappings a SIGBUS may come from (one per open store; tests open several). */
#define STORE_MAPS_MAX 16
static struct {
	char *volatile base;
	volatile size_t len;
} store_maps[STORE_MAPS_MAX];

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	const char *addr = si->si_addr;
	for (int i = 0; i < STORE_MAPS_MAX; i++) {
		if (store_maps[i].base != NULL && addr >= store_maps[i].base &&
		    addr < store_maps[i].base + store_maps[i].len) {
			static const char msg[] = "FATAL: store: LMDB: No space left on device (SIGBUS writing the map); "
			                          "stopping to avoid divergence\n";
			if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
				/* nothing more can be said */
			}
			_exit(75);
		}
	}
	signal(sig, SIG_DFL); /* not ours: the default action, on return */
}

/* Where data.mdb of dir is mapped: the /proc/self/maps line with its inode
 * (LMDB's me_mapaddr is only the MDB_FIXEDMAP address, NULL here). */
static int find_map(const char *dir, char **base, size_t *len)
{
	char path[4200], line[4400];
	struct stat st;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st) != 0) {
		return -1;
	}
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL) {
		return -1;
	}
	int found = -1;
	while (found != 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi, ino;
		unsigned dmaj, dmin;
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &dmaj, &dmin, &ino) == 5 &&
		    ino == (unsigned long)st.st_ino && makedev(dmaj, dmin) == st.st_dev) {
			*base = (char *)lo;
			*len = hi - lo;
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* Registers the store's map for the SIGBUS handler, installed once. */
void store_map_watch(store *s)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	char *base;
	size_t len;
	if (find_map(s->dir, &base, &len) != 0) {
		log_error("store", "%s/data.mdb not found in /proc/self/maps; a full disk will end in SIGBUS", s->dir);
		return;
	}
	s->map_base = base;
	pthread_mutex_lock(&mu);
	static bool installed;
	if (!installed) {
		struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		installed = true;
	}
	for (int i = 0; i < STORE_MAPS_MAX; i++) {
		if (store_maps[i].base == NULL) {
			store_maps[i].len = len;
			store_maps[i].base = base;
			s->map_slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
}

void store_map_unwatch(store *s)
{
	if (s->map_slot >= 0) {
		store_maps[s->map_slot].base = NULL;
	}
}

void store_unmap_pages(store *s)
{
	uint64_t map_size, used;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	store_usage(s, &map_size, &used);
	if (s->map_base != NULL && used > 0) {
		/* a shared file mapping: dirty pages stay dirty in the page cache */
		madvise(s->map_base, ((size_t)used + page - 1) / page * page, MADV_DONTNEED);
	}
}
