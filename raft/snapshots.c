/* The node's snapshot policy around the FSM (fsm.h): staggered thresholds,
 * the log's byte budget, and the io->async_work that raft_uv 0.15.0 lacks. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "lib/log.h"
#include "raft/internal.h"

/* Every node applies the same log, so without this they would all take
 * their snapshots at the same entry, and three snapshots written at once
 * delayed commits (write p99) most. A node's first snapshot, by bytes or by
 * entries, waits (id mod 3)/3 of the budget or threshold longer; later ones
 * keep that offset. Entry thresholds below REPL_STAGGER_MIN_ENTRIES are
 * left alone: snapshots are cheap there, and staggered, they kept the
 * jepsen snapshot-install nemesis (threshold 32) from ever forcing an
 * install. */
static uint64_t stagger(const struct repl *r, uint64_t budget)
{
	return r->snapshots.staggered ? 0 : budget * (r->self->id % 3) / 3;
}

void repl_snapshot_settings(struct repl *r)
{
	uint64_t threshold = r->cfg->snapshot_threshold;
	if (threshold >= REPL_STAGGER_MIN_ENTRIES) {
		threshold += stagger(r, threshold);
	}
	raft_set_snapshot_threshold(&r->raft, (unsigned)(threshold < UINT_MAX ? threshold : UINT_MAX));
	raft_set_snapshot_trailing(&r->raft, r->cfg->snapshot_trailing);
}

/* The log is bounded in bytes too: raft 0.15.0 counts entries only, and a
 * few batches of 10000 observations hold hundreds of MiB in memory. Once the
 * entries applied since the last snapshot exceed snapshot_log_mb, the
 * threshold is lowered so the next apply takes a snapshot, keeping only the
 * trailing entries that fit in trailing_log_mb at the average entry size;
 * both settings are restored when that snapshot is done. */
void repl_log_budget(struct repl *r)
{
	uint64_t since = raft_last_applied(&r->raft) - r->raft.log.snapshot.last_index;
	uint64_t budget = (uint64_t)r->cfg->snapshot_log_mb << 20;
	if (budget == 0 || r->snapshots.budget || r->fsm.snap != NULL || since == 0 ||
	    r->fsm.log_bytes < budget + stagger(r, budget)) {
		return;
	}
	uint64_t avg = r->fsm.log_bytes / since + 1;
	uint64_t trailing = ((uint64_t)r->cfg->trailing_log_mb << 20) / avg;
	if (trailing < REPL_TRAILING_MIN) {
		trailing = REPL_TRAILING_MIN; /* a follower a moment behind should not need a snapshot install */
	}
	if (trailing > r->cfg->snapshot_trailing) {
		trailing = r->cfg->snapshot_trailing;
	}
	r->snapshots.budget = true;
	raft_set_snapshot_trailing(&r->raft, (unsigned)(trailing > 0 ? trailing : 1));
	raft_set_snapshot_threshold(&r->raft, (unsigned)since);
}

/* raft_uv in 0.15.0 predates io->async_work, which FSM v3 needs to run
 * snapshot_async off the loop: provide it on libuv's thread pool. raft_uv's
 * close knows nothing of this work, so raft is closed only once it has
 * called back (repl_raft_close). */
struct async_work {
	uv_work_t work;
	struct repl *r;
	struct raft_io_async_work *req;
	int status;
	struct async_work *next; /* in r->snapshots.works */
};

static void async_work_call(void *arg)
{
	struct async_work *a = arg;
	a->status = a->req->work(a->req);
}

/* Serializing a snapshot takes a core for a while; at the lowest priority
 * it leaves the event loops (and so request latency) alone on a busy
 * machine: with it at normal priority, write p99 at 64 connections went from
 * 11-17 ms to 46-77 ms whenever the three nodes snapshotted. */
static void async_work_run(uv_work_t *w)
{
	pool_run_low_priority(async_work_call, w->data);
}

static void async_work_done(uv_work_t *w, int status)
{
	struct async_work *a = w->data;
	struct raft_io_async_work *req = a->req;
	struct repl *r = a->r;
	int rv = status == UV_ECANCELED ? RAFT_CANCELED : a->status;
	for (struct async_work **pp = &r->snapshots.works; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) { /* one or two in flight at most */
			*pp = a->next;
			break;
		}
	}
	free(a);
	if (rv == RAFT_CANCELED && r->stopping) {
		log_warn("raft", "snapshot abandoned: the node is stopping");
	}
	req->cb(req, rv);
	if (r->snapshots.close_deferred && r->snapshots.works == NULL) {
		r->snapshots.close_deferred = false;
		repl_raft_close(r);
	}
}

static int io_async_work(struct raft_io *io, struct raft_io_async_work *req, raft_io_async_work_cb cb)
{
	struct repl *r = (struct repl *)((char *)io - offsetof(struct repl, io));
	struct async_work *a = malloc(sizeof(*a));
	if (a == NULL) {
		return RAFT_NOMEM;
	}
	req->cb = cb;
	a->r = r;
	a->req = req;
	a->work.data = a;
	if (uv_queue_work(r->loop, &a->work, async_work_run, async_work_done) != 0) {
		free(a);
		return RAFT_IOERR;
	}
	a->next = r->snapshots.works;
	r->snapshots.works = a;
	return 0;
}

void repl_async_work_cancel(struct repl *r)
{
	repl_fsm_cancel_snapshot(&r->fsm); /* a scan under way gives up within a chunk */
	for (struct async_work *a = r->snapshots.works; a != NULL; a = a->next) {
		uv_cancel((uv_req_t *)&a->work); /* one not started yet never starts (fails if it has) */
	}
}

void repl_io_async_work_init(struct repl *r)
{
	if (r->io.version < 2 || r->io.async_work == NULL) {
		r->io.version = 2;
		r->io.async_work = io_async_work;
	}
}
