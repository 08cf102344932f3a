/* Private to gateway/: request context, routing, helpers. */
#ifndef SHIPLOG_GATEWAY_INTERNAL_H
#define SHIPLOG_GATEWAY_INTERNAL_H

#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

#include "gateway/gw.h"
#include "gateway/target.h"
#include "bus/bus.h"
#include "lib/clock.h"
#include "lib/timefmt.h"
#include "lib/queue.h"
#include "lib/metrics.h"
#include "lib/pooljob.h"
#include "protocol/proto.h"
#include "protocol/valid.h"

#define GW_WAIT_MAX_MS 300000 /* longest ?wait= accepted */

/* The raft actor's last published status, as the gateway sees it. */
struct gw_status {
	uint32_t role;
	bool ready;
	uint64_t term, commit, applied;
	char leader[CFG_NAME_MAX];
	int64_t last_contact_ms; /* at received_ms; -1 unknown */
	uint64_t received_ms;    /* uv_now when received */
	bool known;              /* at least one status received */
	bool removed;            /* the configuration no longer lists this node */
	uint64_t applied_seen;   /* applied index the event streams were last pumped at */
};

enum gw_auth_kind { GW_AUTH_NONE, GW_AUTH_INVALID, GW_AUTH_OK };

/* What a credential may do, lowest first (access.c has the rules). */
enum gw_role { GW_ROLE_NONE = 0, GW_ROLE_BADGE, GW_ROLE_VIEWER, GW_ROLE_OPERATOR, GW_ROLE_ADMIN };
enum gw_cred { GW_CRED_CONFIG = 1, GW_CRED_APIKEY, GW_CRED_JWT };

#define GW_ID_MAX 128

/* The caller, as its credential says (auth.c). */
struct gw_auth {
	enum gw_auth_kind kind;
	enum gw_role role;
	enum gw_cred cred;
	const char *client;  /* NULL: every client; else the only one it may see (request pool) */
	const char *key;     /* the credential presented, NULL if none */
	const char *why;     /* GW_AUTH_INVALID: why, for the 401 */
	char actor[GW_ID_MAX + 16]; /* audit: user:<id>, key:<id>, config:admin, config:client:<c> */
	char user_id[GW_ID_MAX];    /* GW_CRED_JWT: its user */
	char session[GW_ID_MAX];    /* GW_CRED_JWT: its session (refresh-token family) */
	char key_id[GW_ID_MAX];     /* GW_CRED_APIKEY: the managed key */
	const char *scope;   /* GW_CRED_APIKEY: its scope (request pool) */
	uint64_t wait_index; /* GW_CRED_JWT: its session is not here yet, but will be at this index */
	int64_t expires_ms;  /* GW_CRED_APIKEY: when the key expires (0: never); keys it makes expire no later */
};

struct gw_req;
typedef void (*gw_read_fn)(struct gw_req *gr);

/* One HTTP request, allocated in its h2o pool. When h2o disposes of the
 * request (client gone), req becomes NULL and pending work drops its answer. */
struct gw_req {
	struct gw *gw;
	h2o_req_t *req;
	char request_id[192];
	uint64_t index;               /* X-Shiplog-Index of the answer */
	struct gw_auth auth;
	struct gw_target target;      /* decoded path segments and query */
	struct gw_pending *pending;   /* outstanding bus call or wait */
	gw_read_fn read;              /* the read to run once consistent */
	uint64_t wait_index;          /* ?index= */
	uint64_t wait_deadline;       /* uv_now ms */
	unsigned wait_pos[2];         /* its places in the waiters' heaps (waiters.c) */
	bool waiting;
	void *ctx;                    /* handler state carried to its write callback */
	int route;                    /* index in the route table, GW_ROUTES for none */
	uint64_t start_ns;            /* uv_hrtime at arrival */
	bool large_body;              /* its body's memory is worth giving back (memtrim) */
};

#define GW_ROUTES 64 /* room in the per-route metrics */
#define GW_CODES 15

/* Per-route request counts by status code and latency. */
struct gw_route_stats {
	uint64_t by_code[GW_CODES]; /* as gw_codes[], the last one for any other */
	struct metrics_hist seconds;
};
extern const int gw_codes[GW_CODES];

/* outbox.c: the turn's requests to the raft actor, not yet sent */
struct gw_outbox {
	struct outbox_item *proposals, **proposals_tail;
	struct outbox_item *barriers, **barriers_tail;
	uv_check_t check; /* runs after I/O: sends what this turn queued */
	bool inited;
};

/* The limits that refuse requests, counted in shiplog_limit_refusals_total. */
enum gw_limit_kind {
	GW_LIMIT_RATE,         /* [rate_limit] */
	GW_LIMIT_CONNECTIONS,  /* [api] max_connections, max_connections_per_address */
	GW_LIMIT_WAITS,        /* [api] max_waiting */
	GW_LIMIT_WS_STREAMS,   /* [api] max_streams_per_credential, max_streams */
	GW_LIMIT_KINDS_
};
extern const char *const gw_limit_names[GW_LIMIT_KINDS_];

/* Open connections (conns.c). */
struct gw_conn;
struct gw_addr_count {
	uint64_t key; /* gw_addr_key; 0 = empty */
	unsigned count;
};
enum { GW_CONN_OVER_NODE = 1, GW_CONN_OVER_ADDR = 2 };
struct gw_conns {
	unsigned open;                /* accepted and not yet closed */
	struct gw_addr_count *addrs;  /* open connections per source address */
	size_t cap, used;             /* slots (a power of two) and keys in them */
	struct gw_conn **by_fd;       /* the open connection on each fd */
	size_t n_fds;
};

/* Requests parked on ?index=&wait= (waiters.c). */
struct gw_waiters {
	struct gw_req **heap[2]; /* by wait_index, by wait_deadline */
	unsigned n, cap;
	uv_timer_t timer;        /* armed for the nearest deadline */
	bool timer_inited;
};

struct gw {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	char raft_url[CFG_ADDR_MAX];
	char status_url[CFG_ADDR_MAX];
	uv_loop_t *loop;
	struct pool_job trim; /* malloc_trim after requests with large bodies */
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	uv_tcp_t listener;
	bool listening;
	bool ctx_inited;
	uv_timer_t wait_timer;
	bool timer_inited;
	bus_client *raft;
	bus_sub *sub;
	struct gw_status status;
	struct gw_waiters waiters;
	struct gw_conns conns;
	struct gw_outbox outbox;
	uint64_t request_seq;
	bool stopping;
	struct gw_route_stats stats[GW_ROUTES + 1]; /* +1: requests matching no route */
	void *ratelimit;                            /* ratelimit.c's table, allocated on first use */
	struct queue ws;                            /* struct gw_ws: WebSocket event streams (events.c) */
	int n_ws;                                   /* in ws */
	struct workers *pw_workers;   /* passwords.c: [auth] password_threads */
	struct gw_keyuse *keyuse;     /* keyuse.c */
	void *token_cache;            /* tokens.c: access tokens verified lately */
	unsigned char secret_key[32]; /* seals cluster credentials */
	bool have_secret_key;
	struct {
		uint64_t rate_evictions;  /* live rate-limit slots taken over (table crowded) */
		uint64_t refused[GW_LIMIT_KINDS_]; /* requests refused by each limit (enum gw_limit_kind) */
	} m;
};

/* server.c: answering */
void gw_respond_json(struct gw_req *gr, int status, json_t *body);   /* steals body */
void gw_respond_error(struct gw_req *gr, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, with a details array (stolen), e.g. [{"field", "message"}]. */
void gw_respond_error_details(struct gw_req *gr, int status, const char *code, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void gw_respond_raw(struct gw_req *gr, int status, const char *content_type, const char *body, size_t len);
/* As gw_respond_raw without a copy: body (malloc'd) is the request's, freed with it. */
void gw_respond_owned(struct gw_req *gr, int status, const char *content_type, void *body, size_t len);
/* Maps a proto_status from the raft actor to an HTTP error answer. */
void gw_respond_status(struct gw_req *gr, int status, const char *message);
const char *gw_query(struct gw_req *gr, const char *key);
/* The index a read transaction reflects: its last state change, or the Raft
 * applied index the status reported before the read began (entries such as
 * barriers change no state but are reflected too). */
uint64_t gw_state_index(struct gw *g, struct store_read *rd);
/* Adds a response header (copied into the request pool) before answering. */
void gw_add_header(struct gw_req *gr, const char *name, const char *value);
/* Current leader name and last contact in ms (-1 unknown). */
int64_t gw_last_contact(struct gw *g);

/* outbox.c: requests to the raft actor, sent once per loop turn. cb gets
 * PROTO_OK and the raft actor's reply (rep->status may be an error), or a
 * failure to reach it (rep NULL). res: a proposal's own result, when
 * rep->status is PROTO_OK. cb fires exactly once, also at close. */
typedef void (*gw_outbox_cb)(void *data, int status, const struct proto_reply *rep, const struct proto_result *res);
void gw_outbox_init(struct gw *g);
/* Queues a proposal of an encoded command (stolen). */
int gw_outbox_propose(struct gw *g, struct proto_buf *cmd, gw_outbox_cb cb, void *data);
/* Queues a linearizable read point. */
int gw_outbox_barrier(struct gw *g, gw_outbox_cb cb, void *data);
/* Answers what is queued with PROTO_ESHUTDOWN and closes the handle. */
void gw_outbox_close(struct gw *g);

/* consistency.c: reads at the requested consistency; writes through raft */
void gw_read(struct gw_req *gr, gw_read_fn fn);
/* Runs gr->read now that its index is here (a user's session checked again). */
void gw_read_run(struct gw_req *gr);
typedef void (*gw_write_cb)(struct gw_req *gr, const struct proto_result *res);
/* Encodes cmd (with gr's origin, for the audit log), proposes it and calls
 * done on success (errors are answered). */
void gw_propose(struct gw_req *gr, struct proto_cmd *cmd, gw_write_cb done);
/* As gw_propose, but done also gets the state machine's refusals
 * (res->code != PROTO_OK) and answers them itself. */
void gw_propose_any(struct gw_req *gr, struct proto_cmd *cmd, gw_write_cb done);
/* For writes that make a secret shown once (a key, tokens): answers 409 and
 * returns true when res is a replay of an earlier request's, whose secret
 * this request never saw. */
bool gw_refuse_replay(struct gw_req *gr, const struct proto_result *res);
/* conns.c */
int gw_conns_init(struct gw *g);
void gw_conns_free(struct gw *g);
/* A TCP handle to accept into, and the close callback h2o must call. */
uv_stream_t *gw_conn_new(struct gw *g, uv_close_cb *close_cb);
/* Frees a handle from gw_conn_new that was not accepted (a uv_close_cb). */
void gw_conn_free_unaccepted(uv_handle_t *h);
/* Counts an accepted connection and marks it when over a limit. */
void gw_conn_accepted(struct gw *g, uv_stream_t *s);
/* Answers gr's request 503/429 (then the connection closes) if its
 * connection was over a limit when accepted; true if it did. */
bool gw_conn_refused(struct gw_req *gr);

/* waiters.c */
int gw_waiters_init(struct gw *g);
void gw_waiters_close(struct gw *g); /* its timer, at stop */
void gw_waiters_free(struct gw *g);
/* Parks gr until its wait_index is applied or its wait_deadline passes,
 * then runs gr->read; false when [api] max_waiting requests already wait. */
bool gw_waiters_park(struct gw *g, struct gw_req *gr);
/* Unparks gr (its HTTP request is gone); safe if it is not parked. */
void gw_waiters_remove(struct gw *g, struct gw_req *gr);
/* Runs the reads whose index is now applied or whose deadline passed. */
void gw_waiters_check(struct gw *g);
/* events.c: the gateway's 25 ms timer, pumping event streams. */
void gw_events_timer(uv_timer_t *t);
void gw_pending_detach(struct gw_req *gr);
/* A bus call to the raft actor tied to gr: the callback's data is a pending
 * handle; gw_pending_call_take gives gr back (NULL if the request is gone). */
struct gw_pending_call;
struct gw_pending_call *gw_pending_call_new(struct gw_req *gr);
struct gw_req *gw_pending_call_take(struct gw_pending_call *pc);
int gw_raft_call(struct gw_req *gr, const struct proto_msg *m, unsigned timeout_ms, bus_reply_cb cb);

/* ratelimit.c: counts the request against the budget of credential (a
 * valid key) or, when NULL, of its source address, and sets X-RateLimit-*;
 * false over budget, with Retry-After set and *retry_s the seconds. */
bool gw_rate_limit(struct gw_req *gr, const char *credential, unsigned *retry_s);
/* A caller's identity for limits: a hash of credential (a valid key), or of
 * the request's source address when credential is NULL. */
uint64_t gw_caller_key(struct gw_req *gr, const char *credential);
/* The hash of a source address, as gw_caller_key gives it (port ignored). */
uint64_t gw_addr_key(const struct sockaddr *sa);
/* The same, answering 429 RATE_LIMIT_EXCEEDED itself when over budget. */
bool gw_rate_limit_json(struct gw_req *gr, const char *credential);

/* auth.c */
struct gw_auth gw_auth_resolve(struct gw *g, struct gw_req *gr);
/* An API key (of cluster.toml or managed), as badges present it in their path. */
struct gw_auth gw_auth_key(struct gw *g, struct gw_req *gr, const char *key);
/* Checks again that a's session is live and its user active (after a read
 * waited for an index: a logout applied meanwhile counts); 0, or -1 with a
 * made invalid, -2 when the session is unknown here but a->wait_index is
 * not applied yet (a login through another node). */
int gw_auth_session_check(struct gw *g, struct gw_req *gr, struct gw_auth *a);
/* true if the credential may see client's data */
bool gw_auth_allows(const struct gw_auth *a, const char *client);
/* The key a valid credential presented (what limits count by), else NULL. */
const char *gw_auth_credential(const struct gw_auth *a);

/* access.c: the rules */
#define GW_ACCESS_UNSCOPED 1u /* not for client-scoped credentials (cluster topology, users, audit) */
#define GW_ACCESS_USER 2u     /* only a signed-in user (a JWT), not an API key */
/* Answers 401/403 and returns false unless gr->auth has at least role least
 * (GW_ROLE_NONE: anyone) and passes flags. */
bool gw_access_check(struct gw_req *gr, enum gw_role least, unsigned flags);
const char *gw_role_name(enum gw_role r);
/* admin, operator, viewer; GW_ROLE_NONE for anything else. */
enum gw_role gw_role_parse(const char *name);
/* An API key scope (admin, operator, read, client:<c>, read:<c>, badge:<c>)
 * as a role and client (a pointer into scope, NULL for all); 0 or -1. */
int gw_scope_parse(const char *scope, enum gw_role *role, const char **client);
/* True if a may hand out a credential of role for client (NULL: all):
 * never more than itself, never beyond its client. */
bool gw_may_grant(const struct gw_auth *a, enum gw_role role, const char *client);

/* keyuse.c: "last used" of managed keys, proposed in batches */
void gw_keyuse_note(struct gw *g, const char *key_id);
int gw_keyuse_init(struct gw *g);
void gw_keyuse_close(struct gw *g); /* its timer, at stop */
void gw_keyuse_free(struct gw *g);

/* passwords.c: Argon2id on the gateway's own threads, never on its loop */
enum gw_pw_op {
	GW_PW_HASH,   /* hash password (a new one) */
	GW_PW_VERIFY, /* check password against hash (NULL: a stand-in, so unknown users cost the same) */
	GW_PW_CHANGE, /* check password against hash, then hash new_password */
};
/* Called on the loop: status 0 (a match; the new hash in hash for HASH and
 * CHANGE), -1 no match, -2 could not run. Not called if gr went away. */
typedef void (*gw_pw_cb)(struct gw_req *gr, int status, const char *hash);
/* Queues the work; false (answered 503) when [auth] password_threads are
 * busy with a full queue or the node stops. */
bool gw_pw_run(struct gw_req *gr, enum gw_pw_op op, const char *hash, const char *password, const char *new_password,
               gw_pw_cb cb);
int gw_pw_init(struct gw *g);
void gw_pw_stop(struct gw *g);

/* origin.c: who asked, for the audit log */
void gw_origin(struct gw_req *gr, struct proto_origin *o);

/* jsonw.c: a time as a JSON string (lib/timefmt.h's format) */
json_t *gw_json_time(int64_t ms);

/* validate.c */
/* Names and text: proto_valid_name, proto_valid_text (protocol/valid.h). */
/* Parses the JSON body as an object; answers 400 and returns NULL if not. */
json_t *gw_body_object(struct gw_req *gr);
/* form.c: the body as an object, from JSON or from a form-encoded body
 * (all values strings); answers 400 and returns NULL if it is neither. */
json_t *gw_body_fields(struct gw_req *gr);
/* Reads the positive integer query parameter name (at most max) into *out,
 * left as it is when absent; answers 400 and returns false if malformed. */
bool gw_query_count(struct gw_req *gr, const char *name, uint64_t max, uint64_t *out);
/* Reads an optional string member; answers 400 and returns false on a wrong type. */
bool gw_opt_string(struct gw_req *gr, json_t *obj, const char *key, const char **out);
/* As gw_opt_string, and a string over max bytes is answered with
 * gw_respond_too_long. */
bool gw_opt_string_max(struct gw_req *gr, json_t *obj, const char *key, size_t max, const char **out);
/* Answers 400 VALIDATION_ERROR for a field of len bytes over its limit of
 * max, naming both in the message and in details [{field, limit, length}]. */
void gw_respond_too_long(struct gw_req *gr, const char *field, size_t len, size_t max);
/* The string member key of o, NULL when absent, not a string or holding a NUL. */
const char *gw_str_member(json_t *o, const char *key);
/* Fills ob's component and image from the JSON object o (kind under
 * kind_key; ob->client and ob->env already set) and checks them: NULL, or
 * why o is malformed. image_repo/image_name default to "", image_sha may be "". */
const char *gw_read_observation(json_t *o, const char *kind_key, struct proto_observation *ob);

/* Handlers (routes.c dispatches) */
void gw_h_collect_put(struct gw_req *gr);
void gw_h_collect_now(struct gw_req *gr);
void gw_h_current(struct gw_req *gr);
void gw_h_history(struct gw_req *gr);
void gw_h_clients(struct gw_req *gr);
void gw_h_ping(struct gw_req *gr);
void gw_h_config(struct gw_req *gr);
/* probes.c */
/* True if this node can serve writes and linearizable reads now; else false
 * with the reason in why. */
bool gw_ready(struct gw *g, char *why, size_t cap);
void gw_h_health(struct gw_req *gr);
void gw_h_livez(struct gw_req *gr);
void gw_h_readyz(struct gw_req *gr);
void gw_h_badge(struct gw_req *gr);
void gw_h_clusters_list(struct gw_req *gr);
void gw_h_cluster_get(struct gw_req *gr);
void gw_h_cluster_health(struct gw_req *gr);
void gw_h_cluster_create(struct gw_req *gr);
void gw_h_cluster_update(struct gw_req *gr);
void gw_h_cluster_delete(struct gw_req *gr);
void gw_h_jobs_list(struct gw_req *gr);
void gw_h_job_get(struct gw_req *gr);
void gw_h_observations(struct gw_req *gr);
void gw_h_cluster(struct gw_req *gr);
void gw_h_cluster_add(struct gw_req *gr);
void gw_h_cluster_remove(struct gw_req *gr);
void gw_h_cluster_transfer(struct gw_req *gr);
void gw_h_cluster_snapshot(struct gw_req *gr);
void gw_route(struct gw_req *gr);
/* "METHOD /pattern" of route i, for metrics labels. */
const char *gw_route_label(int i, char *buf, size_t cap);
void gw_h_metrics(struct gw_req *gr);
void gw_h_events(struct gw_req *gr);
void gw_h_webhooks_list(struct gw_req *gr);
void gw_h_webhook_create(struct gw_req *gr);
void gw_h_webhook_delete(struct gw_req *gr);
void gw_h_webhook_deliveries(struct gw_req *gr);
void gw_h_alerts(struct gw_req *gr);
void gw_h_alert_ack(struct gw_req *gr);
void gw_h_import_rt(struct gw_req *gr); /* import.c */
void gw_h_login(struct gw_req *gr);      /* login.c */
void gw_h_refresh(struct gw_req *gr);
void gw_h_logout(struct gw_req *gr);
void gw_h_me(struct gw_req *gr);
void gw_h_rotate_key(struct gw_req *gr); /* signing.c */
void gw_h_users_list(struct gw_req *gr); /* users.c */
void gw_h_user_create(struct gw_req *gr);
void gw_h_user_update(struct gw_req *gr);
void gw_h_user_delete(struct gw_req *gr);
void gw_h_user_me_update(struct gw_req *gr);
void gw_h_user_me_password(struct gw_req *gr);
void gw_h_apikeys_list(struct gw_req *gr); /* apikeys.c */
void gw_h_apikey_create(struct gw_req *gr);
void gw_h_apikey_delete(struct gw_req *gr);
void gw_h_audit(struct gw_req *gr);      /* audit.c */
void gw_h_routes(struct gw_req *gr);     /* routes.c */
/* Sends new events to every WebSocket client (after applies, on the timer). */
void gw_events_pump_all(struct gw *g);
void gw_events_close_all(struct gw *g);

#endif
