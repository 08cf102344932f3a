/* The scheduler actor: assigns each periodic duty (collecting cluster X) to
 * exactly one live node through a lease stored in Raft, renews the leases
 * this node holds, runs the duties it holds when due (and the queued jobs of
 * POST /api/collect), and takes over duties whose holder stopped renewing.
 *
 * Spread: nodes rank each duty by rendezvous hashing; a free or expired
 * lease is claimed first by the best-ranked node, and by the next ones only
 * after a further half lease period each, so a live preferred node wins and a
 * dead one is replaced within two lease periods. */
#ifndef SHIPLOG_SCHEDULER_SCHEDULER_H
#define SHIPLOG_SCHEDULER_SCHEDULER_H

#include <uv.h>

#include "config/config.h"
#include "store/store.h"

struct scheduler;

struct scheduler_config {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	const char *raft_url;      /* the raft actor's requests */
	const char *collector_url; /* the collector's requests */
	const unsigned char *secret_key; /* seals [[k8s_cluster]] credentials; NULL if unset */
};

int scheduler_init(struct scheduler **out, const struct scheduler_config *c);
int scheduler_start(void *self, uv_loop_t *loop);
void scheduler_stop(void *self);
void scheduler_free(struct scheduler *s);

/* The rank (0 = preferred) of node_id among the configured nodes for duty. */
unsigned scheduler_rank(const struct cfg *cfg, const char *duty, uint64_t node_id);

#endif
