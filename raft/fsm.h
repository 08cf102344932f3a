/* The replicated state machine: canonical/raft's FSM (version 3) over
 * store/, standalone so that it runs under raft_uv in the node and under
 * raft_fixture in the unit tests alike.
 *
 * apply: the entry's index is raft_last_applied() + 1 (0.15.0 does not pass
 * it); store_apply keeps it in the same LMDB transaction and skips entries it
 * already holds, which makes log replay after a restart harmless. An LMDB
 * failure stops the process: diverging from the other replicas is worse.
 *
 * snapshot: the synchronous part pins an LMDB read transaction on the loop
 * thread (it sees exactly last_applied); the asynchronous part streams it
 * through LZ4 (snapzip.h) on a worker thread while writes continue; finalize
 * counts it. restore replaces the whole store. */
#ifndef SHIPLOG_RAFT_FSM_H
#define SHIPLOG_RAFT_FSM_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/metrics.h"
#include "protocol/proto.h"
#include "raft/entryzip.h"
#include "store/store.h"

/* The results of an applied entry (one per command; n = 1 unless a batch):
 * what raft hands a local proposer's raft_apply callback. */
struct repl_results {
	uint64_t index; /* the entry's own index (a replayed command's res.index is older) */
	uint32_t n;
	const struct proto_result *res;
};

/* What the FSM tells its owner, on the raft thread; any may be NULL. */
struct repl_fsm_hooks {
	void *data;
	void (*on_applied)(void *data, uint64_t index); /* after each entry */
	void (*on_snapshot)(void *data);                /* after a snapshot was taken and counted */
	void (*on_restored)(void *data);                /* after a snapshot was installed */
};

struct repl_fsm {
	struct raft_fsm raft_fsm;          /* give this to raft_init; its data points here */
	store *store;                      /* applied into (not owned) */
	struct raft *raft;                 /* whose log is applied: set before raft_start */
	struct repl_fsm_hooks hooks;
	bool refuse_snapshots;             /* the node is stopping: raft_close waits for no new one */
	struct entryzip_buf zunpack;       /* the entry being applied, expanded */
	struct proto_result *results;      /* results of the entry being applied, one per command */
	uint32_t results_cap;
	struct repl_results last_results;  /* what apply hands to raft_apply callbacks */
	struct store_snapshot *snap;       /* the snapshot in progress, NULL if none */
	bool snap_serialized;              /* snapshot_async produced it: finalize counts it */
	uint64_t log_bytes;                /* bytes of the entries applied since the last snapshot */
	uint64_t log_bytes_at_snapshot;    /* log_bytes when the snapshot in progress started */
	uint64_t applied_since_unmap;      /* command bytes applied since the owner last unmapped */
	uint64_t applies_this_turn;        /* entries applied since the owner last reset it */
	uint64_t commands_applied;         /* counters for /metrics */
	uint64_t snapshots;
	uint64_t snapshot_started;         /* uv_hrtime of the snapshot in progress */
	double last_snapshot_seconds;      /* the last snapshot taken: duration and size */
	uint64_t last_snapshot_bytes;
	struct metrics_hist snapshot_seconds;
};

/* Sets f up over st (zeroing it first); raft must be set before raft_start.
 * A snapshot_async needs an io with version >= 2 and async_work. */
void repl_fsm_init(struct repl_fsm *f, store *st, const struct repl_fsm_hooks *hooks);

/* Frees what the FSM holds (a snapshot in progress is closed). */
void repl_fsm_close(struct repl_fsm *f);

/* Makes a snapshot scan under way give up within a chunk (the node stops). */
void repl_fsm_cancel_snapshot(struct repl_fsm *f);

#endif
