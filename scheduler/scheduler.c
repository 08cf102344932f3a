/* Scheduler actor: a timer every quarter lease period reads clusters,
 * leases and jobs from the store and acts on them (see scheduler.h). */
#include "scheduler/scheduler.h"
#include "scheduler/internal.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "scheduler/cfg_clusters.h"
#include "raft/propose.h"


int scheduler_init(struct scheduler **out, const struct scheduler_config *c)
{
	struct scheduler *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->duties = calloc(SCHED_MAX_DUTIES, sizeof(*s->duties))) == NULL) {
		free(s);
		return PROTO_ENOMEM;
	}
	s->cfg = c->cfg;
	s->self = c->self;
	s->store = c->store;
	snprintf(s->raft_url, sizeof(s->raft_url), "%s", c->raft_url);
	snprintf(s->collector_url, sizeof(s->collector_url), "%s", c->collector_url);
	if (c->secret_key != NULL) {
		memcpy(s->key, c->secret_key, sizeof(s->key));
		s->have_key = true;
	}
	*out = s;
	return PROTO_OK;
}

void scheduler_free(struct scheduler *s)
{
	free(s->duties);
	free(s);
}

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

struct duty *duty_for(struct scheduler *s, const char *cluster_id)
{
	for (size_t i = 0; i < s->n_duties; i++) {
		if (strcmp(s->duties[i].cluster_id, cluster_id) == 0) {
			return &s->duties[i];
		}
	}
	if (s->n_duties == SCHED_MAX_DUTIES) {
		return NULL;
	}
	struct duty *d = &s->duties[s->n_duties++];
	memset(d, 0, sizeof(*d));
	snprintf(d->cluster_id, sizeof(d->cluster_id), "%s", cluster_id);
	return d;
}

/* Callbacks carry the cluster id, not a pointer: the table may compact. */
struct pending {
	struct scheduler *s;
	char cluster_id[PROTO_MAX_STR + 1];
};

static struct pending *pending_new(struct scheduler *s, const char *cluster_id)
{
	struct pending *p = malloc(sizeof(*p));
	if (p != NULL) {
		p->s = s;
		snprintf(p->cluster_id, sizeof(p->cluster_id), "%s", cluster_id);
	}
	return p;
}

static void lease_done(void *data, int status, const struct proto_result *res)
{
	struct pending *p = data;
	struct duty *d = p->s->stopping ? NULL : duty_for(p->s, p->cluster_id);
	if (d != NULL) {
		d->lease_pending = false;
		d->held = status == PROTO_OK && res->code == PROTO_OK;
	}
	free(p);
}

static void propose_lease(struct scheduler *s, struct duty *d)
{
	char duty[PROTO_MAX_STR + 16], idem[PROTO_MAX_STR + 64];
	struct pending *p = pending_new(s, d->cluster_id);
	if (p == NULL) {
		return;
	}
	snprintf(duty, sizeof(duty), "%s", d->duty);
	snprintf(idem, sizeof(idem), "lease:%s:%" PRIu64 ":%" PRIu64, d->cluster_id, s->self->id, ++s->seq);
	struct proto_cmd cmd = {.type = PROTO_CMD_LEASE, .idem_key = idem};
	cmd.u.lease = (struct proto_lease){duty, s->self->id, s->cfg->lease_ms};
	d->lease_pending = true;
	if (repl_propose(s->raft, &cmd, s->cfg->lease_ms / 2, lease_done, p) != PROTO_OK) {
		d->lease_pending = false;
		free(p);
	}
}

static void collect_done(void *data, int status, const void *buf, size_t len)
{
	struct pending *p = data;
	struct duty *d = p->s->stopping ? NULL : duty_for(p->s, p->cluster_id);
	(void)status;
	(void)buf;
	(void)len;
	if (d != NULL) {
		d->running = false;
		d->last_run_ms = wall_now_ms(); /* until the store shows the run */
	}
	free(p);
}

static void dispatch(struct scheduler *s, struct duty *d, const char *job_id)
{
	struct proto_msg m = {.type = PROTO_MSG_COLLECT};
	struct proto_buf b;
	struct pending *p = pending_new(s, d->cluster_id);
	m.u.collect.job_id = job_id;
	m.u.collect.cluster_id = d->cluster_id;
	if (p == NULL || proto_msg_encode(&m, &b) != PROTO_OK) {
		free(p);
		return;
	}
	/* A run makes several requests, each bounded by the k8s timeout. */
	unsigned timeout = s->cfg->k8s_timeout_ms * 12 + s->cfg->write_timeout_ms * 3;
	d->running = true;
	if (bus_call(s->collector, b.data, b.len, timeout, collect_done, p) != PROTO_OK) {
		d->running = false;
		free(p);
	}
	proto_buf_free(&b);
}


/* Renews a held lease, or claims a free or expired one in rank order. */
void scheduler_lease_step(struct tick *t, struct duty *d)
{
	struct scheduler *s = t->s;
	struct store_lease l;
	bool exists = store_lease_get(t->rd, d->duty, &l) == PROTO_OK;
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
	int64_t wait = (int64_t)scheduler_rank(s->cfg, d->duty, s->self->id) * (int64_t)s->cfg->lease_ms / 2;
	if (t->now >= d->free_since + wait) {
		propose_lease(s, d);
	}
}

static int on_cluster(void *data, const struct store_cluster *sc)
{
	struct tick *t = data;
	struct scheduler *s = t->s;
	struct duty *d = duty_for(s, sc->c->id);
	if (d == NULL) {
		return 0;
	}
	d->seen = true;
	d->interval_s = sc->c->interval_s ? sc->c->interval_s : s->cfg->collector_interval_s;
	if (sc->last_run_ms > d->last_run_ms) {
		d->last_run_ms = sc->last_run_ms;
	}
	snprintf(d->duty, sizeof(d->duty), "collect:%s", sc->c->id);
	scheduler_lease_step(t, d);
	return 0;
}

static void new_job_id(struct scheduler *s, char *out, size_t cap)
{
	snprintf(out, cap, "j%013" PRIx64 "-%.48s-s%04" PRIx64, (uint64_t)wall_now_ms(), s->self->name, ++s->seq & 0xffff);
}

struct job_scan {
	struct scheduler *s;
	int64_t now;
	int left;
};

static int on_job(void *data, const struct store_job *j)
{
	struct job_scan *js = data;
	struct scheduler *s = js->s;
	if (--js->left < 0) {
		return 1;
	}
	bool queued = strcmp(j->status, "queued") == 0;
	/* A run whose node stopped before finishing it: run it again here. */
	bool orphan = strcmp(j->status, "running") == 0 && j->node != s->self->id &&
	              j->started_ms < js->now - 2 * (int64_t)s->cfg->lease_ms;
	if (!queued && !orphan) {
		return 0;
	}
	for (size_t i = 0; i < s->n_duties; i++) {
		struct duty *d = &s->duties[i];
		if (d->held && !d->running && !d->webhook && strcmp(d->cluster_id, j->cluster_id) == 0) {
			dispatch(s, d, j->id);
		}
	}
	return 0;
}

static void cfg_cluster_done(void *data, int status, const struct proto_result *res)
{
	struct scheduler *s = data;
	(void)res;
	s->cfg_pending--;
	if (status != PROTO_OK) {
		s->cfg_registered = false; /* retried at a later tick */
	}
}

static void on_tick(uv_timer_t *h);

void scheduler_tick_now(struct scheduler *s)
{
	if (!s->stopping) {
		on_tick(&s->timer);
	}
}

static void on_tick(uv_timer_t *h)
{
	struct scheduler *s = h->data;
	struct tick t = {.s = s, .now = wall_now_ms()};
	if (!s->stopping && !s->cfg_registered && s->cfg_pending == 0 && s->cfg->n_k8s > 0) {
		bool failed;
		s->cfg_registered = true;
		s->cfg_pending = cfg_clusters_register(s->cfg, s->store, s->raft, s->have_key ? s->key : NULL,
		                                       cfg_cluster_done, s, &failed);
		(void)failed; /* a file that cannot be read is reported once, not retried */
	}
	if (s->stopping || store_read_begin(s->store, &t.rd) != PROTO_OK) {
		return;
	}
	for (size_t i = 0; i < s->n_duties; i++) {
		s->duties[i].seen = false;
	}
	store_clusters_each(t.rd, on_cluster, &t);
	deliver_tick(&t);
	alerts_tick(&t);
	/* Forget deleted clusters (those not running anything). */
	size_t w = 0;
	for (size_t i = 0; i < s->n_duties; i++) {
		if (s->duties[i].seen || s->duties[i].running || s->duties[i].lease_pending) {
			s->duties[w++] = s->duties[i];
		}
	}
	s->n_duties = w;
	struct job_scan js = {s, t.now, SCHED_JOB_SCAN};
	store_jobs_each(t.rd, on_job, &js);
	store_read_end(t.rd);
	for (size_t i = 0; i < s->n_duties; i++) {
		struct duty *d = &s->duties[i];
		if (d->seen && d->held && !d->running && !d->webhook &&
		    t.now - d->last_run_ms >= (int64_t)d->interval_s * 1000) {
			char id[96];
			new_job_id(s, id, sizeof(id));
			dispatch(s, d, id);
		}
	}
}

int scheduler_start(void *self, uv_loop_t *loop)
{
	struct scheduler *s = self;
	s->loop = loop;
	if (bus_client_open(&s->raft, loop, s->raft_url) != PROTO_OK ||
	    bus_client_open(&s->collector, loop, s->collector_url) != PROTO_OK) {
		fprintf(stderr, "scheduler: cannot open the bus\n");
		return PROTO_ECONNECT;
	}
	unsigned period = s->cfg->lease_ms / 4 > 50 ? s->cfg->lease_ms / 4 : 50;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	s->timer_open = true;
	uv_timer_start(&s->timer, on_tick, period, period);
	return PROTO_OK;
}

void scheduler_stop(void *self)
{
	struct scheduler *s = self;
	s->stopping = true;
	if (s->timer_open) {
		uv_close((uv_handle_t *)&s->timer, NULL);
		s->timer_open = false;
	}
	if (s->raft != NULL) {
		bus_client_close(s->raft);
		s->raft = NULL;
	}
	if (s->collector != NULL) {
		bus_client_close(s->collector);
		s->collector = NULL;
	}
}
