/* The scheduler's duties: each kind of periodic work (collection, webhook
 * delivery, alerts, and later rollouts) is a struct duty_kind with its own
 * tick, listed once in duties.c. scheduler.c runs every kind's tick and the
 * bookkeeping they share (the duty table, leases), and names none of them.
 *
 * A kind's tick, on the scheduler's loop with a read transaction open:
 * finds its duties in the store (duty_for), steps each one's lease
 * (duty_lease_step: renew, or claim in rank order) and runs the ones this
 * node holds. A duty not found by its kind's tick is forgotten once nothing
 * of it is in flight. */
#ifndef SHIPLOG_SCHEDULER_DUTY_H
#define SHIPLOG_SCHEDULER_DUTY_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/internal.h"
#include "store/store.h"

/* One tick's context, valid during the tick only. */
struct tick {
	struct scheduler *s;
	struct store_read *rd; /* the tick's read transaction */
	int64_t now;           /* wall clock, ms */
};

struct duty_kind {
	const char *name;         /* "collect", "webhook", "alerts": logs and metrics */
	const char *lease_prefix; /* a duty's lease is named lease_prefix + its key */
	void (*tick)(struct tick *t);
};

/* Every kind, NULL-terminated, in the order their ticks run (duties.c). */
extern const struct duty_kind *const sched_duty_kinds[];

struct duty {
	const struct duty_kind *kind;
	char key[PROTO_MAX_STR + 1];       /* unique within its kind: a cluster id, a webhook id, "alerts" */
	char lease[PROTO_MAX_STR + 16];    /* the lease's name in the store */
	bool seen;           /* found by its kind at the last tick */
	bool lease_pending;  /* a LEASE proposal is in flight */
	unsigned running;    /* its pieces of work in flight here (most kinds: 0 or 1) */
	int64_t free_since;  /* when this node first saw it free (its clock), 0 if held */
	bool held;           /* by this node, as of the last tick */
	int64_t last_run_ms; /* kinds that run periodically: the last run */
	uint64_t interval_s; /* ... and their period */
};

/* The duty of kind keyed key, NULL when there is none. Pointers stay valid
 * until the tick ends. */
struct duty *duty_find(struct scheduler *s, const struct duty_kind *kind, const char *key);

/* The duty of kind keyed key, marked seen (created if new); NULL when the
 * table is full. Pointers stay valid until the tick ends. */
struct duty *duty_for(struct scheduler *s, const struct duty_kind *kind, const char *key);

/* A duty named across callbacks (the table may compact meanwhile). */
struct duty_ref {
	struct scheduler *s;
	const struct duty_kind *kind;
	char key[PROTO_MAX_STR + 1];
};
/* A new reference to d (free() it), NULL when out of memory. */
struct duty_ref *duty_ref_new(struct scheduler *s, const struct duty *d);
/* The duty ref names, NULL when it is gone or the scheduler stops. */
struct duty *duty_ref_find(const struct duty_ref *ref);

/* Renews a held lease, or claims a free or expired one in rank order. */
void duty_lease_step(struct tick *t, struct duty *d);

/* Runs a tick now (after a delivery, so the next event need not wait). */
void scheduler_tick_now(struct scheduler *s);

#endif
