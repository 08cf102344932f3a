/* The raft actor's lifecycle, its view of leadership, and status.
 *
 * Guards for canonical/raft 0.15.0 (DESIGN.md): on becoming leader a barrier
 * is appended at once and no linearizable read is answered until it is
 * applied; snapshots are taken asynchronously (FSM v3); auto-recovery of
 * corrupt segments stays off. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/internal.h"
#include "lib/assert.h"
#include "lib/log.h"

const char repl_trace_help[] = "SHIPLOG_TRACE=1 traces\nthe raft actor, LIBRAFT_TRACE=1 the Raft library under it.";

/* The Raft log and snapshots live in DATA/raft. */
static void log_dir(char *out, size_t cap, const char *data_dir)
{
	snprintf(out, cap, "%s/raft", data_dir);
}

bool repl_log_exists(const char *data_dir)
{
	char dir[CFG_PATH_MAX + 16];
	struct stat sb;
	log_dir(dir, sizeof(dir), data_dir);
	return stat(dir, &sb) == 0;
}

static void fsm_applied(void *data, uint64_t index)
{
	struct repl *r = data;
	r->status_dirty = true;
	repl_ops_applied(r, index);
}

static void fsm_snapshot_taken(void *data)
{
	struct repl *r = data;
	r->snapshots.budget = false;
	r->snapshots.staggered = true;
	r->want_trim = true; /* raft frees the entries the snapshot covers after this returns */
	repl_snapshot_settings(r);
}

static void fsm_restored(void *data)
{
	struct repl *r = data;
	r->status_dirty = true;
}

int repl_init(struct repl **out, const struct repl_config *c)
{
	struct repl *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return PROTO_ENOMEM;
	}
	r->cfg = c->cfg;
	r->self = c->self;
	r->store = c->store;
	queue_init(&r->ops);
	struct repl_fsm_hooks hooks = {.data = r, .on_applied = fsm_applied, .on_snapshot = fsm_snapshot_taken,
	                               .on_restored = fsm_restored};
	repl_fsm_init(&r->fsm, c->store, &hooks);
	snprintf(r->request_url, sizeof(r->request_url), "%s", c->request_url);
	snprintf(r->status_url, sizeof(r->status_url), "%s", c->status_url);
	log_dir(r->raft_dir, sizeof(r->raft_dir), c->self->data);
	r->join = c->join;
	repl_trace_on = getenv("SHIPLOG_TRACE") != NULL;
	*out = r;
	return PROTO_OK;
}

void repl_free(struct repl *r)
{
	repl_fsm_close(&r->fsm);
	entryzip_buf_free(&r->zpack);
	free(r);
}

/* Refreshes the cached leader (id and name); true if it changed. */
static bool leader_refresh(struct repl *r)
{
	raft_id lid = 0;
	const char *addr = NULL;
	struct repl_member m;
	if (r->raft_started) {
		raft_leader(&r->raft, &lid, &addr);
	}
	if (lid == r->leader_id && (lid == 0 || r->leader_name[0] != '\0')) {
		return false;
	}
	r->leader_id = lid;
	if (lid != 0 && repl_member(r, lid, &m)) {
		snprintf(r->leader_name, sizeof(r->leader_name), "%s", m.name);
	} else {
		r->leader_name[0] = '\0';
	}
	return true;
}

const char *repl_leader_name(struct repl *r, raft_id *id)
{
	if (id != NULL) {
		*id = r->leader_id;
	}
	return r->leader_name;
}

bool repl_is_leader(struct repl *r)
{
	return r->raft_started && raft_state(&r->raft) == RAFT_LEADER;
}

/* "id:role:match:reachable:contact:applied:age;..." of the Raft
 * configuration. match and reachable are known on the leader only (0 and -1
 * elsewhere); contact is the ms since this node last heard the member (0
 * for itself, -1 never); applied and age (ms) are the member's applied index
 * as the leader's poll last saw it (contact.c; -1 -1 when not known). */
static void members_text(struct repl *r, char *out, size_t cap)
{
	size_t n = 0;
	bool leader = raft_state(&r->raft) == RAFT_LEADER;
	out[0] = '\0';
	for (unsigned i = 0; i < r->raft.configuration.n && n < cap; i++) {
		const struct raft_server *sv = &r->raft.configuration.servers[i];
		char role = sv->role == RAFT_VOTER ? 'v' : sv->role == RAFT_STANDBY ? 's' : 'p';
		unsigned long long match = 0;
		int reachable = -1;
		if (leader && sv->id == r->self->id) {
			match = raft_last_index(&r->raft);
			reachable = 1;
		} else if (leader && r->raft.leader_state.progress != NULL) {
			match = r->raft.leader_state.progress[i].match_index;
			reachable = r->raft.leader_state.progress[i].recent_recv;
		}
		uint64_t applied = 0;
		int64_t age = -1;
		bool known = repl_contact_applied(r, sv->id, &applied, &age);
		n += (size_t)snprintf(out + n, cap - n, "%s%llu:%c:%llu:%d:%lld:%lld:%lld", n ? ";" : "",
		                      (unsigned long long)sv->id, role, match, reachable,
		                      (long long)repl_contact_ago_ms(r, sv->id), known ? (long long)applied : -1LL,
		                      known ? (long long)age : -1LL);
	}
}

int repl_status_encode(struct repl *r, struct proto_buf *b)
{
	return repl_status_encode_removed(r, 0, b);
}

int repl_status_encode_removed(struct repl *r, uint64_t removed_id, struct proto_buf *b)
{
	struct proto_msg m = {.type = PROTO_MSG_STATUS};
	char members[PROTO_MAX_STR * 8]; /* the field's limit (protocol/tables.c) */
	struct proto_node_status *s = &m.u.status;
	raft_id lid;
	int st = raft_state(&r->raft);
	s->node_id = r->self->id;
	s->role = repl_removed(r)        ? PROTO_ROLE_REMOVED
	          : st == RAFT_LEADER      ? PROTO_ROLE_LEADER
	          : st == RAFT_CANDIDATE ? PROTO_ROLE_CANDIDATE
	          : st == RAFT_FOLLOWER  ? PROTO_ROLE_FOLLOWER
	                                 : PROTO_ROLE_UNAVAILABLE;
	s->ready = r->leader_ready;
	s->term = r->raft.current_term;
	s->commit = r->raft.commit_index;
	s->applied = raft_last_applied(&r->raft);
	s->leader_name = repl_leader_name(r, &lid);
	s->leader_id = lid;
	if (st == RAFT_LEADER) {
		s->last_contact_ms = 0;
	} else if (lid != 0) {
		raft_time now = r->io.time(&r->io);
		s->last_contact_ms = (int64_t)(now - r->raft.election_timer_start);
	} else {
		s->last_contact_ms = -1;
	}
	members_text(r, members, sizeof(members));
	s->members = members;
	s->removed_id = removed_id;
	return proto_msg_encode(&m, b);
}

static void publish_status(struct repl *r)
{
	struct proto_buf b;
	if (repl_status_encode(r, &b) == PROTO_OK) {
		bus_publish(r->pub, b.data, b.len);
		proto_buf_free(&b);
	}
	r->status_dirty = false;
	r->last_status_ms = uv_now(r->loop);
}

static void leader_barrier_cb(struct raft_barrier *req, int status)
{
	struct repl *r = req->data;
	r->leader_barrier_busy = false;
	if (status == 0 && raft_state(&r->raft) == RAFT_LEADER) {
		r->leader_ready = true;
		r->status_dirty = true;
		r->want_ready = true; /* seeding, deferred changes and reads: at the next loop turn */
		repl_tracef("leader ready at term %llu", (unsigned long long)r->raft.current_term);
	} else {
		r->was_leader = false; /* try again if we are still (or again) leader */
	}
}

static void unmap_data_file(void *st)
{
	store_unmap_pages(st);
}

/* Work raft callbacks asked for, run outside them: from the prepare handle
 * (after timers) and the check handle (after I/O), so within the same turn. */
static void run_wanted(struct repl *r)
{
	if (r->want_ready) {
		r->want_ready = false;
		if (raft_state(&r->raft) == RAFT_LEADER && r->leader_ready) {
			repl_seed_members(r);
			repl_deferred_run(r, false);
			r->want_barrier_kick = true;
		}
	}
	repl_read_confirm_check(r);
	if (r->want_barrier_kick) {
		r->want_barrier_kick = false;
		repl_barrier_kick(r);
	}
	if (r->want_flush) {
		r->want_flush = false;
		repl_ops_flush(r);
	}
	if (r->want_nudge) {
		r->want_nudge = false;
		repl_commit_nudge(r);
	}
	if (r->want_trim) {
		r->want_trim = false;
		memtrim_soon(&r->trim, r->loop); /* the log entries the snapshot covered are freed by now */
	}
	if (r->fsm.applied_since_unmap >= REPL_UNMAP_BYTES && r->fsm.snap == NULL && !r->stopping) {
		/* Writes touched pages all over the data file, as a snapshot's scan
		 * does; without a snapshot (compressed entries make them rare) they
		 * would stay in the resident set. */
		r->fsm.applied_since_unmap = 0;
		pool_job_soon(&r->unmap, r->loop, unmap_data_file, r->store);
	}
}

static void on_check(uv_check_t *h)
{
	struct repl *r = h->data;
	if (r->raft_started && !r->stopping) {
		run_wanted(r);
	}
}

/* Runs once per loop iteration: follows leadership changes. */
static void on_prepare(uv_prepare_t *h)
{
	struct repl *r = h->data;
	if (!r->raft_started || r->stopping) {
		return;
	}
	bool leader = raft_state(&r->raft) == RAFT_LEADER;
	if (raft_state(&r->raft) == RAFT_UNAVAILABLE && !r->unavailable_logged) {
		r->unavailable_logged = true; /* raft stops for good after an I/O or FSM error */
		log_error("raft", "node %s stopped replicating (raft unavailable): %s; restart it", r->self->name,
		        raft_errmsg(&r->raft));
	}
	run_wanted(r);
	if (leader && !r->was_leader && !r->leader_barrier_busy) {
		r->was_leader = true;
		repl_probe_fix_reset(&r->probefix);
		r->leader_ready = false;
		r->leader_barrier.data = r;
		if (raft_barrier(&r->raft, &r->leader_barrier, leader_barrier_cb) == 0) {
			r->leader_barrier_busy = true;
		} else {
			r->was_leader = false;
		}
		r->status_dirty = true;
	} else if (!leader && r->was_leader) {
		r->was_leader = false;
		r->leader_ready = false;
		r->status_dirty = true;
	}
	if (r->fsm.applies_this_turn > 0) {
		r->m.apply_batch.scale = 1000; /* entries: buckets 0.25 .. 10000 */
		metrics_observe(&r->m.apply_batch, (double)r->fsm.applies_this_turn);
		r->fsm.applies_this_turn = 0;
	}
	if (leader_refresh(r)) {
		raft_id lid = r->leader_id;
		r->m.leader_changes++;
		r->status_dirty = true;
		repl_tracef("leader is now %llu", (unsigned long long)lid);
		repl_ops_leader_changed(r, lid);
		repl_ops_tick(r); /* a leader appeared: retry parked requests now */
	}
	if (r->status_dirty) {
		publish_status(r);
	}
}

static void on_tick(uv_timer_t *h)
{
	struct repl *r = h->data;
	if (r->stopping) {
		return;
	}
	repl_ops_tick(r);
	repl_peers_reap(r);
	if (r->autopilot.deferred != NULL) {
		repl_deferred_run(r, true);
	}
	repl_autopilot(r);
	repl_node_alerts(r);
	repl_autopilot_place(r); /* after the alerts: uses their silent_since */
	repl_contact_poll(r);
	if (r->raft_started) {
		repl_log_budget(r);
		repl_probe_fix(&r->probefix, &r->raft, r->self->id);
	}
	if (uv_now(r->loop) - r->last_status_ms >= REPL_STATUS_EVERY_MS) {
		publish_status(r);
	}
}

static int bootstrap_if_new(struct repl *r)
{
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (size_t i = 0; i < r->cfg->n_nodes; i++) {
		const struct cfg_node *n = &r->cfg->nodes[i];
		if (raft_configuration_add(&conf, n->id, n->raft, RAFT_VOTER) != 0) {
			raft_configuration_close(&conf);
			return PROTO_ENOMEM;
		}
	}
	int rv = raft_bootstrap(&r->raft, &conf);
	raft_configuration_close(&conf);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		log_error("raft", "bootstrap: %s", raft_errmsg(&r->raft));
		return PROTO_EIO;
	}
	return PROTO_OK;
}

int repl_start(void *self, uv_loop_t *loop)
{
	struct repl *r = self;
	char err[512];
	int rv;
	r->loop = loop;
	if (mkdir(r->raft_dir, 0755) != 0 && errno != EEXIST) {
		log_error("raft", "mkdir %s: %s", r->raft_dir, strerror(errno));
		return PROTO_EIO;
	}
	if (bus_pub_open(&r->pub, r->status_url) != 0) {
		log_error("raft", "cannot publish on %s", r->status_url);
		return PROTO_ECONNECT;
	}
	const char *urls[] = {r->request_url, r->self->rpc};
	if (bus_server_open(&r->server, loop, urls, 2, repl_on_request, r, err, sizeof(err)) != 0) {
		log_error("raft", "%s", err);
		return PROTO_ECONNECT;
	}
	if ((rv = raft_uv_tcp_init(&r->transport, loop)) != 0) {
		log_error("raft", "transport: %s", raft_strerror(rv));
		return PROTO_EIO;
	}
	repl_transport_nodelay(&r->transport);
	if (repl_check_open_segments(r->raft_dir) != 0 || repl_check_snapshots(r->raft_dir) != 0) {
		rv = PROTO_EIO;
		goto err_after_transport_init;
	}
	if (raft_uv_init(&r->io, loop, r->raft_dir, &r->transport) != 0) {
		log_error("raft", "io %s: %s", r->raft_dir, r->io.errmsg);
		rv = PROTO_EIO;
		goto err_after_transport_init;
	}
	repl_recv_guard_install(r);
	raft_uv_set_auto_recovery(&r->io, false);
	raft_uv_set_segment_size(&r->io, REPL_SEGMENT_SIZE);
	/* Snapshots reach raft_uv already LZ4-compressed (snapzip.h); its own
	 * compression stays on so that it keeps them so when it reads one back
	 * (it decompresses what it reads) and writes an installed one. 0.15.0
	 * hangs on a truncated LZ4 file: repl_check_snapshots refuses those. */
	raft_uv_set_snapshot_compression(&r->io, true);
	repl_io_async_work_init(r);
	r->fsm.raft = &r->raft;
	if (raft_init(&r->raft, &r->io, &r->fsm.raft_fsm, r->self->id, r->self->raft) != 0) {
		log_error("raft", "init: %s", raft_errmsg(&r->raft));
		rv = PROTO_EIO;
		goto err_after_io_init;
	}
	raft_set_election_timeout(&r->raft, r->cfg->election_timeout_ms);
	raft_set_heartbeat_timeout(&r->raft, r->cfg->heartbeat_ms);
	raft_set_pre_vote(&r->raft, true);
	repl_snapshot_settings(r);
	r->raft_inited = true; /* from here repl_stop's raft_close closes raft_uv and the transport */
	if (!r->join && (rv = bootstrap_if_new(r)) != PROTO_OK) {
		return rv;
	}
	if (raft_start(&r->raft) != 0) {
		log_error("raft", "start: %s", raft_errmsg(&r->raft));
		return PROTO_EIO;
	}
	r->raft_started = true;
	r->removed = repl_removed_marker(r, false);
	if (r->removed) {
		log_error("raft", "this node was removed from cluster %s: it serves reads only; wipe %s to join again",
		        r->cfg->cluster_name, r->self->data);
	}
	uv_prepare_init(loop, &r->prepare);
	r->prepare.data = r;
	uv_prepare_start(&r->prepare, on_prepare);
	uv_timer_init(loop, &r->tick);
	r->tick.data = r;
	uv_timer_start(&r->tick, on_tick, REPL_TICK_MS, REPL_TICK_MS);
	uv_check_init(loop, &r->check);
	r->check.data = r;
	uv_check_start(&r->check, on_check);
	r->handles_open = 3;
	log_info("raft", "node %s (id %llu) started at %s, last applied %llu", r->self->name,
	        (unsigned long long)r->self->id, r->self->raft, (unsigned long long)raft_last_applied(&r->raft));
	return PROTO_OK;

err_after_io_init:
	raft_uv_close(&r->io);
err_after_transport_init:
	raft_uv_tcp_close(&r->transport);
	ASSERT(rv != PROTO_OK);
	return rv;
}

static void on_raft_closed(struct raft *raft)
{
	struct repl *r = raft->data;
	raft_uv_close(&r->io);
	raft_uv_tcp_close(&r->transport);
}

void repl_raft_close(struct repl *r)
{
	if (r->snapshots.works != NULL) {
		r->snapshots.close_deferred = true; /* async_work_done closes it */
		return;
	}
	r->raft.data = r;
	raft_close(&r->raft, on_raft_closed); /* closes raft_uv and the transport too */
}

static void on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

void repl_stop(void *self)
{
	struct repl *r = self;
	r->stopping = true;
	r->fsm.refuse_snapshots = true; /* raft_close waits for no new snapshot */
	repl_ops_shutdown(r);
	repl_deferred_run(r, true);
	if (r->server != NULL) {
		bus_server_close(r->server);
		r->server = NULL;
	}
	repl_peers_close(r); /* ends a confirmation round still asking peers */
	free(r->reads.confirm);    /* a round no peer still had to answer */
	r->reads.confirm = NULL;
	if (r->pub != NULL) {
		bus_pub_close(r->pub);
		r->pub = NULL;
	}
	if (r->handles_open > 0) {
		uv_close((uv_handle_t *)&r->prepare, on_handle_closed);
		uv_close((uv_handle_t *)&r->tick, on_handle_closed);
		uv_close((uv_handle_t *)&r->check, on_handle_closed);
		r->handles_open = 0;
	}
	if (r->raft_inited) {
		repl_async_work_cancel(r);
		repl_raft_close(r);
	}
}
