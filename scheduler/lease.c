/* Leases: which node runs a duty. Nodes rank each duty by rendezvous
 * hashing; a free or expired lease is claimed first by the best-ranked node,
 * and by the next ones only after a further half lease period each, so a live
 * preferred node wins and a dead one is replaced within two lease periods. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "raft/propose.h"
#include "scheduler/duty.h"

static uint64_t fnv1a(const char *s, uint64_t salt)
{
	uint64_t h = 1469598103934665603ULL ^ (salt * 1099511628211ULL);
	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

unsigned scheduler_rank(const struct cfg *cfg, const char *duty, uint64_t node_id)
{
	uint64_t mine = fnv1a(duty, node_id);
	unsigned rank = 0;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		uint64_t other = fnv1a(duty, cfg->nodes[i].id);
		if (other > mine || (other == mine && cfg->nodes[i].id < node_id)) {
			rank++;
		}
	}
	return rank;
}

struct duty_ref *duty_ref_new(struct scheduler *s, const struct duty *d)
{
	struct duty_ref *r = malloc(sizeof(*r));
	if (r != NULL) {
		r->s = s;
		r->kind = d->kind;
		snprintf(r->key, sizeof(r->key), "%s", d->key);
	}
	return r;
}

struct duty *duty_ref_find(const struct duty_ref *ref)
{
	return ref->s->stopping ? NULL : duty_find(ref->s, ref->kind, ref->key);
}

static void lease_done(void *data, int status, const struct proto_result *res)
{
	struct duty_ref *ref = data;
	struct duty *d = duty_ref_find(ref);
	if (d != NULL) {
		d->lease_pending = false;
		d->held = status == PROTO_OK && res->code == PROTO_OK;
	}
	free(ref);
}

static void propose_lease(struct scheduler *s, struct duty *d)
{
	char name[PROTO_MAX_STR + 16], idem[PROTO_MAX_STR + 64];
	struct duty_ref *ref = duty_ref_new(s, d);
	if (ref == NULL) {
		return;
	}
	snprintf(name, sizeof(name), "%s", d->lease);
	snprintf(idem, sizeof(idem), "lease:%s:%" PRIu64 ":%" PRIu64, d->key, s->self->id, ++s->seq);
	struct proto_cmd cmd = {.type = PROTO_CMD_LEASE, .idem_key = idem};
	cmd.u.lease = (struct proto_lease){name, s->self->id, s->cfg->lease_ms};
	d->lease_pending = true;
	if (repl_propose(s->raft, &cmd, s->cfg->lease_ms / 2, lease_done, ref) != PROTO_OK) {
		d->lease_pending = false;
		free(ref);
	}
}

void duty_lease_step(struct tick *t, struct duty *d)
{
	struct scheduler *s = t->s;
	struct store_lease l;
	bool exists = store_lease_get(t->rd, d->lease, &l) == PROTO_OK;
	bool live = exists && l.expires_ms > t->now;
	d->held = live && l.holder == s->self->id;
	if (d->lease_pending) {
		return;
	}
	if (d->held) {
		d->free_since = 0;
		if (l.expires_ms - t->now < (int64_t)s->cfg->lease_ms / 2) {
			propose_lease(s, d); /* renew */
		}
		return;
	}
	if (live) {
		d->free_since = 0; /* held by another live node */
		return;
	}
	if (d->free_since == 0) {
		d->free_since = t->now;
	}
	int64_t wait = (int64_t)scheduler_rank(s->cfg, d->lease, s->self->id) * (int64_t)s->cfg->lease_ms / 2;
	if (t->now >= d->free_since + wait) {
		propose_lease(s, d);
	}
}
