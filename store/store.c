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
 * dirty page into the page cache at commit (map_guard.c covers a full disk). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "lib/log.h"

const char *const store_db_names[DB_COUNT_] = {
	[DB_META] = "meta", [DB_COMP] = "comp", [DB_HIST] = "hist", [DB_ENVS] = "envs",
	[DB_CLIREL] = "clirel", [DB_IDEM] = "idem", [DB_IDEMT] = "idemt",
	[DB_CLUSTERS] = "clusters", [DB_CHEALTH] = "chealth", [DB_JOBS] = "jobs", [DB_LEASES] = "leases", [DB_MEMBERS] = "members", [DB_EVENTS] = "events", [DB_WEBHOOKS] = "webhooks",
	[DB_WHSTATE] = "whstate", [DB_DELIVERIES] = "deliveries", [DB_ALERTS] = "alerts",
	[DB_USERS] = "users", [DB_USERIDX] = "useridx", [DB_APIKEYS] = "apikeys", [DB_KEYHASH] = "keyhash",
	[DB_KEYUSED] = "keyused", [DB_SIGNKEYS] = "signkeys", [DB_SESSIONS] = "sessions", [DB_AUDIT] = "audit",
	[DB_SESSEXP] = "sessexp",
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
			log_warn("store", "unclean shutdown across a reboot; rebuilding %s from the Raft log", dir);
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
	pthread_mutex_init(&s->snaps_mu, NULL);
	pthread_cond_init(&s->snaps_cv, NULL);
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
	store_map_watch(s);
	*out = s;
	return PROTO_OK;

err_after_env_create:
	mdb_env_close(s->env);
err_after_alloc:
	pthread_cond_destroy(&s->snaps_cv);
	pthread_mutex_destroy(&s->snaps_mu);
	free(s);
	return PROTO_EIO;
}

void store_close(store *s)
{
	char path[4200];
	if (s == NULL) {
		return;
	}
	if (!store_snapshots_wait(s, STORE_CLOSE_WAIT_MS)) {
		log_warn("store", "a snapshot is still open after %d ms; closing anyway", STORE_CLOSE_WAIT_MS);
	}
	if (mdb_env_sync(s->env, 1) == 0) {
		snprintf(path, sizeof(path), "%s/store.dirty", s->dir);
		unlink(path);
	}
	store_map_unwatch(s);
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->snaps_cv);
	pthread_mutex_destroy(&s->snaps_mu);
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
