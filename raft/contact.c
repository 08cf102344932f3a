/* Measured contact with the members (contact.h): every Raft message received
 * is noted by the receive guard; the leader polls each member's own status
 * (a STATUS_QUERY answered locally, hops 1) for its applied index. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

static struct repl_contact *slot(struct repl *r, uint64_t id, bool create)
{
	struct repl_contacts *c = &r->contacts;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->v[i].id == id) {
			return &c->v[i];
		}
	}
	if (!create || c->n == REPL_MAX_PEERS) {
		return NULL;
	}
	struct repl_contact *s = &c->v[c->n++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	return s;
}

void repl_contact_heard(struct repl *r, uint64_t id)
{
	struct repl_contact *s = slot(r, id, true);
	if (s != NULL) {
		s->heard_ms = uv_now(r->loop);
	}
}

int64_t repl_contact_ago_ms(struct repl *r, uint64_t id)
{
	struct repl_contact *s = slot(r, id, false);
	if (id == r->self->id) {
		return 0;
	}
	return s != NULL && s->heard_ms != 0 ? (int64_t)(uv_now(r->loop) - s->heard_ms) : -1;
}

bool repl_contact_applied(struct repl *r, uint64_t id, uint64_t *applied, int64_t *age_ms)
{
	if (id == r->self->id) {
		*applied = raft_last_applied(&r->raft);
		*age_ms = 0;
		return true;
	}
	struct repl_contact *s = slot(r, id, false);
	if (s == NULL || s->applied_at_ms == 0) {
		return false;
	}
	*applied = s->applied;
	*age_ms = (int64_t)(uv_now(r->loop) - s->applied_at_ms);
	return true;
}

struct poll {
	struct repl *r;
	uint64_t id;
};

static void polled(void *data, int status, const void *buf, size_t len)
{
	struct poll *p = data;
	struct repl *r = p->r;
	struct repl_contact *s = slot(r, p->id, false);
	struct proto_msg m;
	free(p);
	if (s == NULL) {
		return;
	}
	s->asking = false;
	if (status != PROTO_OK || proto_msg_decode(buf, len, &m) != PROTO_OK) {
		return;
	}
	if (m.type == PROTO_MSG_STATUS && m.u.status.node_id == s->id) {
		s->applied = m.u.status.applied;
		s->applied_at_ms = uv_now(r->loop);
	}
	proto_msg_free(&m);
}

void repl_contact_poll(struct repl *r)
{
	uint64_t now = uv_now(r->loop);
	if (!r->raft_started || raft_state(&r->raft) != RAFT_LEADER || r->stopping) {
		return;
	}
	struct proto_buf b = {0}; /* encoded once a member is due */
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		uint64_t id = r->raft.configuration.servers[i].id;
		struct repl_contact *s = id != r->self->id ? slot(r, id, true) : NULL;
		if (s == NULL || s->asking || now - s->asked_ms < REPL_CONTACT_POLL_MS) {
			continue;
		}
		struct proto_msg q = {.type = PROTO_MSG_STATUS_QUERY, .u.query_hops = 1};
		bus_client *peer = repl_peer(r, id);
		struct poll *p = peer != NULL ? malloc(sizeof(*p)) : NULL;
		if (p == NULL || (b.data == NULL && proto_msg_encode(&q, &b) != PROTO_OK)) {
			free(p);
			continue;
		}
		*p = (struct poll){r, id};
		s->asking = true;
		s->asked_ms = now;
		if (bus_call(peer, b.data, b.len, REPL_CONTACT_POLL_MS * 2, polled, p) != PROTO_OK) {
			s->asking = false;
			free(p);
		}
	}
	if (b.data != NULL) {
		proto_buf_free(&b);
	}
}
