/* The FSM glue between canonical/raft and store/.
 *
 * apply: the entry's index is raft_last_applied() + 1 (0.15.0 does not pass
 * it); store_apply keeps it in the same LMDB transaction and skips entries it
 * already holds, which makes log replay after a restart harmless. An LMDB
 * failure stops the process: diverging from the other replicas is worse.
 *
 * snapshot (v3): the synchronous part pins an LMDB read transaction on the
 * loop thread (it sees exactly last_applied); the asynchronous part
 * streams it through LZ4 on libuv's thread pool while writes continue. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "raft/internal.h"
#include "raft/snapzip.h"
#include "lib/log.h"

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct repl *r = fsm->data;
	uint64_t index = raft_last_applied(&r->raft) + 1;
	struct proto_batch batch = {0};
	const void *data;
	size_t len;
	/* A compressed entry that does not expand is applied as it is (a bad
	 * command), like a batch that does not decode: a no-op with an error
	 * result, identically on every node. */
	int zrc = entryzip_unpack(buf->base, buf->len, &r->zunpack, &data, &len);
	if (zrc == PROTO_ENOMEM) {
		log_error("raft", "FATAL: out of memory expanding entry %llu", (unsigned long long)index);
		abort();
	}
	if (zrc != PROTO_OK) {
		data = ""; /* not its envelope, which reads as a newer format */
		len = 0;
	}
	struct proto_slice one = {data, len};
	const struct proto_slice *cmds = &one;
	uint32_t n = 1;
	if (proto_is_batch(data, len)) {
		int drc = proto_batch_decode(data, len, &batch);
		if (drc == PROTO_ENOMEM) {
			/* not a property of the entry: skipping it here alone would diverge */
			log_error("raft", "FATAL: out of memory decoding entry %llu", (unsigned long long)index);
			abort();
		}
		if (drc == PROTO_OK) {
			cmds = batch.cmds;
			n = batch.n;
		}
	}
	if (n > r->results_cap) {
		struct proto_result *grown = realloc(r->results, n * sizeof(*grown));
		if (grown == NULL) {
			log_error("raft", "FATAL: out of memory applying entry %llu", (unsigned long long)index);
			abort();
		}
		r->results = grown;
		r->results_cap = n;
	}
	int rv = store_apply_batch(r->store, index, cmds, n, r->results);
	proto_batch_free(&batch);
	if (rv != PROTO_OK) {
		log_error("raft", "FATAL: store apply of entry %llu failed (%s); stopping to avoid divergence",
		        (unsigned long long)index, proto_strerror(rv));
		abort();
	}
	/* raft hands this pointer to a local proposer's callback right away and
	 * does nothing with it otherwise, so it must not be heap memory. */
	r->last_results.index = index;
	r->last_results.n = n;
	r->last_results.res = r->results;
	*result = &r->last_results;
	r->status_dirty = true;
	r->m.applies_this_turn++;
	r->m.commands_applied += n;
	r->log_bytes += buf->len;
	r->applied_since_unmap += len;
	repl_ops_applied(r, index);
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl *r = fsm->data;
	if (r->snap != NULL || r->stopping) {
		return RAFT_BUSY; /* stopping: raft_close waits for no new snapshot */
	}
	if (store_snapshot_open(r->store, &r->snap) != PROTO_OK) {
		return RAFT_IOERR;
	}
	r->m.snapshot_started = uv_hrtime();
	r->log_bytes_at_snapshot = r->log_bytes; /* counted off once the snapshot is taken */
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

/* The state streams from the pinned read transaction through LZ4 into one
 * buffer sized once: no uncompressed copy, and no buffer that grows. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl *r = fsm->data;
	size_t len;
	int rv = store_snapshot_size(r->snap, &len);
	if (rv != PROTO_OK) {
		return rv == PROTO_ESHUTDOWN ? RAFT_CANCELED : rv == PROTO_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
	}
	struct snapzip *z = snapzip_begin(len);
	if (z == NULL) {
		return RAFT_NOMEM;
	}
	if ((rv = store_snapshot_write(r->snap, snapzip_put, z)) != PROTO_OK) {
		snapzip_abort(z);
		return rv == PROTO_ESHUTDOWN ? RAFT_CANCELED : rv == PROTO_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
	}
	store_snapshot_release(r->snap); /* raft's file write need not pin LMDB's pages */
	void *data;
	if (snapzip_end(z, &data, &len) != 0) {
		return RAFT_IOERR;
	}
	*bufs = malloc(sizeof(**bufs));
	if (*bufs == NULL) {
		free(data);
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = data;
	(*bufs)[0].len = len;
	*n_bufs = 1;
	r->snap_serialized = true; /* read on the loop after the work's callback */
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl *r = fsm->data;
	uint64_t bytes = 0;
	if (*bufs != NULL) {
		for (unsigned i = 0; i < *n_bufs; i++) {
			bytes += (*bufs)[i].len;
			free((*bufs)[i].base);
		}
		free(*bufs);
	}
	*bufs = NULL;
	*n_bufs = 0;
	store_snapshot_close(r->snap);
	r->snap = NULL;
	if (!r->snap_serialized) { /* failed or cancelled: raft tries again later; nothing to count */
		r->log_bytes_at_snapshot = 0;
		return 0;
	}
	r->snap_serialized = false;
	r->applied_since_unmap = 0; /* its scan's release unmapped the file */
	r->m.last_snapshot_bytes = bytes;
	r->m.snapshots++;
	r->log_bytes -= r->log_bytes_at_snapshot < r->log_bytes ? r->log_bytes_at_snapshot : r->log_bytes;
	r->log_bytes_at_snapshot = 0;
	r->m.last_snapshot_seconds = (double)(uv_hrtime() - r->m.snapshot_started) / 1e9;
	metrics_observe(&r->m.snapshot_seconds, r->m.last_snapshot_seconds);
	r->budget_snapshot = false;
	r->snapshot_staggered = true;
	r->want_trim = true; /* raft frees the entries the snapshot covers after this returns */
	repl_snapshot_settings(r);
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct repl *r = fsm->data;
	void *content = buf->base;
	size_t len = buf->len;
	if (repl_snapshot_is_compressed(buf->base, buf->len) &&
	    repl_snapshot_decompress(buf->base, buf->len, &content, &len) != 0) {
		return RAFT_MALFORMED;
	}
	int rv = store_restore(r->store, content, len);
	if (content != buf->base) {
		free(content);
	}
	if (rv == PROTO_EIO) {
		log_error("raft", "FATAL: store restore failed; stopping");
		abort();
	}
	if (rv != PROTO_OK) {
		return RAFT_MALFORMED;
	}
	raft_free(buf->base); /* on success the FSM owns the buffer */
	r->log_bytes = 0;
	r->status_dirty = true;
	return 0;
}

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
	return r->snapshot_staggered ? 0 : budget * (r->self->id % 3) / 3;
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
	if (budget == 0 || r->budget_snapshot || r->snap != NULL || since == 0 ||
	    r->log_bytes < budget + stagger(r, budget)) {
		return;
	}
	uint64_t avg = r->log_bytes / since + 1;
	uint64_t trailing = ((uint64_t)r->cfg->trailing_log_mb << 20) / avg;
	if (trailing < REPL_TRAILING_MIN) {
		trailing = REPL_TRAILING_MIN; /* a follower a moment behind should not need a snapshot install */
	}
	if (trailing > r->cfg->snapshot_trailing) {
		trailing = r->cfg->snapshot_trailing;
	}
	r->budget_snapshot = true;
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
	struct async_work *next; /* in r->async_works */
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
	for (struct async_work **pp = &r->async_works; *pp != NULL; pp = &(*pp)->next) {
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
	if (r->close_deferred && r->async_works == NULL) {
		r->close_deferred = false;
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
	a->next = r->async_works;
	r->async_works = a;
	return 0;
}

void repl_async_work_cancel(struct repl *r)
{
	if (r->snap != NULL) {
		store_snapshot_cancel(r->snap); /* a scan under way gives up within a chunk */
	}
	for (struct async_work *a = r->async_works; a != NULL; a = a->next) {
		uv_cancel((uv_req_t *)&a->work); /* one not started yet never starts (fails if it has) */
	}
}

void repl_fsm_init(struct repl *r)
{
	if (r->io.version < 2 || r->io.async_work == NULL) {
		r->io.version = 2;
		r->io.async_work = io_async_work;
	}
	r->fsm.version = 3;
	r->fsm.data = r;
	r->fsm.apply = fsm_apply;
	r->fsm.snapshot = fsm_snapshot;
	r->fsm.restore = fsm_restore;
	r->fsm.snapshot_finalize = fsm_snapshot_finalize;
	r->fsm.snapshot_async = fsm_snapshot_async;
}
