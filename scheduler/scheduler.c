/* Scheduler actor: a timer every quarter lease period opens a read
 * transaction and runs every duty kind's tick (duty.h), then forgets the
 * duties no kind found. See scheduler.h. */
#include "scheduler/scheduler.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/workers.h"
#include "scheduler/duty.h"
#include "scheduler/internal.h"

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

struct duty *duty_find(struct scheduler *s, const struct duty_kind *kind, const char *key)
{
	for (size_t i = 0; i < s->n_duties; i++) {
		if (s->duties[i].kind == kind && strcmp(s->duties[i].key, key) == 0) {
			return &s->duties[i];
		}
	}
	return NULL;
}

struct duty *duty_for(struct scheduler *s, const struct duty_kind *kind, const char *key)
{
	struct duty *d = duty_find(s, kind, key);
	if (d != NULL) {
		d->seen = true;
		return d;
	}
	if (s->n_duties == SCHED_MAX_DUTIES) {
		return NULL;
	}
	d = &s->duties[s->n_duties++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->seen = true;
	snprintf(d->key, sizeof(d->key), "%s", key);
	snprintf(d->lease, sizeof(d->lease), "%s%s", kind->lease_prefix, key);
	return d;
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
	if (s->stopping || store_read_begin(s->store, &t.rd) != PROTO_OK) {
		return;
	}
	for (size_t i = 0; i < s->n_duties; i++) {
		s->duties[i].seen = false;
	}
	for (size_t k = 0; sched_duty_kinds[k] != NULL; k++) {
		sched_duty_kinds[k]->tick(&t);
	}
	store_read_end(t.rd);
	/* Forget the duties whose subject is gone (those with nothing in flight). */
	size_t w = 0;
	for (size_t i = 0; i < s->n_duties; i++) {
		if (s->duties[i].seen || s->duties[i].running || s->duties[i].lease_pending) {
			s->duties[w++] = s->duties[i];
		}
	}
	s->n_duties = w;
}

int scheduler_start(void *self, uv_loop_t *loop)
{
	struct scheduler *s = self;
	s->loop = loop;
	if (workers_start(&s->workers, loop, s->cfg->webhook_threads, "deliver") != 0) {
		log_error("scheduler", "cannot start its threads");
		return PROTO_ENOMEM;
	}
	if (bus_client_open(&s->raft, loop, s->raft_url) != PROTO_OK ||
	    bus_client_open(&s->collector, loop, s->collector_url) != PROTO_OK) {
		log_error("scheduler", "cannot open the bus");
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
	if (s->workers != NULL) {
		workers_stop(s->workers); /* a POST under way ends within its timeout */
		s->workers = NULL;
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
