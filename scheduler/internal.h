/* The scheduler's own state, shared by scheduler.c and the duty kinds
 * (duty.h). */
#ifndef SHIPLOG_SCHEDULER_INTERNAL_H
#define SHIPLOG_SCHEDULER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "scheduler/scheduler.h"

#define SCHED_MAX_DUTIES 4096
#define SCHED_JOB_SCAN 500 /* newest jobs looked at per tick */

struct duty;

struct scheduler {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	char raft_url[CFG_ADDR_MAX], collector_url[CFG_ADDR_MAX];
	uv_loop_t *loop;
	uv_timer_t timer;
	bool timer_open;
	bus_client *raft, *collector;
	struct workers *workers; /* [webhooks] threads: deliveries never take libuv's pool (raft_uv's) */
	struct duty *duties; /* the table, n_duties used of SCHED_MAX_DUTIES */
	size_t n_duties;
	uint64_t seq;        /* makes idempotency keys and job ids unique */
	bool stopping;
	unsigned char key[32]; /* [collector] secret_key, when have_key */
	bool have_key;
	int cfg_pending;     /* [[k8s_cluster]] proposals in flight */
	bool cfg_registered; /* all of them applied */
};

#endif
