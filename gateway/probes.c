/* Probes, the Kubernetes way: GET /livez (the process answers), GET /readyz
 * (this node can serve writes and linearizable reads now), and the seed's
 * GET /health, 503 "unhealthy" whenever /readyz would fail. Readiness is
 * judged from the raft actor's last status (gw->status). */
#include <inttypes.h>
#include <stdio.h>

#include "gateway/internal.h"

static const char *role_name(uint32_t role)
{
	switch (role) {
	case PROTO_ROLE_LEADER: return "leader";
	case PROTO_ROLE_CANDIDATE: return "candidate";
	case PROTO_ROLE_FOLLOWER: return "follower";
	default: return "unavailable";
	}
}

bool gw_ready(struct gw *g, char *why, size_t cap)
{
	const struct gw_status *s = &g->status;
	uint64_t silent = s->known ? uv_now(g->loop) - s->received_ms : 0;
	int64_t contact = gw_last_contact(g);
	unsigned limit = g->cfg->ready_leader_silence_ms;
	if (!s->known) {
		snprintf(why, cap, "the raft actor has not reported its status yet");
	} else if (silent > limit) {
		snprintf(why, cap, "the raft actor has not reported for %" PRIu64 " ms", silent);
	} else if (s->removed) {
		snprintf(why, cap, "this node was removed from the cluster");
	} else if (s->role == PROTO_ROLE_UNAVAILABLE || s->role == PROTO_ROLE_REMOVED) {
		snprintf(why, cap, "raft is unavailable on this node (stopped after an error; see its log)");
	} else if (s->leader[0] == '\0' || contact < 0) {
		snprintf(why, cap, "no leader (%s, term %" PRIu64 ")", role_name(s->role), s->term);
	} else if (contact > (int64_t)limit) {
		snprintf(why, cap, "the leader %s was last heard %" PRId64 " ms ago (limit %u ms)", s->leader, contact, limit);
	} else if (s->role == PROTO_ROLE_LEADER && !s->ready) {
		snprintf(why, cap, "newly elected leader: this term's first entry is not applied yet");
	} else if (s->commit > s->applied && s->commit - s->applied > g->cfg->ready_max_apply_lag) {
		snprintf(why, cap, "applied index %" PRIu64 " lags the commit index %" PRIu64 " by more than %u entries",
		         s->applied, s->commit, g->cfg->ready_max_apply_lag);
	} else {
		why[0] = '\0';
		return true;
	}
	return false;
}

void gw_h_livez(struct gw_req *gr)
{
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "status", "alive", "node", gr->gw->self->name));
}

void gw_h_readyz(struct gw_req *gr)
{
	char why[256];
	bool ok = gw_ready(gr->gw, why, sizeof(why));
	gw_respond_json(gr, ok ? 200 : 503,
	                ok ? json_pack("{s:s,s:s}", "status", "ready", "node", gr->gw->self->name)
	                   : json_pack("{s:s,s:s,s:s}", "status", "not ready", "node", gr->gw->self->name, "reason", why));
}

void gw_h_health(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	struct store_read *rd;
	char why[256];
	if (store_read_begin(g->store, &rd) != PROTO_OK) {
		gw_respond_json(gr, 503, json_pack("{s:s,s:s,s:s,s:o,s:s}", "status", "unhealthy", "reason",
		                                   "cannot open a read transaction", "database_error",
		                                   "cannot open a read transaction", "timestamp", gw_json_time(wall_now_ms()),
		                                   "version", SHIPLOG_VERSION));
		return;
	}
	uint64_t applied = store_read_index(rd);
	store_read_end(rd);
	gr->index = applied;
	bool ok = gw_ready(g, why, sizeof(why));
	json_t *body = json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:I,s:I,s:I,s:s,s:I}}", "status", ok ? "healthy" : "unhealthy",
	                         "timestamp", gw_json_time(wall_now_ms()), "version", SHIPLOG_VERSION, "node",
	                         g->self->name, "raft", "state", g->status.removed ? "removed" : role_name(g->status.role),
	                         "term", (json_int_t)g->status.term, "commit_index", (json_int_t)g->status.commit,
	                         "applied_index", (json_int_t)applied, "leader", g->status.leader, "last_contact_ms",
	                         (json_int_t)gw_last_contact(g));
	if (!ok) {
		json_object_set_new(body, "reason", json_string(why));
	}
	gw_respond_json(gr, ok ? 200 : 503, body);
}
