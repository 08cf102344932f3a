/* Alert evaluation, by the holder of the "alerts" duty: a client/env whose
 * pings stopped ([alerts] ping_warning, ping_offline), a cluster whose
 * collection keeps failing ([alerts] collection_failures). Only changes are
 * proposed; a cause gone resolves its alert. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/propose.h"
#include "scheduler/duty.h"

static void alerts_tick(struct tick *t);

const struct duty_kind sched_alerts_duty = {.name = "alerts", .lease_prefix = "", .tick = alerts_tick};

struct known {
	char id[PROTO_MAX_STR + 32];
	char severity[32];
	bool open;
};

struct eval {
	struct tick *t;
	struct known *known;
	size_t n, cap;
};

static int remember(void *data, const struct store_alert *a)
{
	struct eval *e = data;
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct known *k = realloc(e->known, cap * sizeof(*k));
		if (k == NULL) {
			return 1;
		}
		e->known = k;
		e->cap = cap;
	}
	struct known *k = &e->known[e->n++];
	snprintf(k->id, sizeof(k->id), "%s", a->id);
	snprintf(k->severity, sizeof(k->severity), "%s", a->severity);
	k->open = strcmp(a->status, "resolved") != 0;
	return 0;
}

static const struct known *find(const struct eval *e, const char *id)
{
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->known[i].id, id) == 0) {
			return &e->known[i];
		}
	}
	return NULL;
}

static void ignore(void *data, int status, const struct proto_result *res)
{
	(void)data;
	(void)status;
	(void)res;
}

/* Proposes raise (severity != NULL) or resolve, unless the store already says so. */
static void want(struct eval *e, const char *id, const char *kind, const char *severity, const char *message,
                 const char *client)
{
	const struct known *k = find(e, id);
	if (severity == NULL ? (k == NULL || !k->open) : (k != NULL && k->open && strcmp(k->severity, severity) == 0)) {
		return;
	}
	struct scheduler *s = e->t->s;
	char idem[PROTO_MAX_STR + 96];
	snprintf(idem, sizeof(idem), "alert:%s:%s:%" PRId64, id, severity != NULL ? severity : "resolve", e->t->now);
	struct proto_cmd cmd = {.type = PROTO_CMD_ALERT, .idem_key = idem};
	cmd.u.alert = (struct proto_alert){id, severity != NULL ? "raise" : "resolve", kind,
	                                   severity != NULL ? severity : "", message, client, ""};
	repl_propose(s->raft, &cmd, s->cfg->write_timeout_ms, ignore, NULL);
}

static int on_env(void *data, const struct store_env *env)
{
	struct eval *e = data;
	const struct cfg *cfg = e->t->s->cfg;
	char id[PROTO_MAX_STR * 2 + 16], msg[PROTO_MAX_STR * 2 + 64];
	if (env->last_ping_ms <= 0) {
		return 0; /* never pinged: nothing stopped */
	}
	int64_t age = e->t->now - env->last_ping_ms;
	snprintf(id, sizeof(id), "ping:%s:%s", env->client, env->env);
	snprintf(msg, sizeof(msg), "no ping from %s/%s for %" PRId64 " s", env->client, env->env, age / 1000);
	if (age > (int64_t)cfg->ping_offline_ms) {
		want(e, id, "client_offline", "critical", msg, env->client);
	} else if (age > (int64_t)cfg->ping_warning_ms) {
		want(e, id, "client_offline", "warning", msg, env->client);
	} else {
		want(e, id, "client_offline", NULL, "", env->client);
	}
	return 0;
}

static int on_cluster(void *data, const struct store_cluster *sc)
{
	struct eval *e = data;
	char id[PROTO_MAX_STR + 16], msg[PROTO_MAX_STR + 96];
	snprintf(id, sizeof(id), "collect:%s", sc->c->id);
	snprintf(msg, sizeof(msg), "collection of %s failed %" PRIu64 " times in a row: %s", sc->c->name, sc->failures,
	         sc->last_error);
	if (e->t->s->cfg->collect_failures > 0 && sc->failures >= e->t->s->cfg->collect_failures) {
		want(e, id, "collection_failing", "warning", msg, sc->c->client);
	} else if (sc->failures == 0) {
		want(e, id, "collection_failing", NULL, "", sc->c->client);
	}
	return 0;
}

static int any_ping(void *data, const struct store_env *env)
{
	*(bool *)data = env->last_ping_ms > 0;
	return *(bool *)data;
}

static int any_cluster(void *data, const struct store_cluster *sc)
{
	(void)sc;
	*(bool *)data = true;
	return 1;
}

static void alerts_tick(struct tick *t)
{
	/* Nothing can alert (no pings, no clusters): hold no lease, write nothing. */
	bool sources = false;
	store_envs_each(t->rd, NULL, any_ping, &sources);
	if (!sources) {
		store_clusters_each(t->rd, any_cluster, &sources);
	}
	if (!sources) {
		return;
	}
	struct duty *d = duty_for(t->s, &sched_alerts_duty, "alerts");
	if (d == NULL) {
		return;
	}
	duty_lease_step(t, d);
	if (!d->held) {
		return;
	}
	struct eval e = {.t = t};
	store_alerts_each(t->rd, remember, &e);
	store_envs_each(t->rd, NULL, on_env, &e);
	store_clusters_each(t->rd, on_cluster, &e);
	free(e.known);
}
