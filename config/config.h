/* cluster.toml: the cluster's members, auth keys and tuning (see DESIGN.md,
 * "Running it"). Loaded once at start; read-only afterwards, so every actor
 * may hold a const pointer to it. */
#ifndef SHIPLOG_CONFIG_CONFIG_H
#define SHIPLOG_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"

#define CFG_MAX_NODES 16
#define CFG_NAME_MAX 128
#define CFG_ADDR_MAX 256
#define CFG_PATH_MAX 1024

struct cfg_node {
	uint64_t id;               /* Raft server id, > 0 */
	char name[CFG_NAME_MAX];   /* e.g. "n1" */
	char region[CFG_NAME_MAX]; /* "local" by default */
	char raft[CFG_ADDR_MAX];   /* host:port of the Raft TCP transport */
	char rpc[CFG_ADDR_MAX];    /* nng URL for node-to-node calls */
	char http[CFG_ADDR_MAX];   /* host:port of the gateway */
	char data[CFG_PATH_MAX];   /* data directory */
};

struct cfg_client_key {
	char *client; /* client name the key is limited to */
	char *key;    /* the key */
};

/* A Kubernetes cluster registered from cluster.toml ([[k8s_cluster]]). */
struct cfg_k8s_cluster {
	char name[CFG_NAME_MAX];
	char server[CFG_ADDR_MAX];
	char client_name[CFG_NAME_MAX], env_name[CFG_NAME_MAX];
	char token_file[CFG_PATH_MAX];  /* files are read by each node at start */
	char ca_file[CFG_PATH_MAX];
	char kubeconfig[CFG_PATH_MAX];  /* a kubeconfig file instead of the above */
	char context[CFG_NAME_MAX];     /* its context to use ("" = its current-context) */
	char namespaces[16][CFG_NAME_MAX];
	size_t n_namespaces;
	int insecure;
	unsigned interval_s; /* 0 = [collector] interval */
};

#define CFG_MAX_K8S 16

/* [retention]: what PRUNE keeps (0 = no bound). */
struct cfg_retention {
	unsigned history_per_component; /* history_per_component: entries kept per component (0) */
	unsigned history_days;          /* history_days: entries last seen longer ago go (0) */
	unsigned jobs_keep;             /* jobs_keep: newest jobs kept (10000) */
	unsigned jobs_days;             /* jobs_days: finished jobs older than this go (30) */
	unsigned interval_ms;           /* interval: how often the lease holder prunes (1m) */
	unsigned batch;                 /* batch: rows one PRUNE command deletes at most (5000) */
	unsigned audit_keep;            /* audit_keep: newest audit rows kept (1000000) */
	unsigned audit_days;            /* audit_days: audit rows older than this go (365) */
};

/* How Kubernetes lists are read: pages of page_size items (limit/continue),
 * each answer at most max_bytes, at most max_items per resource. */
struct cfg_k8s_lists {
	unsigned page_size;  /* default 500 */
	unsigned max_bytes;  /* default 16 MiB */
	unsigned max_items;  /* default 200000 */
};

/* [auth]: users, tokens and managed keys (DESIGN.md "Authentication"). */
struct cfg_identity {
	unsigned access_ttl_ms;       /* access_token_ttl: a JWT access token's life (30m) */
	unsigned refresh_ttl_ms;      /* refresh_token_ttl: a refresh token's (7d) */
	unsigned key_overlap_ms;      /* key_rotation_overlap: a replaced signing key still verifies this long (1h) */
	unsigned password_ops;        /* password_ops: Argon2id passes (2) */
	unsigned password_memory_kib; /* password_memory_kib: Argon2id memory per hash (65536) */
	unsigned password_threads;    /* password_threads: hashes computed at once on a node (2) */
	unsigned min_password;        /* min_password_length (8) */
	unsigned key_use_flush_ms;    /* last_used_flush: how often a node records when keys were last used (30s) */
};

struct cfg {
	char cluster_name[CFG_NAME_MAX];
	struct cfg_node nodes[CFG_MAX_NODES]; /* the initial voters */
	size_t n_nodes;
	char **admin_keys;
	size_t n_admin_keys;
	struct cfg_client_key *client_keys; /* one entry per (client, key) */
	size_t n_client_keys;
	char admin_user[CFG_NAME_MAX];
	char admin_password[CFG_NAME_MAX];
	struct cfg_identity identity;  /* [auth] */
	unsigned election_timeout_ms; /* [raft] election_timeout_ms (default 300) */
	unsigned heartbeat_ms;        /* [raft] heartbeat_ms (default 60) */
	unsigned snapshot_threshold;  /* [raft] snapshot_threshold (default 65536) */
	unsigned snapshot_trailing;   /* [raft] snapshot_trailing (default 2048) */
	unsigned snapshot_log_mb;     /* [raft] snapshot_log_mb: also snapshot once the log since the last one holds this much (default 16) */
	unsigned trailing_log_mb;     /* [raft] trailing_log_mb: trailing entries kept within this much (default 4) */
	unsigned write_timeout_ms;    /* [api] write_timeout_ms: wait for a leader (default 2000) */
	size_t max_body_bytes;        /* [api] max_body_bytes (default 1 MiB) */
	unsigned max_connections;     /* [api] max_connections: open HTTP connections of this node (4096) */
	unsigned max_conns_per_addr;  /* [api] max_connections_per_address: ... from one source address (1024) */
	unsigned max_waiting;         /* [api] max_waiting: requests parked on ?index=&wait= (1024) */
	unsigned max_streams;         /* [api] max_streams: WebSocket event streams of this node (1024) */
	unsigned max_streams_per_key; /* [api] max_streams_per_credential: ... of one credential or address (32) */
	unsigned max_ws_message;      /* [api] max_ws_message_bytes: a message a client sends on a stream (64 KiB) */
	unsigned max_page_size;       /* [api] max_page_size: the largest ?limit= of a history page (1000) */
	unsigned history_unpaged_max; /* [api] history_unpaged_max: entries of a history asked without ?limit= (10000) */
	char **cors_origins;          /* [api] cors_origins: origins a browser page may call from (["*"]) */
	size_t n_cors_origins;
	size_t map_size_mb;           /* [store] map_size_mb (default 4096) */
	unsigned collector_interval_s; /* [collector] interval (default 60 s) */
	unsigned lease_ms;             /* [collector] lease: a duty's lease period (default 10 s) */
	unsigned k8s_timeout_ms;       /* [collector] timeout: one Kubernetes request (default 10 s) */
	struct cfg_k8s_lists lists;    /* [collector] list_page_size, max_list_bytes, max_list_items */
	unsigned collector_threads;    /* [collector] threads: collection runs at once on this node (4) */
	unsigned webhook_threads;      /* [webhooks] threads: deliveries at once on this node (4) */
	unsigned webhooks_per_client;  /* [webhooks] max_per_client: webhooks of one client, "" for all-client ones (20) */
	char secret_key[256];          /* [collector] secret_key: encrypts cluster credentials */
	unsigned max_voters;           /* [autopilot] max_voters: more joiners become standby (0 = no limit) */
	unsigned remove_unreachable_ms; /* [autopilot] remove_unreachable_after (0 = off) */
	int spread_regions;            /* [autopilot] spread_regions: keep max_voters voters, one per region first (default: max_voters > 0) */
	struct cfg_retention retention; /* [retention] */
	unsigned ping_warning_ms;      /* [alerts] ping_warning: no ping for this long raises a warning (10 min) */
	unsigned ping_offline_ms;      /* [alerts] ping_offline: ... a critical alert (15 min) */
	unsigned collect_failures;     /* [alerts] collection_failures: consecutive failed runs that alert (3) */
	struct cfg_k8s_cluster k8s[CFG_MAX_K8S]; /* [[k8s_cluster]] tables */
	size_t n_k8s;
	unsigned ready_leader_silence_ms; /* [health] leader_silence: /readyz fails once the leader is unheard this long (2 election timeouts) */
	unsigned ready_max_apply_lag;  /* [health] max_apply_lag: /readyz fails while applied lags commit by more entries (1000) */
	unsigned rate_anonymous;       /* [rate_limit] anonymous_per_minute */
	unsigned rate_authenticated;   /* [rate_limit] authenticated_per_minute */
	unsigned rate_slots;           /* [rate_limit] slots: callers counted at once, least recently used evicted (4096) */
	enum log_level log_level;      /* [log] level: debug, info (default), warn, error */
	enum log_format log_format;    /* [log] format: text (default) or json (one object per line) */
};

/* The light agent (shiplogd --agent): one local Kubernetes cluster pushed
 * to a shiplog cluster over its REST API. */
struct cfg_agent {
	char servers[8][CFG_ADDR_MAX]; /* base URLs of shiplog nodes, tried in turn */
	size_t n_servers;
	char api_key[CFG_NAME_MAX];
	char client_name[CFG_NAME_MAX], env_name[CFG_NAME_MAX];
	char kubeconfig[CFG_PATH_MAX];  /* file; "" = in-cluster service account */
	char context[CFG_NAME_MAX];     /* its context to use ("" = its current-context) */
	char namespaces[64][CFG_NAME_MAX];
	size_t n_namespaces;
	unsigned interval_s;      /* collection period (default 60 s) */
	unsigned ping_interval_s; /* POST /api/ping period (default 60 s) */
	unsigned timeout_ms;      /* per request (default 10 s) */
	struct cfg_k8s_lists lists; /* [agent] list_page_size, max_list_bytes, max_list_items */
	char spool[CFG_PATH_MAX]; /* directory of runs not yet delivered */
	enum log_level log_level;   /* [log] level, as for a node */
	enum log_format log_format; /* [log] format */
};

/* Parses the [agent] table of path; -1 with a message in err. */
int cfg_load_agent(const char *path, struct cfg_agent *out, char *err, size_t errlen);

/* Parses path into out (zeroed first). On error returns -1 with a message
 * naming the file, line and key in err. */
int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen);

/* Frees the key lists. */
void cfg_free(struct cfg *c);

/* The node named name, or NULL. */
const struct cfg_node *cfg_find_node(const struct cfg *c, const char *name);
/* The node with Raft id, or NULL. */
const struct cfg_node *cfg_find_node_id(const struct cfg *c, uint64_t id);

/* Parses "500ms", "2s", "1m", "1h", "7d" or a bare number of default_unit_ms
 * multiples into milliseconds; -1 if malformed. */
long long cfg_parse_duration_ms(const char *s, long long default_unit_ms);

#endif
