/* The wire schema of shiplog: every Raft command and every actor message,
 * encoded with msgpack as an array [version, type, fields...].
 *
 * Decoders copy every string into memory owned by the decoded struct (freed
 * by the matching *_free), so the input buffer may be released right after.
 * They reject truncated, oversized, wrongly typed or wrongly versioned input
 * with PROTO_EINVAL / PROTO_ETOOBIG and never crash on it. */
#ifndef SHIPLOG_PROTOCOL_PROTO_H
#define SHIPLOG_PROTOCOL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/status.h"

/* Raise it with any change to a command's encoding or meaning. A node
 * reading up to an older version stops at the first entry of a newer one
 * (store_apply: PROTO_ENEWER) rather than skip it and diverge. Before a
 * leader proposes a newer version, every voter must read it: that gate does
 * not exist yet, as 1 is the only version. */
#define PROTO_VERSION 1
/* Commands of the identity era (types from PROTO_CMD_USER_PUT on, and any
 * command with an origin) are written as version 3 (2 is a compressed
 * entry's, PROTO_ZENTRY_VERSION): a binary that reads only version 1 stops
 * at them (PROTO_ENEWER) instead of applying them as bad commands, which
 * would diverge. Everything else keeps version 1 and its bytes. */
#define PROTO_CMD_VERSION_IDENTITY 3
#define PROTO_CMD_VERSION_MAX 3 /* the newest command format this binary reads */
#define PROTO_MAX_MSG (16u << 20)  /* largest encoded message accepted */
#define PROTO_MAX_STR 1024u        /* longest string field, unless its table says otherwise */
/* A cluster's sealed credentials: an RSA-4096 CA bundle, client certificate
 * and key and a 2 KB bound token seal to about 16 KiB; twice that is room. */
#define PROTO_MAX_SEALED 32768u
/* The six names of a component (client, env, namespace, kind, workload,
 * container) together: its history key, names + separators + an 8-byte
 * sequence, must fit LMDB's 511-byte keys. */
#define PROTO_MAX_COMPONENT_NAMES 497u
#define PROTO_MAX_OBS 65536u       /* most observations in one command */

/* An encoded message; data is malloc'd, release with proto_buf_free. */
struct proto_buf {
	char *data;
	size_t len;
};

void proto_buf_free(struct proto_buf *b);

/* ---- Raft commands (entries of the replicated log) ---- */

enum proto_cmd_type {
	PROTO_CMD_NOOP = 1,    /* no state change (used to probe) */
	PROTO_CMD_OBSERVE = 2, /* observations of running images */
	PROTO_CMD_PING = 3,    /* a client/env heartbeat */
	PROTO_CMD_CLUSTER_PUT = 4,    /* create or replace a Kubernetes cluster */
	PROTO_CMD_CLUSTER_DELETE = 5, /* remove a cluster */
	PROTO_CMD_LEASE = 6,          /* acquire or renew a duty's lease */
	PROTO_CMD_JOBS_QUEUE = 7,     /* queue collection jobs */
	PROTO_CMD_JOB_START = 8,      /* a node starts running a job */
	PROTO_CMD_COLLECT_RESULT = 9, /* a collection run: its observations and outcome */
	PROTO_CMD_MEMBER_PUT = 10,    /* a node's name and addresses (any role) */
	PROTO_CMD_MEMBER_DELETE = 11, /* a node left the cluster */
	PROTO_CMD_WEBHOOK_PUT = 12,   /* register a webhook */
	PROTO_CMD_WEBHOOK_DELETE = 13,
	PROTO_CMD_WEBHOOK_PROGRESS = 14, /* one delivery attempt and where the webhook stands */
	PROTO_CMD_ALERT = 15,         /* raise, resolve or acknowledge an alert */
	PROTO_CMD_IMPORT = 16,        /* releases and pings from another tracker's database */
	PROTO_CMD_PRUNE = 17,         /* retention: old history entries and jobs go */
	PROTO_CMD_USER_PUT = 18,      /* create or update a user */
	PROTO_CMD_USER_DELETE = 19,
	PROTO_CMD_APIKEY_PUT = 20,    /* a managed API key (its hash, never the key) */
	PROTO_CMD_APIKEY_DELETE = 21,
	PROTO_CMD_SIGNING_KEY = 22,   /* a new JWT signing key, sealed; the ones before retire after an overlap */
	PROTO_CMD_SESSION = 23,       /* a login session: start, refresh-token rotation, revoke */
	PROTO_CMD_KEYS_USED = 24,     /* when API keys were last used, batched by a gateway */
	PROTO_CMD_PRUNE_IDENTITY = 25, /* retention: expired sessions and old audit rows go */
	PROTO_CMD_TYPE_MAX_
};

/* One sighting of a container's image; all strings NUL-free. */
struct proto_observation {
	const char *client;     /* client (cluster) name */
	const char *env;        /* environment name */
	const char *ns;         /* Kubernetes namespace */
	const char *kind;       /* workload kind, e.g. Deployment */
	const char *workload;   /* workload name */
	const char *container;  /* container name */
	const char *image_repo; /* registry/repository, may be "" */
	const char *image_name; /* image name, may be "" */
	const char *image_tag;  /* tag */
	const char *image_sha;  /* digest */
	int64_t seen_at_ms;     /* when it was seen / released (ms since epoch) */
};

struct proto_ping {
	const char *client;  /* client name */
	const char *env;     /* environment name */
	const char *version; /* agent version, may be "" */
	int64_t at_ms;       /* ping time (proposer's clock) */
};

/* One imported release: its component and image, with obs.seen_at_ms its
 * first sighting and last_seen_ms its last. */
struct proto_import_row {
	struct proto_observation obs;
	int64_t last_seen_ms;
};

/* IMPORT: releases in the order to apply them (oldest first), and pings. */
struct proto_import {
	struct proto_import_row *rows;
	uint32_t n_rows;
	struct proto_ping *pings; /* at_ms: the imported last ping */
	uint32_t n_pings;
};

/* PRUNE: what retention removes, decided by the proposer ([retention]) and
 * applied alike everywhere. A component's current entry is never removed;
 * 0 turns a bound off. At most max_deletes rows go per command (the
 * proposer repeats while the result says more are left). */
struct proto_prune {
	uint64_t history_keep;     /* entries kept per component, newest first */
	int64_t history_before_ms; /* entries last seen before this go */
	uint64_t jobs_keep;        /* jobs kept, newest first */
	int64_t jobs_before_ms;    /* finished jobs that finished before this go */
	uint64_t max_deletes;
};

/* A user. Roles: admin, operator, viewer (DESIGN.md "Authentication"). */
struct proto_user {
	const char *id, *username, *email, *full_name;
	const char *role;
	const char *client;  /* "": every client; else the only one it may see */
	const char *pw_hash; /* crypto_pwhash_str; "" keeps the stored one; "!" none (single sign-on only) */
	uint64_t active;     /* 0: disabled, its tokens are refused */
	uint64_t create;     /* 1: refused (ECONFLICT) if id, username or email exist; 0: id must exist;
	                      * 2 (the user's own update): as 0, but role, client and active stay as stored */
};

/* A managed API key: only its hash enters the log. */
struct proto_apikey {
	const char *id, *name, *description;
	const char *scope;  /* admin, operator, read, client:<c>, read:<c>, badge:<c> */
	const char *hash;   /* SHA-256 of the key, 64 hex characters */
	const char *prefix; /* its first characters, shown in lists */
	const char *owner;  /* who created it, as an audit actor (user:<id>, key:<id>, config) */
	int64_t expires_ms; /* 0: never */
};

/* A JWT signing key. Applying it makes it the one that signs; every key
 * before it keeps verifying for overlap_ms (by the cluster clock), then goes. */
struct proto_signing_key {
	const char *kid;
	const char *sealed; /* secret_seal'd key bytes */
	int64_t overlap_ms;
};

enum proto_session_op { PROTO_SESSION_START = 1, PROTO_SESSION_ROTATE, PROTO_SESSION_REVOKE };

/* A login session (a refresh-token family). ROTATE succeeds only when jti is
 * the family's current refresh token; any other (an old one, reused) revokes
 * the whole family and is refused with ECONFLICT. */
struct proto_session {
	uint32_t op;        /* enum proto_session_op */
	const char *family; /* the session's id (its tokens' "sid" claim) */
	const char *user_id;
	const char *jti;     /* START: its refresh token's id; ROTATE: the one presented */
	const char *new_jti; /* ROTATE: the new refresh token's id */
	int64_t expires_ms;  /* START, ROTATE: when the (new) refresh token expires */
};

/* PRUNE_IDENTITY: as PRUNE, for sessions whose refresh token expired
 * before sessions_before_ms and audit rows beyond audit_keep (newest kept)
 * or older than audit_before_ms; 0 turns a bound off. */
struct proto_prune_identity {
	int64_t sessions_before_ms;
	uint64_t audit_keep;
	int64_t audit_before_ms;
	uint64_t max_deletes;
};

struct proto_key_use {
	const char *id;
	int64_t at_ms;
};

/* Who asked for a command, kept in the audit log (encoded only when actor is
 * set: commands without one keep their bytes). */
struct proto_origin {
	const char *actor;      /* user:<id>, key:<id>, config:admin, config:client:<c>, node:<name> */
	const char *node;       /* the node the request came through */
	const char *addr;       /* the caller's address */
	const char *request_id; /* its X-Request-Id */
};

/* A Kubernetes cluster the collector reads; credentials arrive sealed. */
struct proto_cluster {
	const char *id, *name, *server, *client, *env;
	const char *cred_kinds;   /* which credentials are sealed, e.g. "token,ca_cert" */
	const char *sealed;       /* secret_seal'd credentials JSON, "" for none */
	const char **namespaces;  /* to read, in display order; none = all */
	uint32_t n_namespaces;
	const char **labels;      /* key, value, key, value, ... */
	uint32_t n_labels;        /* number of strings (twice the pairs) */
	uint64_t insecure;        /* 1: skip TLS verification (test clusters) */
	uint64_t interval_s;      /* collection period, 0 = the [collector] default */
};

struct proto_lease {
	const char *duty;   /* e.g. "collect:<cluster id>" */
	uint64_t holder;    /* node id asking */
	uint64_t period_ms; /* granted until ts_ms + period_ms */
};

struct proto_jobs {
	const char **ids;      /* new job ids */
	const char **clusters; /* the cluster of each */
	uint32_t n;            /* (both arrays have n entries) */
	uint32_t n_clusters;
	const char *reason;    /* "manual" or "schedule" */
};

struct proto_job_start {
	const char *id;
	const char *cluster_id;
	uint64_t node; /* node running it */
};

/* The outcome of one collection run; observations go in cmd.obs. */
struct proto_collect {
	const char *job_id, *cluster_id;
	const char *status; /* "success" or "failed" */
	const char *error;  /* "" on success */
	uint64_t node;
	int64_t started_at_ms, finished_at_ms;
};

/* A member node: what Raft's configuration does not hold. */
struct proto_member {
	uint64_t id;
	const char *name, *region;
	const char *raft; /* host:port of its Raft transport */
	const char *rpc;  /* nng URL */
	const char *http; /* host:port of its gateway */
};

struct proto_webhook {
	const char *id, *url;
	const char **events; /* event types; none = all */
	uint32_t n_events;
	const char *sealed_secret; /* secret_seal'd HMAC secret */
	const char *client;        /* "": every client's events (admin); else that client's only */
};

struct proto_delivery {
	const char *webhook_id;
	uint64_t event_index, event_seq; /* the event attempted */
	const char *event_type; /* "" with ok 1: a skip, the cursor moves past events the webhook does not want */
	uint64_t ok;          /* 1: delivered, the cursor moves past the event */
	uint64_t http_status; /* 0 if no answer */
	const char *error;    /* "" on success */
	uint64_t node;        /* the delivering node */
	int64_t duration_ms;
};

struct proto_alert {
	const char *id;       /* e.g. ping:<client>:<env>, collect:<cluster id> */
	const char *action;   /* raise, resolve, acknowledge */
	const char *kind;     /* client_offline, collection_failing */
	const char *severity; /* warning, critical */
	const char *message;
	const char *client;   /* the client it concerns, "" if none */
	const char *by;       /* acknowledge: who */
};

struct proto_cmd {
	uint32_t type;        /* enum proto_cmd_type */
	int64_t ts_ms;        /* proposer's wall clock: apply never reads the clock */
	const char *idem_key; /* idempotency key, "" for none */
	uint32_t n_obs;       /* OBSERVE: number of observations */
	struct proto_observation *obs; /* OBSERVE: the observations */
	struct proto_ping ping;        /* PING */
	struct proto_origin origin;    /* who asked (audit); all NULL for none */
	union {
		struct proto_cluster cluster;     /* CLUSTER_PUT */
		const char *cluster_id;           /* CLUSTER_DELETE */
		struct proto_lease lease;         /* LEASE */
		struct proto_jobs jobs;           /* JOBS_QUEUE */
		struct proto_job_start job_start; /* JOB_START */
		struct proto_collect collect;     /* COLLECT_RESULT (+ obs) */
		struct proto_member member;       /* MEMBER_PUT */
		uint64_t member_id;               /* MEMBER_DELETE */
		struct proto_webhook webhook;     /* WEBHOOK_PUT */
		const char *webhook_id;           /* WEBHOOK_DELETE */
		struct proto_delivery delivery;   /* WEBHOOK_PROGRESS */
		struct proto_alert alert;         /* ALERT */
		struct proto_import import;       /* IMPORT */
		struct proto_prune prune;         /* PRUNE */
		struct proto_user user;           /* USER_PUT */
		const char *user_id;              /* USER_DELETE */
		struct proto_apikey apikey;       /* APIKEY_PUT */
		const char *apikey_id;            /* APIKEY_DELETE */
		struct proto_signing_key signing; /* SIGNING_KEY */
		struct proto_session session;     /* SESSION */
		struct {
			struct proto_key_use *uses;
			uint32_t n;
		} keys_used;                      /* KEYS_USED */
		struct proto_prune_identity prune_identity; /* PRUNE_IDENTITY */
	} u;
	void *mem_;                    /* owned memory of a decoded command */
};

/* Encodes a command, zero-padded to a multiple of 8 bytes (raft 0.15.0
 * requires it). Returns PROTO_OK, PROTO_EINVAL or PROTO_ENOMEM. */
int proto_cmd_encode(const struct proto_cmd *cmd, struct proto_buf *out);

/* Decodes a command (padding allowed). On success the caller frees it with
 * proto_cmd_free; on failure nothing needs freeing. */
int proto_cmd_decode(const void *buf, size_t len, struct proto_cmd *cmd);

void proto_cmd_free(struct proto_cmd *cmd);

/* The outcome of applying one command: business errors live in code. */
struct proto_result {
	int32_t code;     /* PROTO_OK or the business error */
	uint64_t index;   /* Raft index the command was (first) applied at */
	uint32_t replay;  /* 1 when an idempotency key matched an earlier command */
	uint32_t created; /* new history entries (PRUNE: 1 when max_deletes stopped it) */
	uint32_t updated; /* history entries whose last_seen moved (PRUNE: rows deleted) */
};

int proto_result_encode(const struct proto_result *r, struct proto_buf *out);
int proto_result_decode(const void *buf, size_t len, struct proto_result *r);

/* ---- Batches: several commands in one Raft entry (batch.c) ---- */

#define PROTO_CMD_BATCH 64     /* entry type of a batch (not a proto_cmd) */
#define PROTO_CMD_ZENTRY 65    /* entry type of a compressed entry (raft/entryzip.c) */
/* A compressed entry is [PROTO_ZENTRY_VERSION, PROTO_CMD_ZENTRY, raw_len
 * (uint32), compressed bytes (bin32)], zero-padded to 8 bytes; inside is a
 * command or a batch. Its version is 2 so that a binary reading only
 * version-1 entries stops at it (store_apply: PROTO_ENEWER). */
#define PROTO_ZENTRY_VERSION 2
#define PROTO_ZENTRY_HEADER 13 /* bytes before the compressed ones */
/* Writes a compressed entry's header for raw_len bytes compressed to zlen. */
void proto_zentry_header(uint32_t raw_len, uint32_t zlen, unsigned char out[PROTO_ZENTRY_HEADER]);
/* If buf is a compressed entry: sets raw_len and the compressed bytes (a
 * pointer into buf) and returns PROTO_OK. PROTO_ENOTFOUND if it does not
 * start like one, PROTO_EINVAL if it does but its header is malformed. */
int proto_zentry_parse(const void *buf, size_t len, uint32_t *raw_len, const void **z, size_t *zlen);
#define PROTO_MAX_BATCH 4096u  /* most commands in one batch */

/* A command's bytes inside some buffer. */
struct proto_slice {
	const void *data;
	size_t len;
};

/* A decoded batch: n encoded commands (copies owned by the batch). */
struct proto_batch {
	uint32_t n;
	struct proto_slice *cmds;
	void *mem_;
};

/* Encodes n (1..PROTO_MAX_BATCH) encoded commands as one padded entry. */
int proto_batch_encode(const struct proto_slice *cmds, uint32_t n, struct proto_buf *out);
/* The format version an encoded command or batch starts with (its first
 * array element); PROTO_EINVAL if buf does not start like one. A version
 * above PROTO_VERSION was written by a newer shiplog. */
int proto_format_version(const void *buf, size_t len, uint32_t *version);
/* True if buf starts like a batch (a cheap test; decoding still validates). */
bool proto_is_batch(const void *buf, size_t len);
/* Decodes a batch; on success free it with proto_batch_free. */
int proto_batch_decode(const void *buf, size_t len, struct proto_batch *b);
void proto_batch_free(struct proto_batch *b);
/* The results of a batch, one per command in order. Decoding requires
 * exactly n results. */
int proto_results_encode(const struct proto_result *r, uint32_t n, struct proto_buf *out);
int proto_results_decode(const void *buf, size_t len, struct proto_result *r, uint32_t n);

/* ---- Actor messages (gateway <-> raft actor, node <-> node) ---- */

enum proto_msg_type {
	PROTO_MSG_PROPOSE = 1, /* propose a command; hops > 0 when forwarded */
	PROTO_MSG_BARRIER = 2, /* linearizable read point */
	PROTO_MSG_REPLY = 3,   /* answer to PROPOSE/BARRIER */
	PROTO_MSG_STATUS = 4,  /* raft actor state, published */
	PROTO_MSG_COLLECT = 5, /* scheduler -> collector: run one collection */
	PROTO_MSG_STATUS_QUERY = 6, /* ask for the leader's status (forwarded once) */
	PROTO_MSG_MEMBER_CHANGE = 7, /* add, remove, assign, transfer (at the leader) */
	PROTO_MSG_METRICS_QUERY = 8, /* an actor's metrics as Prometheus text (in REPLY.result) */
	PROTO_MSG_LEADER_CONFIRM = 9, /* leader -> voter: are you still in my term? (linearizable reads) */
	PROTO_MSG_TYPE_MAX_
};

struct proto_propose {
	uint32_t timeout_ms; /* how long the sender waits */
	uint32_t hops;       /* 0 from the gateway, 1 once forwarded */
	const void *cmd;     /* encoded proto_cmd */
	size_t cmd_len;
};

struct proto_barrier {
	uint32_t timeout_ms; /* how long the sender waits */
	uint32_t hops;       /* 0 from the gateway, 1 once forwarded */
};

struct proto_reply {
	int32_t status;      /* enum proto_status */
	uint64_t index;      /* applied index the answer reflects */
	const char *leader;  /* known leader name, "" if none */
	const char *message; /* detail for errors, "" otherwise */
	const void *result;  /* encoded proto_result, may be empty */
	size_t result_len;
};

enum proto_role { PROTO_ROLE_UNAVAILABLE = 0, PROTO_ROLE_FOLLOWER, PROTO_ROLE_CANDIDATE, PROTO_ROLE_LEADER, PROTO_ROLE_REMOVED };

struct proto_node_status {
	uint64_t node_id;        /* this node */
	uint32_t role;           /* enum proto_role */
	uint32_t ready;          /* leader whose term barrier is applied */
	uint64_t term;           /* current term */
	uint64_t commit;         /* commit index */
	uint64_t applied;        /* last applied index */
	uint64_t leader_id;      /* 0 if unknown */
	const char *leader_name; /* "" if unknown */
	int64_t last_contact_ms; /* ms since the leader was heard, 0 on the leader, -1 never */
	const char *members;     /* "id:role:match:reachable;..." role v/s/p; match, reachable from the leader */
	uint64_t removed_id;     /* a leader's removal notice: the member removed (0 otherwise) */
};

enum proto_member_op { PROTO_MEMBER_ADD = 1, PROTO_MEMBER_REMOVE, PROTO_MEMBER_ASSIGN, PROTO_MEMBER_TRANSFER };

struct proto_member_change {
	uint32_t op;          /* enum proto_member_op */
	uint32_t hops;        /* 0 from the gateway, 1 once forwarded */
	uint32_t role;        /* ADD/ASSIGN: 0 voter, 1 standby, 2 spare (shiplog's numbering) */
	uint32_t timeout_ms;
	struct proto_member m; /* ADD: the new node; REMOVE/ASSIGN/TRANSFER: m.id (0 = any, for TRANSFER) */
	const char *cluster;   /* ADD: the joining node's cluster name, must match */
};

/* A leader asks a voter to confirm its term before serving reads at its
 * commit index; the voter answers REPLY status OK iff its term is the same. */
struct proto_leader_confirm {
	uint64_t term;      /* the leader's current term */
	uint64_t leader_id; /* the asking node */
};

struct proto_collect_req {
	const char *job_id;     /* the job to run (created by JOB_START if new) */
	const char *cluster_id; /* the cluster to read */
};

struct proto_msg {
	uint32_t type; /* enum proto_msg_type */
	union {
		struct proto_collect_req collect;
		struct proto_member_change member;
		uint32_t query_hops; /* STATUS_QUERY */
		struct proto_propose propose;
		struct proto_barrier barrier;
		struct proto_reply reply;
		struct proto_node_status status;
		struct proto_leader_confirm confirm;
	} u;
	void *mem_; /* owned memory of a decoded message */
};

int proto_msg_encode(const struct proto_msg *m, struct proto_buf *out);
int proto_msg_decode(const void *buf, size_t len, struct proto_msg *m);
void proto_msg_free(struct proto_msg *m);

#endif
