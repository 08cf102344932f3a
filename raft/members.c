/* Who the other nodes are: names and addresses come from the MEMBERS table
 * of the store (replicated; the initial voters of cluster.toml are written
 * there by the first leader), falling back to cluster.toml itself. Bus
 * clients to peers are opened lazily and reopened if a peer's address changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"
#include "lib/log.h"

struct member_find {
	uint64_t id;
	struct repl_member *out;
	bool found;
};

static int member_match(void *data, const struct proto_member *m)
{
	struct member_find *f = data;
	if (m->id != f->id) {
		return 0;
	}
	f->out->id = m->id;
	snprintf(f->out->name, sizeof(f->out->name), "%s", m->name);
	snprintf(f->out->rpc, sizeof(f->out->rpc), "%s", m->rpc);
	snprintf(f->out->raft, sizeof(f->out->raft), "%s", m->raft);
	f->found = true;
	return 1;
}

bool repl_member(struct repl *r, uint64_t id, struct repl_member *out)
{
	struct store_read *rd;
	struct member_find f = {id, out, false};
	if (store_read_begin(r->store, &rd) == PROTO_OK) {
		store_members_each(rd, member_match, &f);
		store_read_end(rd);
	}
	if (f.found) {
		return true;
	}
	const struct cfg_node *n = cfg_find_node_id(r->cfg, id);
	if (n == NULL) {
		return false;
	}
	out->id = id;
	snprintf(out->name, sizeof(out->name), "%s", n->name);
	snprintf(out->rpc, sizeof(out->rpc), "%s", n->rpc);
	snprintf(out->raft, sizeof(out->raft), "%s", n->raft);
	return true;
}

bus_client *repl_peer(struct repl *r, uint64_t id)
{
	struct repl_member m;
	if (r->stopping || !repl_member(r, id, &m)) { /* stopping: the peers are closed */
		return NULL;
	}
	struct repl_peer *slot = NULL;
	for (size_t i = 0; i < r->peers.n; i++) {
		if (r->peers.v[i].id == id) {
			slot = &r->peers.v[i];
			break;
		}
	}
	if (slot != NULL && strcmp(slot->rpc, m.rpc) == 0) {
		return slot->client;
	}
	if (slot == NULL) {
		if (r->peers.n == REPL_MAX_PEERS) {
			return NULL;
		}
		slot = &r->peers.v[r->peers.n++];
		memset(slot, 0, sizeof(*slot));
		slot->id = id;
	}
	if (slot->client != NULL) {
		/* Its address changed. Closing here would run the old calls'
		 * callbacks inside our caller's (maybe a raft callback): the tick
		 * closes it. A second change before that waits for the tick too. */
		if (slot->retired != NULL) {
			return NULL; /* callers treat it as a peer not reachable yet */
		}
		slot->retired = slot->client;
		slot->client = NULL;
	}
	snprintf(slot->rpc, sizeof(slot->rpc), "%s", m.rpc);
	if (bus_client_open(&slot->client, r->loop, m.rpc) != PROTO_OK) {
		slot->client = NULL;
	}
	return slot->client;
}

void repl_peers_reap(struct repl *r)
{
	for (size_t i = 0; i < r->peers.n; i++) {
		if (r->peers.v[i].retired != NULL) {
			bus_client *cl = r->peers.v[i].retired;
			r->peers.v[i].retired = NULL;
			bus_client_close(cl);
		}
	}
}

void repl_peers_close(struct repl *r)
{
	repl_peers_reap(r);
	for (size_t i = 0; i < r->peers.n; i++) {
		if (r->peers.v[i].client != NULL) {
			bus_client *cl = r->peers.v[i].client;
			r->peers.v[i].client = NULL; /* its callbacks run inside the close */
			bus_client_close(cl);
		}
	}
	r->peers.n = 0;
}

struct seed {
	struct repl *r;
	uint64_t present[CFG_MAX_NODES];
	size_t n;
};

static int seen_member(void *data, const struct proto_member *m)
{
	struct seed *s = data;
	if (s->n < CFG_MAX_NODES) {
		s->present[s->n++] = m->id;
	}
	return 0;
}

void repl_seed_members(struct repl *r)
{
	struct store_read *rd;
	struct seed s = {.r = r};
	if (store_read_begin(r->store, &rd) != PROTO_OK) {
		return;
	}
	store_members_each(rd, seen_member, &s);
	store_read_end(rd);
	for (size_t i = 0; i < r->cfg->n_nodes; i++) {
		const struct cfg_node *n = &r->cfg->nodes[i];
		bool known = false, configured = false;
		for (size_t k = 0; k < s.n; k++) {
			known = known || s.present[k] == n->id;
		}
		for (unsigned k = 0; k < r->raft.configuration.n; k++) {
			configured = configured || r->raft.configuration.servers[k].id == n->id;
		}
		if (known || !configured) {
			continue; /* recorded already, or removed from the cluster since */
		}
		char idem[64];
		snprintf(idem, sizeof(idem), "member:%llu:seed", (unsigned long long)n->id);
		struct proto_cmd cmd = {.type = PROTO_CMD_MEMBER_PUT, .ts_ms = 0, .idem_key = idem};
		cmd.u.member = (struct proto_member){n->id, n->name, n->region, n->raft, n->rpc, n->http};
		repl_propose_internal(r, &cmd);
	}
}

bool repl_removed(struct repl *r)
{
	if (r->removed) {
		return true;
	}
	if (r->raft.configuration.n == 0) {
		return false; /* joining: not configured yet */
	}
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		if (r->raft.configuration.servers[i].id == r->self->id) {
			return false;
		}
	}
	return true;
}

bool repl_removed_marker(struct repl *r, bool create)
{
	char path[CFG_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/removed", r->self->data);
	if (!create) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			fclose(f);
		}
		return f != NULL;
	}
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "removed from cluster %s\n", r->cfg->cluster_name);
		fclose(f);
	}
	return true;
}

static void notice_sent(void *data, int status, const void *buf, size_t len)
{
	(void)data;
	(void)status;
	(void)buf;
	(void)len;
}

void repl_notify_removed(struct repl *r, uint64_t id)
{
	struct proto_buf b;
	bus_client *peer = repl_peer(r, id);
	if (peer != NULL && repl_status_encode_removed(r, id, &b) == PROTO_OK) {
		bus_call(peer, b.data, b.len, 1000, notice_sent, NULL); /* best effort */
		proto_buf_free(&b);
	}
}

void repl_on_removed_notice(struct repl *r, bus_request *req, const struct proto_node_status *leader)
{
	bool listed = false;
	for (const char *p = leader->members; p != NULL && *p != '\0' && !listed;) {
		listed = strtoull(p, NULL, 10) == r->self->id;
		p = strchr(p, ';');
		p = p != NULL ? p + 1 : NULL;
	}
	/* The notice names the removed id: a node that rejoined at the same
	 * address under a new id is not the one removed (found by tests/jepsen,
	 * corrupt nemesis: the rejoined node marked itself removed). */
	if (!listed && leader->removed_id == r->self->id && leader->role == PROTO_ROLE_LEADER && !r->removed) {
		r->removed = repl_removed_marker(r, true);
		r->status_dirty = true;
		log_error("raft", "node %s was removed from the cluster by %s; it serves reads only", r->self->name,
		        leader->leader_name);
	}
	struct proto_buf b;
	if (repl_status_encode(r, &b) == PROTO_OK) {
		bus_reply(req, b.data, b.len);
		proto_buf_free(&b);
	}
}
