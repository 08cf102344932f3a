/* The replicated state of shiplog in LMDB: schema, deterministic apply of
 * Raft commands, snapshots, and the reads behind every endpoint.
 *
 * One thread (the raft actor) calls store_apply/store_restore; any thread may
 * read through store_read_begin. Read callbacks run inside the read
 * transaction: the strings they get are valid only during the call. */
#ifndef SHIPLOG_STORE_STORE_H
#define SHIPLOG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"

typedef struct store store;
struct store_read;
struct store_snapshot;

#define STORE_IDEM_TTL_MS (24LL * 3600 * 1000) /* idempotency keys live 24 h */

/* Opens (creating) the store in directory dir. If the previous run did not
 * close cleanly and the machine rebooted since (LMDB runs without fsync; the
 * Raft log and snapshots are the durable copy), the files are discarded and
 * Raft rebuilds them. On error fills err and returns PROTO_EIO. */
int store_open(store **out, const char *dir, size_t map_size, char *err, size_t errlen);

/* Flushes to disk, marks the store clean and frees it. Snapshots still
 * open on other threads (a backup, a Raft snapshot) are cancelled first and
 * waited for, at most STORE_CLOSE_WAIT_MS: their scans end within a chunk. */
#define STORE_CLOSE_WAIT_MS 10000
void store_close(store *s);

/* Applies the command in buf as Raft entry index. Entries at or below the
 * stored applied index are skipped (log replay). Business errors go into
 * res->code. Returns PROTO_EIO when LMDB failed, or PROTO_ENEWER (nothing
 * applied) for a command in a format newer than PROTO_VERSION; either way
 * the node must stop rather than diverge. */
int store_apply(store *s, uint64_t index, const void *buf, size_t len, struct proto_result *res);

/* Applies Raft entry index holding n commands (a batch) in one LMDB
 * transaction; a command that fails leaves nothing behind (the entry is
 * applied again without it). res[i] is command i's result (all share the
 * index). Same rules as store_apply. */
int store_apply_batch(store *s, uint64_t index, const struct proto_slice *cmds, uint32_t n,
                      struct proto_result *res);

/* Unmaps every page of the data file from this process (MADV_DONTNEED on
 * LMDB's map): after a full scan (a snapshot, a backup) or bulk writes the
 * pages they touched would otherwise stay in the node's resident set. They
 * stay in the page cache, dirty ones included, and a later touch maps them
 * back (a minor fault). Any thread, while others read and write the map. */
void store_unmap_pages(store *s);

/* LMDB's map size and the bytes in use, for metrics. */
void store_usage(store *s, uint64_t *map_size, uint64_t *used);

/* The last applied index (a fresh read transaction). */
uint64_t store_applied(store *s);

/* Pins a consistent read transaction for a snapshot; call on the apply
 * thread. The serialization may then run on any thread. */
int store_snapshot_open(store *s, struct store_snapshot **out);
/* Serializes the pinned state into malloc'd memory (*data, *len). */
int store_snapshot_serialize(struct store_snapshot *snap, void **data, size_t *len);

/* The same bytes as a stream, for snapshots too large to hold twice:
 * store_snapshot_size counts them, store_snapshot_write hands them to sink
 * in order, in chunks of at most STORE_SNAPSHOT_CHUNK bytes (a sink that
 * returns non-zero stops it with PROTO_ENOMEM). All three return
 * PROTO_ESHUTDOWN once the snapshot is cancelled or the store is closing. */
#define STORE_SNAPSHOT_CHUNK (256u << 10)
typedef int (*store_snapshot_sink)(void *ctx, const void *p, size_t n);
int store_snapshot_size(struct store_snapshot *snap, size_t *len);
int store_snapshot_write(struct store_snapshot *snap, store_snapshot_sink sink, void *ctx);
/* Ends the pinned read transaction once the state is serialized (any
 * thread, MDB_NOTLS): while it is held, LMDB cannot reuse the pages writes
 * free. Nothing may read the snapshot afterwards; close still frees it. */
void store_snapshot_release(struct store_snapshot *snap);
void store_snapshot_close(struct store_snapshot *snap);
/* Makes a scan of snap under way, or to come, give up soon (any thread):
 * for a node that is stopping. The owner still releases or closes it. */
void store_snapshot_cancel(struct store_snapshot *snap);
/* Replaces the whole state with a snapshot; a snapshot at or below the
 * applied index is already reflected and is ignored. PROTO_EINVAL if it is
 * malformed, PROTO_EIO on LMDB failure. */
int store_restore(store *s, const void *data, size_t len);

/* Loads a backup (a snapshot file) into an empty store as the start of a
 * NEW cluster: the data is kept, the applied index restarts at 0 (the new
 * cluster's log starts at 1), and members and leases of the old cluster are
 * dropped. PROTO_EINVAL if malformed. */
int store_restore_fresh(store *s, const void *data, size_t len);

/* The applied index a snapshot or backup holds; 0 if malformed. */
uint64_t store_snapshot_index(const void *data, size_t len);

/* ---- Reads ---- */

int store_read_begin(store *s, struct store_read **out);
void store_read_end(struct store_read *rd);
/* The applied index this read transaction reflects. */
uint64_t store_read_index(struct store_read *rd);

/* One history entry (or a component's current entry). */
struct store_release {
	const char *client, *env, *ns, *kind, *workload, *container;
	const char *image_repo, *image_name, *image_tag, *image_sha;
	int64_t first_seen_ms;
	int64_t last_seen_ms;
	uint64_t index; /* Raft index that created the entry */
	uint64_t seq;   /* global creation order */
};

/* Returns nonzero to stop the iteration. */
typedef int (*store_release_cb)(void *data, const struct store_release *r);

/* Current entry of each component of client/env, ordered by namespace,
 * workload, container, kind. */
int store_current_each(struct store_read *rd, const char *client, const char *env, store_release_cb cb, void *data);

/* History of one component, newest first (all workload kinds).
 * PROTO_ENOTFOUND when the component was never seen. */
int store_history_each(struct store_read *rd, const char *client, const char *env, const char *ns,
                       const char *workload, const char *container, store_release_cb cb, void *data);

/* A page of a history: entries with seq below before_seq (UINT64_MAX: from
 * the newest), at most limit of them (0: all). Filled in: total, the
 * component's entry count, and next_seq, the before_seq of the next page (0
 * when this page reaches the oldest entry). */
struct store_page {
	uint64_t before_seq;
	size_t limit;
	size_t total;
	uint64_t next_seq;
};
/* store_history_each, one page. */
int store_history_page(struct store_read *rd, const char *client, const char *env, const char *ns,
                       const char *workload, const char *container, struct store_page *pg, store_release_cb cb,
                       void *data);

/* Current entries of kind/workload/container in client/env, in any namespace. */
int store_find_workload(struct store_read *rd, const char *client, const char *env, const char *kind,
                        const char *workload, const char *container, store_release_cb cb, void *data);

struct store_env {
	const char *client;
	const char *env;
	const char *version;  /* last agent version seen, "" if none */
	int64_t last_ping_ms; /* 0 when never pinged */
};
typedef int (*store_env_cb)(void *data, const struct store_env *e);

/* Every known client/env pair (client == NULL: all clients), sorted. */
int store_envs_each(struct store_read *rd, const char *client, store_env_cb cb, void *data);

/* Number of history entries (all clients when client == NULL). */
uint64_t store_release_count(struct store_read *rd, const char *client);

/* ---- Clusters, leases, jobs (collector and scheduler) ---- */

/* A registered Kubernetes cluster and its collection health. */
struct store_cluster {
	const struct proto_cluster *c; /* as last put (sealed credentials included) */
	int64_t created_ms, updated_ms;
	int64_t last_run_ms;      /* 0: never collected */
	int64_t last_success_ms;  /* 0: never succeeded */
	uint64_t failures;        /* consecutive failed runs */
	const char *last_error;   /* "" when the last run succeeded */
	const char *last_job;     /* id of the last finished run, "" if none */
	uint64_t last_observations;
};
typedef int (*store_cluster_cb)(void *data, const struct store_cluster *c);

/* Every cluster, by id. */
int store_clusters_each(struct store_read *rd, store_cluster_cb cb, void *data);
/* One cluster; PROTO_ENOTFOUND if absent. */
int store_cluster_get(struct store_read *rd, const char *id, store_cluster_cb cb, void *data);

struct store_lease {
	uint64_t holder;    /* node id */
	int64_t expires_ms; /* by the holder's last renewal time stamp */
};
/* The lease of duty; PROTO_ENOTFOUND if none was ever granted. */
int store_lease_get(struct store_read *rd, const char *duty, struct store_lease *out);

struct store_job {
	char id[PROTO_MAX_STR + 1];
	char type[32];       /* "collect" */
	char cluster_id[PROTO_MAX_STR + 1];
	char status[32];     /* queued, running, success, failed */
	char error[PROTO_MAX_STR + 1];
	char reason[32];     /* manual, schedule */
	uint64_t node;       /* node that ran it, 0 before it started */
	int64_t created_ms, started_ms, finished_ms;
	uint64_t observations;   /* images seen by the run */
	uint64_t entries_created, entries_updated;
};
typedef int (*store_job_cb)(void *data, const struct store_job *j);

/* Jobs newest first (ids are time-ordered). */
int store_jobs_each(struct store_read *rd, store_job_cb cb, void *data);
int store_job_get(struct store_read *rd, const char *id, struct store_job *out);

/* ---- Members ---- */

typedef int (*store_member_cb)(void *data, const struct proto_member *m);
/* Every member recorded through MEMBER_PUT, by id. */
int store_members_each(struct store_read *rd, store_member_cb cb, void *data);

/* ---- Events ---- */

#define STORE_JSON_MAX 8192 /* largest event data kept */

struct store_event {
	uint64_t index;   /* Raft index of the change */
	uint64_t seq;     /* order within that entry */
	const char *type; /* e.g. release.created */
	int64_t ts_ms;    /* proposer's time of the change */
	const char *client; /* the client the event concerns, "" for cluster-wide events */
	const char *data; /* JSON object */
};
typedef int (*store_event_cb)(void *data, const struct store_event *e);

/* Events strictly after (after_index, after_seq), oldest first. */
int store_events_each(struct store_read *rd, uint64_t after_index, uint64_t after_seq, store_event_cb cb, void *data);

/* ---- Webhooks ---- */

struct store_webhook {
	const struct proto_webhook *w;
	int64_t created_ms;
	uint64_t after_index, after_seq; /* delivered up to this event */
	uint64_t failures;               /* consecutive failed attempts */
	uint64_t delivered, attempts;
	int64_t last_attempt_ms;
};
typedef int (*store_webhook_cb)(void *data, const struct store_webhook *w);
int store_webhooks_each(struct store_read *rd, store_webhook_cb cb, void *data);
int store_webhook_get(struct store_read *rd, const char *id, store_webhook_cb cb, void *data);

struct store_delivery {
	uint64_t attempt;
	uint64_t event_index, event_seq;
	const char *event_type;
	uint64_t ok, http_status;
	const char *error;
	uint64_t node;
	int64_t at_ms, duration_ms;
};
typedef int (*store_delivery_cb)(void *data, const struct store_delivery *d);
/* Attempts of webhook id, newest first. */
int store_deliveries_each(struct store_read *rd, const char *id, store_delivery_cb cb, void *data);

/* ---- Alerts ---- */

struct store_alert {
	const char *id, *kind, *severity;
	const char *status; /* firing, acknowledged, resolved */
	const char *message, *client, *acked_by;
	int64_t raised_ms, resolved_ms, acked_ms;
};
typedef int (*store_alert_cb)(void *data, const struct store_alert *a);
int store_alerts_each(struct store_read *rd, store_alert_cb cb, void *data);

#endif
