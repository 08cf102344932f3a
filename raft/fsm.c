/* The FSM over store/ (see fsm.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "raft/fsm.h"
#include "raft/snapzip.h"
#include "raft/translate.h"
#include "lib/log.h"

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct repl_fsm *f = fsm->data;
	uint64_t index = raft_last_applied(f->raft) + 1;
	struct proto_batch batch = {0};
	const void *data;
	size_t len;
	/* A compressed entry that does not expand is applied as it is (a bad
	 * command), like a batch that does not decode: a no-op with an error
	 * result, identically on every node. */
	int zrc = entryzip_unpack(buf->base, buf->len, &f->zunpack, &data, &len);
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
	if (n > f->results_cap) {
		struct proto_result *grown = realloc(f->results, n * sizeof(*grown));
		if (grown == NULL) {
			log_error("raft", "FATAL: out of memory applying entry %llu", (unsigned long long)index);
			abort();
		}
		f->results = grown;
		f->results_cap = n;
	}
	int rv = store_apply_batch(f->store, index, cmds, n, f->results);
	proto_batch_free(&batch);
	if (rv != PROTO_OK) {
		log_error("raft", "FATAL: store apply of entry %llu failed (%s); stopping to avoid divergence",
		        (unsigned long long)index, proto_strerror(rv));
		abort();
	}
	/* raft hands this pointer to a local proposer's callback right away and
	 * does nothing with it otherwise, so it must not be heap memory. */
	f->last_results.index = index;
	f->last_results.n = n;
	f->last_results.res = f->results;
	*result = &f->last_results;
	f->applies_this_turn++;
	f->commands_applied += n;
	f->log_bytes += buf->len;
	f->applied_since_unmap += len;
	if (f->hooks.on_applied != NULL) {
		f->hooks.on_applied(f->hooks.data, index);
	}
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl_fsm *f = fsm->data;
	if (f->snap != NULL || f->refuse_snapshots) {
		return RAFT_BUSY; /* stopping: raft_close waits for no new snapshot */
	}
	if (store_snapshot_open(f->store, &f->snap) != PROTO_OK) {
		return RAFT_IOERR;
	}
	f->snapshot_started = uv_hrtime();
	f->log_bytes_at_snapshot = f->log_bytes; /* counted off once the snapshot is taken */
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

/* The state streams from the pinned read transaction through LZ4 into one
 * buffer sized once: no uncompressed copy, and no buffer that grows. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl_fsm *f = fsm->data;
	size_t len;
	int rv = store_snapshot_size(f->snap, &len);
	if (rv != PROTO_OK) {
		return repl_to_raft(rv);
	}
	struct snapzip *z = snapzip_begin(len);
	if (z == NULL) {
		return RAFT_NOMEM;
	}
	if ((rv = store_snapshot_write(f->snap, snapzip_put, z)) != PROTO_OK) {
		snapzip_abort(z);
		return repl_to_raft(rv);
	}
	store_snapshot_release(f->snap); /* raft's file write need not pin LMDB's pages */
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
	f->snap_serialized = true; /* read on the loop after the work's callback */
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl_fsm *f = fsm->data;
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
	store_snapshot_close(f->snap);
	f->snap = NULL;
	if (!f->snap_serialized) { /* failed or cancelled: raft tries again later; nothing to count */
		f->log_bytes_at_snapshot = 0;
		return 0;
	}
	f->snap_serialized = false;
	f->applied_since_unmap = 0; /* its scan's release unmapped the file */
	f->last_snapshot_bytes = bytes;
	f->snapshots++;
	f->log_bytes -= f->log_bytes_at_snapshot < f->log_bytes ? f->log_bytes_at_snapshot : f->log_bytes;
	f->log_bytes_at_snapshot = 0;
	f->last_snapshot_seconds = (double)(uv_hrtime() - f->snapshot_started) / 1e9;
	metrics_observe(&f->snapshot_seconds, f->last_snapshot_seconds);
	if (f->hooks.on_snapshot != NULL) {
		f->hooks.on_snapshot(f->hooks.data);
	}
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct repl_fsm *f = fsm->data;
	void *content = buf->base;
	size_t len = buf->len;
	if (repl_snapshot_is_compressed(buf->base, buf->len) &&
	    repl_snapshot_decompress(buf->base, buf->len, &content, &len) != 0) {
		return RAFT_MALFORMED;
	}
	int rv = store_restore(f->store, content, len);
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
	f->log_bytes = 0;
	if (f->hooks.on_restored != NULL) {
		f->hooks.on_restored(f->hooks.data);
	}
	return 0;
}

void repl_fsm_init(struct repl_fsm *f, store *st, const struct repl_fsm_hooks *hooks)
{
	memset(f, 0, sizeof(*f));
	f->store = st;
	if (hooks != NULL) {
		f->hooks = *hooks;
	}
	f->raft_fsm.version = 3;
	f->raft_fsm.data = f;
	f->raft_fsm.apply = fsm_apply;
	f->raft_fsm.snapshot = fsm_snapshot;
	f->raft_fsm.restore = fsm_restore;
	f->raft_fsm.snapshot_finalize = fsm_snapshot_finalize;
	f->raft_fsm.snapshot_async = fsm_snapshot_async;
}

void repl_fsm_cancel_snapshot(struct repl_fsm *f)
{
	if (f->snap != NULL) {
		store_snapshot_cancel(f->snap);
	}
}

void repl_fsm_close(struct repl_fsm *f)
{
	if (f->snap != NULL) {
		store_snapshot_close(f->snap);
		f->snap = NULL;
	}
	free(f->results);
	f->results = NULL;
	f->results_cap = 0;
	entryzip_buf_free(&f->zunpack);
}
