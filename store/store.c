/* Opening and closing the LMDB environment, and helpers shared by apply,
 * reads and snapshots.
 *
 * LMDB runs with MDB_NOSYNC: the Raft log and snapshots are the durable copy
 * of the state, and LMDB is rebuilt from them when it cannot be trusted. A
 * process crash keeps every committed LMDB transaction (they are in the page
 * cache), so only a machine crash can lose or tear them; a marker file holding
 * the boot id tells the two apart on the next start.
 *
 * LMDB writes through its shared mapping (MDB_WRITEMAP): no copy of each
 * dirty page into the page cache at commit. The data file is then sparse at
 * the map's size, and when the disk is full the kernel answers a write to a
 * new page with SIGBUS; the handler below turns that into the same
 * deliberate stop as any LMDB write error (the transaction under way was
 * never committed, so LMDB stays consistent). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/internal.h"

const char *const store_db_names[DB_COUNT_] = {
	[DB_META] = "meta", [DB_COMP] = "comp", [DB_HIST] = "hist", [DB_ENVS] = "envs",
	[DB_CLIREL] = "clirel", [DB_IDEM] = "idem", [DB_IDEMT] = "idemt",
	[DB_CLUSTERS] = "clusters", [DB_CHEALTH] = "chealth", [DB_JOBS] = "jobs", [DB_LEASES] = "leases", [DB_MEMBERS] = "members", [DB_EVENTS] = "events", [DB_WEBHOOKS] = "webhooks",
	[DB_WHSTATE] = "whstate", [DB_DELIVERIES] = "deliveries", [DB_ALERTS] = "alerts",
};

static void boot_id(char *out, size_t cap)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	out[0] = '\0';
	if (f != NULL) {
		if (fgets(out, (int)cap, f) == NULL) {
			out[0] = '\0';
		}
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

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
static void watch_map(store *s)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	char *base;
	size_t len;
	if (find_map(s->dir, &base, &len) != 0) {
		fprintf(stderr, "store: %s/data.mdb not found in /proc/self/maps; a full disk will end in SIGBUS\n", s->dir);
		return;
	}
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

static void unwatch_map(store *s)
{
	if (s->map_slot >= 0) {
		store_maps[s->map_slot].base = NULL;
	}
}

/* Discards the LMDB files if the last run crashed with the machine. */
static int check_dirty_marker(const char *dir, char *err, size_t errlen)
{
	char path[4200], prev[64] = "", now[64];
	snprintf(path, sizeof(path), "%s/store.dirty", dir);
	boot_id(now, sizeof(now));
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(prev, sizeof(prev), f) == NULL) {
			prev[0] = '\0';
		}
		fclose(f);
		prev[strcspn(prev, "\n")] = '\0';
		if (strcmp(prev, now) != 0) {
			char data[4200];
			fprintf(stderr, "store: unclean shutdown across a reboot; rebuilding %s from the Raft log\n", dir);
			snprintf(data, sizeof(data), "%s/data.mdb", dir);
			unlink(data);
			snprintf(data, sizeof(data), "%s/lock.mdb", dir);
			unlink(data);
		}
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, now, strlen(now)) < 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "store: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return PROTO_EIO;
	}
	close(fd);
	return PROTO_OK;
}

int store_open(store **out, const char *dir, size_t map_size, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	int rc;
	store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "store: out of memory");
		return PROTO_ENOMEM;
	}
	s->map_slot = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "store: mkdir %s: %s", dir, strerror(errno));
		goto err_after_alloc;
	}
	if (check_dirty_marker(dir, err, errlen) != PROTO_OK) {
		goto err_after_alloc;
	}
	if ((rc = mdb_env_create(&s->env)) != 0) {
		snprintf(err, errlen, "store: mdb_env_create: %s", mdb_strerror(rc));
		goto err_after_alloc;
	}
	mdb_env_set_maxdbs(s->env, DB_COUNT_ + 2);
	mdb_env_set_maxreaders(s->env, 256);
	if ((rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD | MDB_WRITEMAP, 0644)) != 0) {
		snprintf(err, errlen, "store: open %s: %s", dir, mdb_strerror(rc));
		goto err_after_env_create;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		snprintf(err, errlen, "store: begin: %s", mdb_strerror(rc));
		goto err_after_env_create;
	}
	for (int i = 0; i < DB_COUNT_; i++) {
		if ((rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE, &s->dbi[i])) != 0) {
			snprintf(err, errlen, "store: open db %s: %s", store_db_names[i], mdb_strerror(rc));
			mdb_txn_abort(txn);
			goto err_after_env_create;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "store: commit: %s", mdb_strerror(rc));
		goto err_after_env_create;
	}
	watch_map(s);
	*out = s;
	return PROTO_OK;

err_after_env_create:
	mdb_env_close(s->env);
err_after_alloc:
	free(s);
	return PROTO_EIO;
}

void store_close(store *s)
{
	char path[4200];
	if (s == NULL) {
		return;
	}
	if (mdb_env_sync(s->env, 1) == 0) {
		snprintf(path, sizeof(path), "%s/store.dirty", s->dir);
		unlink(path);
	}
	unwatch_map(s);
	mdb_env_close(s->env);
	free(s);
}

void store_comp_key(struct rec_writer *w, const char *client, const char *env, const char *ns,
                    const char *workload, const char *container, const char *kind)
{
	rec_init(w);
	rec_put_keypart(w, client);
	rec_put_keypart(w, env);
	rec_put_keypart(w, ns);
	rec_put_keypart(w, workload);
	rec_put_keypart(w, container);
	rec_put_keypart(w, kind);
}

uint64_t store_meta_get(MDB_txn *txn, store *s, const char *name)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	uint64_t x = 0;
	if (mdb_get(txn, s->dbi[DB_META], &k, &v) == 0 && v.mv_size == sizeof(x)) {
		memcpy(&x, v.mv_data, sizeof(x));
	}
	return x;
}

uint64_t store_applied(store *s)
{
	MDB_txn *txn;
	uint64_t x = 0;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
		x = store_meta_get(txn, s, "applied");
		mdb_txn_abort(txn);
	}
	return x;
}

int store_decode_entry(const MDB_val *key, const MDB_val *val, int is_comp, struct release_scratch *sc,
                       struct store_release *r)
{
	const char *k = key->mv_data;
	size_t off = 0;
	const char **parts[6] = {&r->client, &r->env, &r->ns, &r->workload, &r->container, &r->kind};
	for (int i = 0; i < 6; i++) {
		const char *end = memchr(k + off, 0, key->mv_size - off);
		if (end == NULL || (size_t)(end - (k + off)) > PROTO_MAX_STR) {
			return -1;
		}
		memcpy(sc->parts[i], k + off, (size_t)(end - (k + off)) + 1);
		*parts[i] = sc->parts[i];
		off = (size_t)(end - k) + 1;
	}
	struct rec_reader rd;
	rec_reader_init(&rd, val->mv_data, val->mv_size);
	rec_get_str(&rd, sc->img[0], sizeof(sc->img[0]));
	rec_get_str(&rd, sc->img[1], sizeof(sc->img[1]));
	rec_get_str(&rd, sc->img[2], sizeof(sc->img[2]));
	rec_get_str(&rd, sc->img[3], sizeof(sc->img[3]));
	r->image_repo = sc->img[0];
	r->image_name = sc->img[1];
	r->image_tag = sc->img[2];
	r->image_sha = sc->img[3];
	r->first_seen_ms = rec_get_i64(&rd);
	r->last_seen_ms = rec_get_i64(&rd);
	r->index = rec_get_u64(&rd);
	if (is_comp) {
		r->seq = rec_get_u64(&rd);
	} else {
		if (key->mv_size != off + 8) {
			return -1;
		}
		r->seq = rec_be64(k + off);
	}
	return rd.bad ? -1 : 0;
}

void store_usage(store *s, uint64_t *map_size, uint64_t *used)
{
	MDB_envinfo info;
	MDB_stat st;
	*map_size = *used = 0;
	if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
		*map_size = info.me_mapsize;
		*used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	}
}
