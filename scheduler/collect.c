/* The collection duty: one per registered Kubernetes cluster (lease
 * "collect:<id>"). Its holder asks the collector to run it every interval,
 * and for each queued job of POST /api/collect; a run left "running" by a
 * node that stopped is run again. The [[k8s_cluster]] tables of
 * cluster.toml are registered here first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "lib/clock.h"
#include "raft/propose.h"
#include "scheduler/cfg_clusters.h"
#include "scheduler/duty.h"

static void collect_tick(struct tick *t);

const struct duty_kind sched_collect_duty = {.name = "collect", .lease_prefix = "collect:", .tick = collect_tick};

static void collect_done(void *data, int status, const void *buf, size_t len)
{
	struct duty_ref *ref = data;
	struct duty *d = duty_ref_find(ref);
	(void)status;
	(void)buf;
	(void)len;
	if (d != NULL) {
		d->running = false;
		d->last_run_ms = wall_now_ms(); /* until the store shows the run */
	}
	free(ref);
}

static void dispatch(struct scheduler *s, struct duty *d, const char *job_id)
{
	struct proto_msg m = {.type = PROTO_MSG_COLLECT};
	struct proto_buf b;
	struct duty_ref *ref = duty_ref_new(s, d);
	m.u.collect.job_id = job_id;
	m.u.collect.cluster_id = d->key;
	if (ref == NULL || proto_msg_encode(&m, &b) != PROTO_OK) {
		free(ref);
		return;
	}
	/* A run makes several requests, each bounded by the k8s timeout. */
	unsigned timeout = s->cfg->k8s_timeout_ms * 12 + s->cfg->write_timeout_ms * 3;
	d->running = true;
	if (bus_call(s->collector, b.data, b.len, timeout, collect_done, ref) != PROTO_OK) {
		d->running = false;
		free(ref);
	}
	proto_buf_free(&b);
}

static int on_cluster(void *data, const struct store_cluster *sc)
{
	struct tick *t = data;
	struct scheduler *s = t->s;
	struct duty *d = duty_for(s, &sched_collect_duty, sc->c->id);
	if (d == NULL) {
		return 0;
	}
	d->interval_s = sc->c->interval_s ? sc->c->interval_s : s->cfg->collector_interval_s;
	if (sc->last_run_ms > d->last_run_ms) {
		d->last_run_ms = sc->last_run_ms;
	}
	duty_lease_step(t, d);
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
	struct duty *d = duty_find(s, &sched_collect_duty, j->cluster_id);
	if (d != NULL && d->seen && d->held && !d->running) {
		dispatch(s, d, j->id);
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

static void collect_tick(struct tick *t)
{
	struct scheduler *s = t->s;
	if (!s->cfg_registered && s->cfg_pending == 0 && s->cfg->n_k8s > 0) {
		bool failed;
		s->cfg_registered = true;
		s->cfg_pending = cfg_clusters_register(s->cfg, s->store, s->raft, s->have_key ? s->key : NULL,
		                                       cfg_cluster_done, s, &failed);
		(void)failed; /* a file that cannot be read is reported once, not retried */
	}
	store_clusters_each(t->rd, on_cluster, t);
	struct job_scan js = {s, t->now, SCHED_JOB_SCAN};
	store_jobs_each(t->rd, on_job, &js);
	for (size_t i = 0; i < s->n_duties; i++) {
		struct duty *d = &s->duties[i];
		if (d->kind == &sched_collect_duty && d->seen && d->held && !d->running &&
		    t->now - d->last_run_ms >= (int64_t)d->interval_s * 1000) {
			char id[96];
			new_job_id(s, id, sizeof(id));
			dispatch(s, d, id);
		}
	}
}
