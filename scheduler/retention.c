/* Retention ([retention] in cluster.toml): the holder of the "retention"
 * lease proposes PRUNE every interval with the bounds of its configuration,
 * and again at once while the store says more rows are left (each command
 * deletes at most [retention] batch rows, so no entry is long to apply). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "raft/propose.h"
#include "scheduler/duty.h"

static void retention_tick(struct tick *t);

const struct duty_kind sched_retention_duty = {.name = "retention", .lease_prefix = "", .tick = retention_tick};

static void pruned(void *data, int status, const struct proto_result *res)
{
	struct duty_ref *ref = data;
	struct duty *d = duty_ref_find(ref);
	struct scheduler *s = ref->s;
	free(ref);
	if (d == NULL) {
		return;
	}
	d->running = false;
	if (status == PROTO_OK && res != NULL && res->created == 1) {
		d->last_run_ms = 0; /* more left: the next batch at the next tick */
		scheduler_tick_now(s);
	}
}

static int any_job(void *data, const struct store_job *j)
{
	(void)j;
	*(bool *)data = true;
	return 1;
}

static void retention_tick(struct tick *t)
{
	const struct cfg *cfg = t->s->cfg;
	const struct cfg_retention *rt = &cfg->retention;
	bool history = rt->history_per_component != 0 || rt->history_days != 0, jobs = false;
	if (!history && (rt->jobs_keep != 0 || rt->jobs_days != 0)) {
		store_jobs_each(t->rd, any_job, &jobs);
	}
	if (!history && !jobs) {
		return; /* nothing it could remove: hold no lease, write nothing */
	}
	struct duty *d = duty_for(t->s, &sched_retention_duty, "retention");
	if (d == NULL) {
		return;
	}
	duty_lease_step(t, d);
	if (!d->held || d->running || t->now - d->last_run_ms < (int64_t)rt->interval_ms) {
		return;
	}
	struct duty_ref *ref = duty_ref_new(t->s, d);
	if (ref == NULL) {
		return;
	}
	char idem[96];
	snprintf(idem, sizeof(idem), "retention:%" PRIu64 ":%" PRId64, t->s->self->id, t->now);
	struct proto_cmd cmd = {.type = PROTO_CMD_PRUNE, .idem_key = idem};
	int64_t day = 86400000;
	cmd.u.prune = (struct proto_prune){rt->history_per_component,
	                                   rt->history_days ? t->now - (int64_t)rt->history_days * day : 0,
	                                   rt->jobs_keep, rt->jobs_days ? t->now - (int64_t)rt->jobs_days * day : 0,
	                                   rt->batch};
	d->running = true;
	d->last_run_ms = t->now;
	if (repl_propose(t->s->raft, &cmd, cfg->write_timeout_ms, pruned, ref) != PROTO_OK) {
		pruned(ref, PROTO_ENOMEM, NULL);
	}
}
