/* Retention ([retention] in cluster.toml): the holder of the "retention"
 * lease proposes PRUNE (history, jobs) and PRUNE_IDENTITY (expired
 * sessions, old audit rows) every interval with the bounds of its
 * configuration, and again at once while the store says more rows are left
 * (each command deletes at most [retention] batch rows, so no entry is long
 * to apply). With nothing to remove it holds no lease and writes nothing. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "raft/propose.h"
#include "scheduler/duty.h"
#include "store/identity.h"

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
	d->running -= d->running > 0;
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

static void propose(struct tick *t, struct duty *d, struct proto_cmd *cmd, const char *what)
{
	struct duty_ref *ref = duty_ref_new(t->s, d);
	if (ref == NULL) {
		return;
	}
	char idem[96];
	snprintf(idem, sizeof(idem), "retention:%s:%" PRIu64 ":%" PRId64, what, t->s->self->id, t->now);
	cmd->idem_key = idem;
	d->running++;
	if (repl_propose(t->s->raft, cmd, t->s->cfg->write_timeout_ms, pruned, ref) != PROTO_OK) {
		pruned(ref, PROTO_ENOMEM, NULL);
	}
}

static void retention_tick(struct tick *t)
{
	const struct cfg *cfg = t->s->cfg;
	const struct cfg_retention *rt = &cfg->retention;
	int64_t day = 86400000;
	bool history = rt->history_per_component != 0 || rt->history_days != 0, jobs = false;
	if (!history && (rt->jobs_keep != 0 || rt->jobs_days != 0)) {
		store_jobs_each(t->rd, any_job, &jobs);
	}
	struct proto_prune_identity pi = {t->now, rt->audit_keep, rt->audit_days ? t->now - (int64_t)rt->audit_days * day : 0,
	                                  rt->batch};
	bool identity = store_identity_prunable(t->rd, &pi);
	if (!history && !jobs && !identity) {
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
	d->last_run_ms = t->now;
	if (history || jobs) {
		struct proto_cmd cmd = {.type = PROTO_CMD_PRUNE};
		cmd.u.prune = (struct proto_prune){rt->history_per_component,
		                                   rt->history_days ? t->now - (int64_t)rt->history_days * day : 0,
		                                   rt->jobs_keep, rt->jobs_days ? t->now - (int64_t)rt->jobs_days * day : 0,
		                                   rt->batch};
		propose(t, d, &cmd, "history");
	}
	if (identity) {
		struct proto_cmd cmd = {.type = PROTO_CMD_PRUNE_IDENTITY, .u.prune_identity = pi};
		propose(t, d, &cmd, "identity");
	}
}
