/* Private to raft/: the actor's state and the request (op) machinery. */
#ifndef SHIPLOG_RAFT_INTERNAL_H
#define SHIPLOG_RAFT_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>

#include "bus/bus.h"
#include "lib/metrics.h"
#include "lib/pooljob.h"
#include "lib/queue.h"
#include "protocol/proto.h"
#include "raft/contact.h"
#include "raft/entryzip.h"
#include "raft/fsm.h"
#include "raft/members.h"
#include "raft/membership.h"
#include "raft/readindex.h"
#include "raft/requests.h"
#include "raft/snapshots.h"
#include "raft/probefix.h"
#include "raft/trace.h"
#include "raft/repl.h"
#include "raft/segments.h"

#define REPL_TICK_MS 20          /* retry parked requests, check deadlines */
#define REPL_STATUS_EVERY_MS 100 /* publish status at least this often */
#define REPL_FORWARD_MAX_MS 1000 /* one forwarding attempt waits at most this */

#define REPL_UNMAP_BYTES (16u << 20) /* applied command bytes between unmaps of the data file: the cadence of snapshots before entries were compressed */
#define REPL_STAGGER_MIN_ENTRIES 4096 /* snapshots.c: smaller snapshot thresholds are not staggered */
#define REPL_TRAILING_MIN 16 /* trailing entries kept however large they are */

struct repl {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	char request_url[CFG_ADDR_MAX];
	char status_url[CFG_ADDR_MAX];
	char raft_dir[CFG_PATH_MAX + 16];
	int join; /* never bootstrap: this node is added by a running member */
	uv_loop_t *loop;

	struct raft raft;
	struct raft_io io;
	int (*io_start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb); /* raft_uv's (recvguard.c) */
	raft_io_recv_cb raft_recv;       /* raft's receive callback, behind the guard */
	struct raft_uv_transport transport;
	struct repl_fsm fsm;             /* the state machine over store/ (fsm.h) */
	bool raft_started;
	bool raft_inited;                /* raft_init succeeded: repl_stop closes raft, raft_uv and the transport */

	bus_server *server;                    /* requests: gateway + peers */
	bus_pub *pub;                          /* status */
	struct repl_peers peers;               /* members.c */
	struct repl_contacts contacts;         /* contact.c */
	raft_id leader_id;                     /* cached with its name */
	char leader_name[CFG_NAME_MAX];

	uv_prepare_t prepare; /* watches raft state once per loop iteration */
	uv_timer_t tick;
	uv_check_t check;     /* runs work deferred out of raft callbacks */
	int handles_open;     /* libuv handles not yet closed */

	bool was_leader;
	bool unavailable_logged;         /* raft's state became RAFT_UNAVAILABLE and we said so */
	bool leader_ready;               /* this term's barrier is applied */
	bool leader_barrier_busy;
	struct raft_barrier leader_barrier;
	struct repl_reads reads;         /* readindex.c */
	bool nudge_busy;                 /* a commit-propagating barrier is in flight */
	/* Work asked for inside raft callbacks, done at the next loop turn:
	 * calling raft_barrier/raft_apply re-entrantly while raft changes state
	 * crashed 0.15.0 (found by tests/jepsen, partition nemesis). */
	bool want_barrier_kick, want_nudge, want_ready, want_flush, want_trim;
	struct pool_job trim;            /* malloc_trim after snapshots (repl.c) */
	struct pool_job unmap;           /* store_unmap_pages after bulk writes (repl.c) */
	struct raft_barrier nudge;

	struct queue ops;                /* struct op: every op not yet freed, newest first */
	struct repl_autopilot autopilot; /* membership.c */
	struct repl_probefix probefix;   /* probefix.c: the leader-side catch-up repair */
	bool removed; /* told by the leader that it was removed (kept in DATA/removed) */
	struct {
		uint64_t leader_changes, proposals, forwarded, barrier_rounds, barrier_reads;
		uint64_t appends_trimmed; /* recvguard.c */
		uint64_t barrier_log_rounds; /* read rounds that fell back to a barrier entry */
		uint64_t entries_proposed, forward_messages;
		uint64_t entry_bytes, entry_bytes_raw; /* proposed: as appended (compressed), and before */
		struct metrics_hist apply_seconds;   /* leader: raft_apply to applied */
		struct metrics_hist forward_seconds; /* follower: forward sent to the leader's answer */
		struct metrics_hist forward_apply_wait_seconds; /* follower: that answer to applied here */
		struct metrics_hist apply_batch;     /* entries applied per loop iteration */
	} m;
	struct entryzip_buf zpack;       /* the entry being proposed, compressed (requests.c) */
	bool status_dirty;
	uint64_t last_status_ms;
	bool stopping;
	struct repl_snapshots snapshots; /* snapshots.c */
};

/* repl.c: closes raft now, or once the async work in flight has called
 * back (raft_uv does not track the work we run for it). */
void repl_raft_close(struct repl *r);
/* snapshots.c: makes the async work in flight end soon: a snapshot's scan gives
 * up, work not started is cancelled. Their callbacks still run. */
void repl_async_work_cancel(struct repl *r);

/* nodelay.c: wraps a raft_uv TCP transport so its connections set TCP_NODELAY. */
void repl_transport_nodelay(struct raft_uv_transport *t);

/* cmds.c */
/* The commands of a turn's ops, flattened (a batch op is opened). */
struct cmd_list {
	struct proto_slice *v;
	uint32_t n, cap;
	struct proto_batch *opened; /* one per batch op, freed with the list */
	uint32_t n_opened;
};
/* Appends op's commands (max_opened: batch ops the list may open); -1 on no memory. */
int cmd_list_add_op(struct cmd_list *l, const struct op *op, uint32_t max_opened);
void cmd_list_free(struct cmd_list *l);
/* A command, or a batch of them: every one must decode and none be a batch
 * itself. Sets the command count and whether buf is a batch. */
int repl_cmds_validate(const void *buf, size_t len, uint32_t *n_cmds, bool *multi);

/* snapshots.c: gives raft_uv the io->async_work it lacks (on libuv's pool). */
void repl_io_async_work_init(struct repl *r);
/* Sets raft's snapshot threshold and trailing from the configuration. */
void repl_snapshot_settings(struct repl *r);
/* Asks for a snapshot once the log since the last one exceeds its byte budget. */
void repl_log_budget(struct repl *r);

/* requests.c */
void repl_on_request(void *data, bus_request *req, const void *buf, size_t len);
/* ops.c: answers req with a REPLY (message and result may be NULL/empty). */
void repl_send_reply(struct repl *r, bus_request *req, int status, uint64_t index, const char *message,
                     const void *result, size_t result_len);
/* Retries parked ops, fails ops past their deadline. */
void repl_ops_tick(struct repl *r);
/* The leader changed: stop waiting for forwards sent to the old one (they
 * are retried; idempotency keys make that safe). */
void repl_ops_leader_changed(struct repl *r, raft_id leader);
/* Answers ops waiting for local apply up to index. */
void repl_ops_applied(struct repl *r, uint64_t index);
/* Starts a shared read round if ops wait and this leader is ready: a term
 * confirmation (readindex.c), or a barrier entry when that cannot run.
 * Never from inside a raft callback (see want_barrier_kick). */
void repl_barrier_kick(struct repl *r);
/* Runs the round as a barrier entry through the log. */
void repl_barrier_log_round(struct repl *r);
/* Ends the round: answers its reads at the applied index (ok) or parks them
 * to be retried (wherever the leader is then). */
void repl_reads_answer(struct repl *r, bool ok);

/* readindex.c: linearizable reads without a log entry (Raft thesis 6.4) */
/* Asks every other voter to confirm this leader's term; false if no round
 * could start (the caller falls back to a barrier entry). */
bool repl_read_confirm_start(struct repl *r);
/* Answers the confirmed round once the commit index it recorded is applied;
 * from every loop turn. */
void repl_read_confirm_check(struct repl *r);
/* A voter's side: confirms the asking leader's term if it is its own. */
void repl_on_leader_confirm(struct repl *r, bus_request *req, const struct proto_leader_confirm *c);
/* Appends a barrier so followers learn the new commit index now. */
void repl_commit_nudge(struct repl *r);
/* Answers every op with PROTO_ESHUTDOWN. */
void repl_ops_shutdown(struct repl *r);
/* Sends what this loop turn queued: the leader's proposals as one entry (a
 * batch when more than one command), a follower's forwards as one message. */
void repl_ops_flush(struct repl *r);

/* membership.c */
void repl_on_status_query(struct repl *r, bus_request *req, uint32_t hops);
void repl_on_member_change(struct repl *r, bus_request *req, const struct proto_member_change *mc);
/* Membership requests deferred until this new leader is ready: replayed
 * when it is, refused when leadership is lost or they waited too long. */
void repl_defer_change(struct repl *r, bus_request *req, const void *buf, size_t len);
void repl_deferred_run(struct repl *r, bool expire_only);
/* Removes members unreachable longer than [autopilot] remove_unreachable_after. */
void repl_autopilot(struct repl *r);
/* [autopilot] spread_regions: takes the next placement step (placement.h)
 * with raft_assign, one change at a time (autopilot_busy). From the tick
 * timer only, after repl_node_alerts (it reads silent_since). */
void repl_autopilot_place(struct repl *r);
/* Raises "node unreachable" alerts (and resolves them), on the leader. */
void repl_node_alerts(struct repl *r);

/* recvguard.c: the follower-side guard of canonical/raft 0.15.0 (see there),
 * installed on raft_uv's io before raft_start. */
void repl_recv_guard_install(struct repl *r);

/* members.c */
bool repl_member(struct repl *r, uint64_t id, struct repl_member *out);
/* The bus client to node id, NULL if its address is unknown. */
bus_client *repl_peer(struct repl *r, uint64_t id);
void repl_peers_close(struct repl *r);
/* Closes the clients of peers' previous addresses (their calls end with
 * PROTO_ESHUTDOWN); from the tick, outside any raft or bus callback. */
void repl_peers_reap(struct repl *r);
/* Proposes a command of the actor's own (leader only); no answer awaited. */
int repl_propose_internal(struct repl *r, struct proto_cmd *cmd);
/* Writes the initial voters of cluster.toml into MEMBERS (new leader). */
void repl_seed_members(struct repl *r);
/* True once this node was removed from the cluster. */
bool repl_removed(struct repl *r);
/* Reads (create = false) or writes (true) the DATA/removed marker. */
bool repl_removed_marker(struct repl *r, bool create);
/* The leader tells a node it removed; the node records it. */
void repl_notify_removed(struct repl *r, uint64_t id);
void repl_on_removed_notice(struct repl *r, bus_request *req, const struct proto_node_status *leader);

/* contact.c */
/* A Raft message from member id arrived (the receive guard calls it). */
void repl_contact_heard(struct repl *r, uint64_t id);
/* Milliseconds since member id was last heard (0 for this node), -1 never. */
int64_t repl_contact_ago_ms(struct repl *r, uint64_t id);
/* The applied index member id last reported and how old that report is;
 * false if it never answered. This node's own is always known. */
bool repl_contact_applied(struct repl *r, uint64_t id, uint64_t *applied, int64_t *age_ms);
/* On the leader, asks each member not asked within REPL_CONTACT_POLL_MS for
 * its status (one call in flight per member); from the tick. */
void repl_contact_poll(struct repl *r);

/* metrics.c */
void repl_on_metrics_query(struct repl *r, bus_request *req);

/* repl.c */
/* This node's status as a STATUS message. */
int repl_status_encode(struct repl *r, struct proto_buf *b);
/* The same, as a removal notice for member removed_id. */
int repl_status_encode_removed(struct repl *r, uint64_t removed_id, struct proto_buf *b);
/* Name of the known leader ("" if none) and its id (0). */
const char *repl_leader_name(struct repl *r, raft_id *id);
bool repl_is_leader(struct repl *r);


#endif
