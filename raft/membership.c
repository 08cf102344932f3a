/* Membership and leadership, at the leader: add (as spare, then the role
 * asked; raft_assign catches a new voter up before promoting it), remove
 * (moving leadership away first when the leader itself goes), assign, and
 * transfer. The MEMBERS table gets the node's name and addresses through
 * Raft too. Followers forward these requests once to the leader and relay
 * its answer. Also: the status query behind GET /api/v1/cluster, and the
 * autopilot (leader only): it removes long unreachable members and spreads
 * voters over regions (placement.h decides, one step per tick). */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"
#include "raft/placement.h"
#include "raft/translate.h"
#include "lib/log.h"

struct mchange {
	struct repl *r;
	bus_request *req;
	struct raft_change change;
	struct raft_transfer transfer;
	uint32_t op;
	uint64_t id;
	int role; /* RAFT_VOTER / RAFT_STANDBY / RAFT_SPARE */
	struct proto_msg fwd; /* the request, kept to forward it after a transfer */
	struct proto_buf raw; /* its encoding */
};

static void reply(struct repl *r, bus_request *req, int status, const char *message)
{
	struct proto_msg m = {.type = PROTO_MSG_REPLY};
	struct proto_buf b;
	m.u.reply.status = status;
	m.u.reply.index = raft_last_applied(&r->raft);
	m.u.reply.leader = repl_leader_name(r, NULL);
	m.u.reply.message = message != NULL ? message : "";
	if (!r->stopping && proto_msg_encode(&m, &b) == PROTO_OK) {
		bus_reply(req, b.data, b.len);
		proto_buf_free(&b);
	}
}

static void mchange_done(struct mchange *c, int status, const char *message)
{
	reply(c->r, c->req, status, message);
	proto_buf_free(&c->raw);
	free(c);
}

/* ---- forwarding to the leader ---- */

struct relay {
	struct repl *r;
	bus_request *req;
	bool status_query;
};

static void relay_cb(void *data, int status, const void *buf, size_t len)
{
	struct relay *rl = data;
	if (rl->r->stopping) {
		free(rl);
		return;
	}
	if (status == PROTO_OK) {
		bus_reply(rl->req, buf, len);
	} else if (rl->status_query) {
		struct proto_buf b;
		if (repl_status_encode(rl->r, &b) == PROTO_OK) {
			bus_reply(rl->req, b.data, b.len);
			proto_buf_free(&b);
		}
	} else {
		/* Once sent, it may have been carried out: only a leader never reached is a "no". */
		bool sent = status == PROTO_ETIMEOUT || status == PROTO_ESHUTDOWN;
		reply(rl->r, rl->req, sent ? PROTO_EUNKNOWN : PROTO_ENOLEADER, "the leader did not answer");
	}
	free(rl);
}

/* Sends m to the leader; false if there is no leader to send to. */
static bool relay_to_leader(struct repl *r, bus_request *req, const struct proto_msg *m, unsigned timeout,
                            bool status_query)
{
	raft_id leader = 0;
	const char *addr;
	raft_leader(&r->raft, &leader, &addr); /* not the cached one: called from raft callbacks too */
	bus_client *peer = leader != 0 && leader != r->self->id ? repl_peer(r, leader) : NULL;
	struct proto_buf b;
	if (peer == NULL || proto_msg_encode(m, &b) != PROTO_OK) {
		return false;
	}
	struct relay *rl = malloc(sizeof(*rl));
	if (rl == NULL) {
		proto_buf_free(&b);
		return false;
	}
	*rl = (struct relay){r, req, status_query};
	int rv = bus_call(peer, b.data, b.len, timeout, relay_cb, rl);
	proto_buf_free(&b);
	if (rv != PROTO_OK) {
		free(rl);
		return false;
	}
	return true;
}

void repl_on_status_query(struct repl *r, bus_request *req, uint32_t hops)
{
	if (hops == 0 && raft_state(&r->raft) != RAFT_LEADER) {
		struct proto_msg q = {.type = PROTO_MSG_STATUS_QUERY, .u.query_hops = 1};
		if (relay_to_leader(r, req, &q, 1000, true)) {
			return;
		}
	}
	struct proto_buf b;
	if (repl_status_encode(r, &b) == PROTO_OK) {
		bus_reply(req, b.data, b.len);
		proto_buf_free(&b);
	}
}

/* ---- at the leader ---- */

static int config_index(struct repl *r, uint64_t id)
{
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		if (r->raft.configuration.servers[i].id == id) {
			return (int)i;
		}
	}
	return -1;
}

static int voters(struct repl *r)
{
	int n = 0;
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		n += r->raft.configuration.servers[i].role == RAFT_VOTER;
	}
	return n;
}

static void assigned_cb(struct raft_change *req, int status)
{
	struct mchange *c = req->data;
	mchange_done(c, repl_change_status(status), status == 0 ? NULL : repl_change_error(status));
}

static void assign(struct mchange *c)
{
	c->change.data = c;
	int rv = raft_assign(&c->r->raft, &c->change, c->id, c->role, assigned_cb);
	if (rv == RAFT_BADROLE) {
		mchange_done(c, PROTO_OK, NULL); /* it has that role already */
	} else if (rv != 0) {
		mchange_done(c, repl_change_status(rv), repl_change_error(rv));
	}
}

static void added_cb(struct raft_change *req, int status)
{
	struct mchange *c = req->data;
	if (status != 0) {
		mchange_done(c, repl_change_status(status), repl_change_error(status));
	} else if (c->role == RAFT_SPARE) {
		mchange_done(c, PROTO_OK, NULL);
	} else {
		assign(c); /* a voter is caught up by raft before it is promoted */
	}
}

struct clash {
	const struct proto_member *m;
	char why[160];
};

static int member_clash(void *data, const struct proto_member *m)
{
	struct clash *c = data;
	if (m->id == c->m->id) {
		return 0;
	}
	if (strcmp(m->name, c->m->name) == 0 || strcmp(m->raft, c->m->raft) == 0 || strcmp(m->rpc, c->m->rpc) == 0 ||
	    strcmp(m->http, c->m->http) == 0) {
		snprintf(c->why, sizeof(c->why), "name or address already used by node %llu", (unsigned long long)m->id);
		return 1;
	}
	return 0;
}

static uint64_t next_id(struct repl *r)
{
	uint64_t max = 0;
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		if (r->raft.configuration.servers[i].id > max) {
			max = r->raft.configuration.servers[i].id;
		}
	}
	return max + 1;
}

static void member_add(struct mchange *c, const struct proto_member_change *mc)
{
	struct repl *r = c->r;
	struct proto_member m = mc->m;
	if (strcmp(mc->cluster, "") != 0 && strcmp(mc->cluster, r->cfg->cluster_name) != 0) {
		mchange_done(c, PROTO_EINVAL, "the node belongs to another cluster (cluster names differ)");
		return;
	}
	if (m.id == 0) {
		m.id = next_id(r);
	}
	c->id = m.id;
	int at = config_index(r, m.id);
	if (at >= 0 && strcmp(r->raft.configuration.servers[at].address, m.raft) != 0) {
		mchange_done(c, PROTO_ECONFLICT, "this id belongs to another node");
		return;
	}
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		if (r->raft.configuration.servers[i].id != m.id && strcmp(r->raft.configuration.servers[i].address, m.raft) == 0) {
			mchange_done(c, PROTO_ECONFLICT, "this Raft address is already in use");
			return;
		}
	}
	struct store_read *rd;
	struct clash cl = {.m = &m};
	if (store_read_begin(r->store, &rd) == PROTO_OK) {
		store_members_each(rd, member_clash, &cl);
		store_read_end(rd);
	}
	if (cl.why[0] != '\0') {
		mchange_done(c, PROTO_ECONFLICT, cl.why);
		return;
	}
	char idem[PROTO_MAX_STR + 64];
	snprintf(idem, sizeof(idem), "member:%llu:%s", (unsigned long long)m.id, m.raft);
	struct proto_cmd cmd = {.type = PROTO_CMD_MEMBER_PUT, .idem_key = idem};
	cmd.u.member = m;
	if (repl_propose_internal(r, &cmd) != PROTO_OK) {
		mchange_done(c, PROTO_ENOTLEADER, NULL);
		return;
	}
	if (at >= 0) {
		assign(c); /* joining twice is harmless: only the role may change */
		return;
	}
	c->change.data = c;
	int rv = raft_add(&r->raft, &c->change, m.id, m.raft, added_cb);
	if (rv != 0) {
		mchange_done(c, repl_change_status(rv), repl_change_error(rv));
	}
}

static void removed_cb(struct raft_change *req, int status)
{
	struct mchange *c = req->data;
	if (status == 0) {
		char idem[64];
		repl_notify_removed(c->r, c->id); /* while its address is still known */
		snprintf(idem, sizeof(idem), "member:%llu:delete", (unsigned long long)c->id);
		struct proto_cmd cmd = {.type = PROTO_CMD_MEMBER_DELETE, .idem_key = idem, .u.member_id = c->id};
		repl_propose_internal(c->r, &cmd);
	}
	mchange_done(c, repl_change_status(status), status == 0 ? NULL : repl_change_error(status));
}

static void moved_away_cb(struct raft_transfer *req)
{
	struct mchange *c = req->data;
	struct repl *r = c->r;
	/* Leadership moved: the new leader removes us (this node). */
	c->fwd.u.member.hops = 1;
	if (r->stopping || !relay_to_leader(r, c->req, &c->fwd, 10000, false)) {
		mchange_done(c, PROTO_ENOLEADER, "leadership could not be moved away first");
		return;
	}
	proto_buf_free(&c->raw);
	free(c);
}

static void member_remove(struct mchange *c)
{
	struct repl *r = c->r;
	int at = config_index(r, c->id);
	if (at < 0) {
		mchange_done(c, PROTO_ENOTFOUND, "no such member");
		return;
	}
	if (r->raft.configuration.servers[at].role == RAFT_VOTER && voters(r) == 1) {
		mchange_done(c, PROTO_EINVAL, "cannot remove the last voter");
		return;
	}
	if (c->id == r->self->id) {
		c->transfer.data = c;
		int rv = raft_transfer(&r->raft, &c->transfer, 0, moved_away_cb);
		if (rv != 0) {
			mchange_done(c, PROTO_ECONFLICT, raft_strerror(rv));
		}
		return;
	}
	c->change.data = c;
	int rv = raft_remove(&r->raft, &c->change, c->id, removed_cb);
	if (rv != 0) {
		mchange_done(c, repl_change_status(rv), repl_change_error(rv));
	}
}

static void transferred_cb(struct raft_transfer *req)
{
	struct mchange *c = req->data;
	raft_id lid = 0;
	const char *addr;
	raft_leader(&c->r->raft, &lid, &addr);
	bool ok = lid != 0 && lid != c->r->self->id && (c->id == 0 || lid == c->id);
	/* Nothing is left half done: leadership simply stayed here. */
	mchange_done(c, ok ? PROTO_OK : PROTO_EBUSY, ok ? NULL : "leadership did not move in time (the target was not caught up); retry");
}

static void transfer(struct mchange *c)
{
	struct repl *r = c->r;
	if (c->id == r->self->id) {
		mchange_done(c, PROTO_OK, NULL); /* already the leader */
		return;
	}
	if (c->id != 0 && config_index(r, c->id) < 0) {
		mchange_done(c, PROTO_ENOTFOUND, "no such member");
		return;
	}
	c->transfer.data = c;
	int rv = raft_transfer(&r->raft, &c->transfer, c->id, transferred_cb);
	if (rv != 0) {
		mchange_done(c, PROTO_EINVAL, rv == RAFT_BADID ? "the target is not a voter" : raft_strerror(rv));
	}
}

static int role_of(uint32_t role)
{
	return role == 0 ? RAFT_VOTER : role == 1 ? RAFT_STANDBY : RAFT_SPARE;
}

void repl_on_member_change(struct repl *r, bus_request *req, const struct proto_member_change *mc)
{
	if (raft_state(&r->raft) != RAFT_LEADER || !r->leader_ready) {
		struct proto_msg f = {.type = PROTO_MSG_MEMBER_CHANGE, .u.member = *mc};
		f.u.member.hops = mc->hops + 1;
		if (mc->hops > 0 || !relay_to_leader(r, req, &f, mc->timeout_ms ? mc->timeout_ms : 30000, false)) {
			reply(r, req, mc->hops > 0 ? PROTO_ENOTLEADER : PROTO_ENOLEADER, "no leader to change the membership");
		}
		return;
	}
	struct mchange *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		reply(r, req, PROTO_ENOMEM, NULL);
		return;
	}
	c->r = r;
	c->req = req;
	c->op = mc->op;
	c->id = mc->m.id;
	c->role = role_of(mc->role);
	if (mc->op == PROTO_MEMBER_ADD && c->role == RAFT_VOTER && r->cfg->max_voters > 0 &&
	    config_index(r, mc->m.id) < 0 && voters(r) >= (int)r->cfg->max_voters) {
		c->role = RAFT_STANDBY; /* autopilot: enough voters; it replicates without voting */
	}
	c->fwd.type = PROTO_MSG_MEMBER_CHANGE;
	c->fwd.u.member = *mc; /* strings are not needed again: REMOVE only uses the id */
	c->fwd.u.member.m.name = c->fwd.u.member.m.region = c->fwd.u.member.m.raft = "";
	c->fwd.u.member.m.rpc = c->fwd.u.member.m.http = c->fwd.u.member.cluster = "";
	switch (mc->op) {
	case PROTO_MEMBER_ADD: member_add(c, mc); break;
	case PROTO_MEMBER_REMOVE: member_remove(c); break;
	case PROTO_MEMBER_ASSIGN:
		if (config_index(r, c->id) < 0) {
			mchange_done(c, PROTO_ENOTFOUND, "no such member");
		} else {
			assign(c);
		}
		break;
	default: transfer(c); break;
	}
}

void repl_defer_change(struct repl *r, bus_request *req, const void *buf, size_t len)
{
	struct deferred_change *d = malloc(sizeof(*d) + len);
	if (d == NULL) {
		reply(r, req, PROTO_ENOMEM, NULL);
		return;
	}
	d->req = req;
	d->deadline = uv_now(r->loop) + 5000;
	d->len = len;
	memcpy(d->msg, buf, len);
	d->next = r->autopilot.deferred;
	r->autopilot.deferred = d;
}

void repl_deferred_run(struct repl *r, bool expire_only)
{
	struct deferred_change **pp = &r->autopilot.deferred;
	uint64_t now = uv_now(r->loop);
	bool leader = raft_state(&r->raft) == RAFT_LEADER;
	while (*pp != NULL) {
		struct deferred_change *d = *pp;
		bool ready = !expire_only && leader && r->leader_ready;
		if (!ready && leader && now < d->deadline && !r->stopping) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		struct proto_msg m;
		if (ready && proto_msg_decode(d->msg, d->len, &m) == PROTO_OK) {
			repl_on_member_change(r, d->req, &m.u.member);
			proto_msg_free(&m);
		} else if (!r->stopping) {
			reply(r, d->req, leader ? PROTO_ENOLEADER : PROTO_ENOTLEADER, "leadership changed; retry");
		}
		free(d);
	}
}

/* ---- autopilot: remove nodes unreachable for too long (leader only) ---- */

static void autopilot_removed_cb(struct raft_change *req, int status)
{
	struct mchange *c = req->data;
	if (status == 0) {
		char idem[64];
		repl_notify_removed(c->r, c->id);
		snprintf(idem, sizeof(idem), "member:%llu:delete", (unsigned long long)c->id);
		struct proto_cmd cmd = {.type = PROTO_CMD_MEMBER_DELETE, .idem_key = idem, .u.member_id = c->id};
		repl_propose_internal(c->r, &cmd);
		log_warn("autopilot", "removed node %llu, unreachable for too long", (unsigned long long)c->id);
	}
	c->r->autopilot.busy = false;
	free(c);
}

/* Raises or resolves the "node unreachable" alert of server i (leader only;
 * only on a change, kept in node_alerted). */
static void node_alert(struct repl *r, unsigned i, bool unreachable)
{
	const struct raft_server *sv = &r->raft.configuration.servers[i];
	if (i >= REPL_MAX_PEERS || r->autopilot.node_alerted[i] == unreachable) {
		return;
	}
	struct repl_member m;
	char id[64], idem[128], msg[CFG_NAME_MAX + 96];
	bool known = repl_member(r, sv->id, &m);
	snprintf(id, sizeof(id), "node:%llu", (unsigned long long)sv->id);
	snprintf(idem, sizeof(idem), "%s:%s:%llu", id, unreachable ? "raise" : "resolve", (unsigned long long)uv_now(r->loop));
	snprintf(msg, sizeof(msg), "node %s (id %llu) does not answer the leader", known ? m.name : "?",
	         (unsigned long long)sv->id);
	struct proto_cmd cmd = {.type = PROTO_CMD_ALERT, .idem_key = idem, .ts_ms = (int64_t)time(NULL) * 1000};
	cmd.u.alert = (struct proto_alert){id, unreachable ? "raise" : "resolve", "node_unreachable",
	                                   unreachable ? "critical" : "", unreachable ? msg : "", "", ""};
	if (repl_propose_internal(r, &cmd) == PROTO_OK) {
		r->autopilot.node_alerted[i] = unreachable;
	}
}

/* Node alerts: a member silent for three election timeouts is unreachable. */
void repl_node_alerts(struct repl *r)
{
	uint64_t now = uv_now(r->loop);
	if (raft_state(&r->raft) != RAFT_LEADER || !r->leader_ready || r->raft.leader_state.progress == NULL) {
		memset(r->autopilot.silent_since, 0, sizeof(r->autopilot.silent_since));
		memset(r->autopilot.node_alerted, 0, sizeof(r->autopilot.node_alerted));
		return;
	}
	for (unsigned i = 0; i < r->raft.configuration.n && i < REPL_MAX_PEERS; i++) {
		if (r->raft.configuration.servers[i].id == r->self->id || r->raft.leader_state.progress[i].recent_recv) {
			r->autopilot.silent_since[i] = 0;
			node_alert(r, i, false);
			continue;
		}
		if (r->autopilot.silent_since[i] == 0) {
			r->autopilot.silent_since[i] = now;
		}
		if (now - r->autopilot.silent_since[i] >= 3 * (uint64_t)r->cfg->election_timeout_ms) {
			node_alert(r, i, true);
		}
	}
}

void repl_autopilot(struct repl *r)
{
	uint64_t now = uv_now(r->loop);
	if (r->cfg->remove_unreachable_ms == 0 || raft_state(&r->raft) != RAFT_LEADER || !r->leader_ready ||
	    r->raft.leader_state.progress == NULL) {
		memset(r->autopilot.unreachable_since, 0, sizeof(r->autopilot.unreachable_since));
		return;
	}
	for (unsigned i = 0; i < r->raft.configuration.n && i < REPL_MAX_PEERS; i++) {
		const struct raft_server *sv = &r->raft.configuration.servers[i];
		if (sv->id == r->self->id || r->raft.leader_state.progress[i].recent_recv) {
			r->autopilot.unreachable_since[i] = 0;
			continue;
		}
		if (r->autopilot.unreachable_since[i] == 0) {
			r->autopilot.unreachable_since[i] = now;
			continue;
		}
		bool last_voter = sv->role == RAFT_VOTER && voters(r) <= 2;
		if (now - r->autopilot.unreachable_since[i] < r->cfg->remove_unreachable_ms || r->autopilot.busy || last_voter) {
			continue;
		}
		struct mchange *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			return;
		}
		c->r = r;
		c->id = sv->id;
		c->change.data = c;
		r->autopilot.busy = true;
		memset(r->autopilot.unreachable_since, 0, sizeof(r->autopilot.unreachable_since)); /* indexes shift after a removal */
		if (raft_remove(&r->raft, &c->change, sv->id, autopilot_removed_cb) != 0) {
			r->autopilot.busy = false;
			free(c);
		}
		return;
	}
}

/* ---- autopilot: spread voters over regions (leader only) ---- */

/* A standby at most this many entries behind counts as caught up:
 * raft_assign replicates the rest before it promotes. */
#define REPL_PLACE_MAX_LAG 256

struct place_regions {
	struct repl_place_member *m;
	size_t n;
	char (*region)[CFG_NAME_MAX]; /* one per member, filled from MEMBERS */
};

static int place_region_found(void *data, const struct proto_member *pm)
{
	struct place_regions *pr = data;
	for (size_t i = 0; i < pr->n; i++) {
		if (pr->m[i].id == pm->id) {
			snprintf(pr->region[i], CFG_NAME_MAX, "%s", pm->region);
		}
	}
	return 0;
}

static void autopilot_assigned_cb(struct raft_change *req, int status)
{
	struct mchange *c = req->data;
	if (status == 0) {
		log_info("autopilot", "node %llu is now a %s, to spread voters over regions",
		        (unsigned long long)c->id, c->role == RAFT_VOTER ? "voter" : "standby");
	}
	c->r->autopilot.busy = false; /* no raft call here: the next tick takes the next step */
	free(c);
}

/* The configuration as placement input; regions from MEMBERS, else cluster.toml. */
static size_t place_members(struct repl *r, struct repl_place_member *m, char (*region)[CFG_NAME_MAX])
{
	uint64_t now = uv_now(r->loop), silent_max = 3 * (uint64_t)r->cfg->election_timeout_ms;
	raft_index last = raft_last_index(&r->raft);
	size_t n = 0;
	for (unsigned i = 0; i < r->raft.configuration.n && i < REPL_MAX_PEERS; i++, n++) {
		const struct raft_server *sv = &r->raft.configuration.servers[i];
		const struct raft_progress *p = &r->raft.leader_state.progress[i];
		const struct cfg_node *cn = cfg_find_node_id(r->cfg, sv->id);
		bool self = sv->id == r->self->id;
		snprintf(region[i], CFG_NAME_MAX, "%s", cn != NULL ? cn->region : "");
		/* reachable as for the node alert (debounced); caught up: answering right now */
		m[i] = (struct repl_place_member){sv->id, sv->role, region[i],
		                                  self || r->autopilot.silent_since[i] == 0 || now - r->autopilot.silent_since[i] < silent_max,
		                                  self || (p->recent_recv && p->match_index + REPL_PLACE_MAX_LAG >= last)};
	}
	struct store_read *rd;
	struct place_regions pr = {m, n, region};
	if (store_read_begin(r->store, &rd) == PROTO_OK) {
		store_members_each(rd, place_region_found, &pr);
		store_read_end(rd);
	}
	return n;
}

void repl_autopilot_place(struct repl *r)
{
	struct repl_place_member m[REPL_MAX_PEERS];
	char region[REPL_MAX_PEERS][CFG_NAME_MAX];
	if (!r->cfg->spread_regions || r->cfg->max_voters == 0 || r->autopilot.busy ||
	    raft_state(&r->raft) != RAFT_LEADER || !r->leader_ready || r->raft.leader_state.progress == NULL) {
		return;
	}
	size_t n = place_members(r, m, region);
	struct repl_place_step step = repl_place_next(m, n, r->cfg->max_voters, r->self->id);
	if (step.action == REPL_PLACE_NONE) {
		return;
	}
	struct mchange *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return;
	}
	c->r = r;
	c->id = step.id;
	c->role = step.action == REPL_PLACE_PROMOTE ? RAFT_VOTER : RAFT_STANDBY;
	c->change.data = c;
	r->autopilot.busy = true;
	repl_tracef("autopilot: %s node %llu", step.action == REPL_PLACE_PROMOTE ? "promote" : "demote",
	            (unsigned long long)step.id);
	if (raft_assign(&r->raft, &c->change, c->id, c->role, autopilot_assigned_cb) != 0) {
		r->autopilot.busy = false; /* e.g. another change in progress: try again next tick */
		free(c);
	}
}
