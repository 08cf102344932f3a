/* Private to store/: the LMDB handles and key builders. */
#ifndef SHIPLOG_STORE_INTERNAL_H
#define SHIPLOG_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/rec.h"
#include "store/store.h"

enum store_db {
	DB_META,   /* "applied" -> u64, "seq" -> u64, "releases" -> u64 */
	DB_COMP,   /* component key -> current entry (+ seq) */
	DB_HIST,   /* component key + be64 seq -> history entry */
	DB_ENVS,   /* client\0env\0 -> last ping, version */
	DB_CLIREL, /* client\0 -> u64 history entries of that client */
	DB_IDEM,   /* idempotency key -> ts, encoded result */
	DB_IDEMT,  /* be64 ts + key -> "" (expiry order) */
	DB_CLUSTERS, /* cluster id -> created, updated, encoded CLUSTER_PUT command */
	DB_CHEALTH,  /* cluster id -> last run/success, failures, last error, last job */
	DB_JOBS,     /* job id (time-ordered) -> job record */
	DB_LEASES,   /* duty -> holder node id, expiry */
	DB_MEMBERS,  /* be64 node id -> name, region, raft, rpc, http */
	DB_EVENTS,   /* be64 index + be64 order -> type, ts, client, data JSON */
	DB_WEBHOOKS, /* id -> created, encoded WEBHOOK_PUT */
	DB_WHSTATE,  /* id -> delivery cursor, failures, counts */
	DB_DELIVERIES, /* id\0 + be64 attempt -> one delivery attempt */
	DB_ALERTS,   /* alert id -> kind, severity, status, message, times */
	DB_USERS,    /* user id -> created, updated, encoded USER_PUT */
	DB_USERIDX,  /* "u:" + username or "e:" + email (lower case) -> user id */
	DB_APIKEYS,  /* key id -> created, encoded APIKEY_PUT */
	DB_KEYHASH,  /* SHA-256 hex of a key -> key id */
	DB_KEYUSED,  /* key id -> when it was last used */
	DB_SIGNKEYS, /* kid -> created, retires (0: signs now), sealed key */
	DB_SESSIONS, /* family -> user id, current refresh jti, expiry, revoked, created */
	DB_AUDIT,    /* be64 index + be64 order -> who did what, through which node */
	DB_SESSEXP,  /* be64 refresh expiry + family -> "" (expiry order, for retention) */
	DB_COUNT_
};

extern const char *const store_db_names[DB_COUNT_];

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT_];
	char dir[4096];
	int map_slot; /* in map_guard.c's SIGBUS table, or -1 */
	char *map_base; /* where data.mdb is mapped (NULL: not found) */
	pthread_mutex_t snaps_mu;
	pthread_cond_t snaps_cv;
	unsigned snaps_open; /* snapshots holding a read transaction (any thread); under snaps_mu */
	atomic_bool closing; /* store_close under way: scans give up */
};

/* map_guard.c: watch s's map for SIGBUS (after mdb_env_open), and stop. */
void store_map_watch(store *s);
void store_map_unwatch(store *s);

struct store_read {
	store *s;
	MDB_txn *txn;
	uint64_t index;
};


/* snapshot.c: marks the store closing (scans give up) and waits up to ms
 * for every snapshot's read transaction to end; false if one is still open. */
bool store_snapshots_wait(store *s, unsigned ms);

struct store_snapshot {
	store *s;
	MDB_txn *txn;          /* NULL once released */
	atomic_bool cancelled; /* store_snapshot_cancel */
};

/* Component key: client\0env\0ns\0workload\0container\0kind\0 */
void store_comp_key(struct rec_writer *w, const char *client, const char *env, const char *ns,
                    const char *workload, const char *container, const char *kind);

/* Reads a u64 from DB_META (0 when absent). */
uint64_t store_meta_get(MDB_txn *txn, store *s, const char *name);

/* Decodes a component or history record into r, using scratch for strings.
 * The key gives the component; the value the entry. Returns 0 or -1. */
struct release_scratch {
	char parts[6][PROTO_MAX_STR + 1];
	char img[4][PROTO_MAX_STR + 1];
};
/* The state apply works on (apply.c, apply_ops.c). */
struct apply_ctx {
	store *s;
	MDB_txn *txn;
	uint64_t index;
	const struct proto_cmd *cmd;
	struct proto_result *res;
	uint64_t n_events; /* events this entry has produced so far */
	uint64_t n_audit;  /* audit rows this entry has written so far */
	int64_t clock_ms;  /* the cluster clock at this entry (expiries use it) */
};

#define STORE_CLOCK_STEP_MS 60000 /* the most the cluster clock moves per entry */

/* A JSON object under construction (events' data). */
struct store_json {
	char buf[STORE_JSON_MAX];
	size_t len;
	bool overflow;
};
void store_json_init(struct store_json *j);
void store_json_str(struct store_json *j, const char *key, const char *value);
void store_json_int(struct store_json *j, const char *key, int64_t value);
void store_json_end(struct store_json *j);
/* Appends an event of the entry being applied (closes data's object). */
int store_event(struct apply_ctx *a, const char *type, const char *client, struct store_json *data);

int store_put(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, const void *v, size_t vlen);
/* Applies one observation (history + current). */
int store_observe(struct apply_ctx *a, const struct proto_observation *o);
/* A history entry's value: o's image, first and last sighting, the Raft
 * index that created it. */
void store_entry_rec(struct rec_writer *w, const struct proto_observation *o, int64_t first, int64_t last,
                     uint64_t index);
/* Opens a new history entry of component ck (o's image, first..last) and
 * makes it current; count is the component's entry count after it. Counts
 * it in the release totals; no event. */
int store_open_entry(struct apply_ctx *a, const struct rec_writer *ck, const struct proto_observation *o,
                     int64_t first, int64_t last, uint64_t count);
/* Adds delta to the u64 counter at k of db. */
int store_counter_add(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, uint64_t delta);
/* Makes sure client/env is listed, without touching its ping. */
int store_env_touch(struct apply_ctx *a, const char *client, const char *env);
/* Records a ping (the latest time wins); emit: also a client.ping event. */
int store_ping(struct apply_ctx *a, const struct proto_ping *p, bool emit);
/* One command's effect, one function per command type (dispatch.c lists
 * them): 0 or an LMDB error; business refusals go into a->res. */
int store_apply_observe(struct apply_ctx *a);        /* apply.c */
int store_apply_ping(struct apply_ctx *a);           /* apply.c */
int store_apply_cluster_put(struct apply_ctx *a);    /* apply_ops.c */
int store_apply_cluster_delete(struct apply_ctx *a); /* apply_ops.c */
int store_apply_lease(struct apply_ctx *a);          /* apply_ops.c */
int store_apply_jobs_queue(struct apply_ctx *a);     /* apply_ops.c */
int store_apply_job_start(struct apply_ctx *a);      /* apply_ops.c */
int store_apply_collect_result(struct apply_ctx *a); /* apply_ops.c */
int store_apply_member_put(struct apply_ctx *a);     /* apply_ops.c */
int store_apply_member_delete(struct apply_ctx *a);  /* apply_ops.c */
int store_apply_webhook_put(struct apply_ctx *a);    /* webhooks.c */
int store_apply_webhook_delete(struct apply_ctx *a); /* webhooks.c */
int store_apply_webhook_progress(struct apply_ctx *a); /* webhooks.c */
int store_apply_alert(struct apply_ctx *a);          /* alerts.c */
int store_apply_import(struct apply_ctx *a);         /* import.c */
int store_apply_prune(struct apply_ctx *a);          /* prune.c */
int store_apply_user_put(struct apply_ctx *a);       /* users.c */
int store_apply_user_delete(struct apply_ctx *a);    /* users.c */
int store_apply_apikey_put(struct apply_ctx *a);     /* apikeys.c */
int store_apply_apikey_delete(struct apply_ctx *a);  /* apikeys.c */
int store_apply_keys_used(struct apply_ctx *a);      /* apikeys.c */
int store_apply_signing_key(struct apply_ctx *a);    /* sessions.c */
int store_apply_session(struct apply_ctx *a);        /* sessions.c */
int store_apply_prune_identity(struct apply_ctx *a); /* prune_identity.c */
/* Writes a->cmd's audit row (with its result code) when it has an origin. */
int store_audit_record(struct apply_ctx *a);         /* audit.c */

/* cmdrec.c: cmd as records keep it (no time stamp, idempotency key or origin). */
int store_cmd_stored(const struct proto_cmd *cmd, struct proto_buf *out);
/* A record holding n_head i64 fields, then a->cmd as stored
 * (no time stamp, idempotency key or origin). */
int store_put_cmd(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, const int64_t *head, size_t n_head);
/* Decodes such a value into its head and *out (of the given command type;
 * free it with proto_cmd_free); PROTO_EIO if it is not one. */
int store_get_cmd(const MDB_val *v, uint32_t type, int64_t *head, size_t n_head, struct proto_cmd *out);

/* Runs the function of a->cmd's type (none for NOOP). */
int store_apply_dispatch(struct apply_ctx *a);

/* Decodes a job record (apply_ops.c). */
int store_job_decode(const void *p, size_t len, struct store_job *j);

int store_decode_entry(const MDB_val *key, const MDB_val *val, int is_comp, struct release_scratch *sc,
                       struct store_release *r);

#endif
