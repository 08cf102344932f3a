/* Internal to the scheduler actor (scheduler.c, deliver.c). */
#ifndef SHIPLOG_SCHEDULER_INTERNAL_H
#define SHIPLOG_SCHEDULER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "scheduler/scheduler.h"

#define SCHED_MAX_DUTIES 4096
#define SCHED_JOB_SCAN 500 /* newest jobs looked at per tick */

struct duty {
	char cluster_id[PROTO_MAX_STR + 1]; /* the key: a cluster id, or "wh:" + a webhook id */
	char duty[PROTO_MAX_STR + 16];      /* the lease's name: collect:<id> or webhook:<id> */
	bool webhook;                       /* delivering a webhook rather than collecting */
	bool seen;           /* still registered at the last tick */
	bool lease_pending;  /* a LEASE proposal is in flight */
	bool running;        /* a collection is in flight here */
	int64_t free_since;  /* when this node first saw it free (its clock), 0 if held */
	bool held;           /* by this node, as of the last tick */
	int64_t last_run_ms; /* from the cluster's health */
	uint64_t interval_s;
};

struct scheduler {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	char raft_url[CFG_ADDR_MAX], collector_url[CFG_ADDR_MAX];
	uv_loop_t *loop;
	uv_timer_t timer;
	bool timer_open;
	bus_client *raft, *collector;
	struct duty *duties;
	size_t n_duties;
	uint64_t seq;
	bool stopping;
	unsigned char key[32];
	bool have_key;
	int cfg_pending;     /* [[k8s_cluster]] proposals in flight */
	bool cfg_registered; /* all of them applied */
};

struct tick {
	struct scheduler *s;
	struct store_read *rd;
	int64_t now;
};

/* The duty keyed key (created if new), NULL when the table is full. */
struct duty *duty_for(struct scheduler *s, const char *key);
/* Renews a held lease, or claims a free or expired one in rank order. */
void scheduler_lease_step(struct tick *t, struct duty *d);
/* Webhook deliveries (deliver.c): leases for every webhook, and the next
 * event for the ones this node holds. */
void deliver_tick(struct tick *t);
/* Alert evaluation (alerting.c), by the holder of the "alerts" duty. */
void alerts_tick(struct tick *t);
/* Runs a tick now (after a delivery, so the next event need not wait). */
void scheduler_tick_now(struct scheduler *s);

#endif
