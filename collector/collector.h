/* The collector actor: runs one collection of a registered Kubernetes
 * cluster when the scheduler asks (PROTO_MSG_COLLECT), off its loop on the
 * libuv thread pool, and proposes the outcome as one COLLECT_RESULT command
 * holding every observation of the run. Errors (unreachable, 401, timeouts,
 * bad credentials) become a failed job and the cluster's health. */
#ifndef SHIPLOG_COLLECTOR_COLLECTOR_H
#define SHIPLOG_COLLECTOR_COLLECTOR_H

#include <uv.h>

#include "config/config.h"
#include "store/store.h"

struct collector;

struct collector_config {
	const struct cfg *cfg;
	const struct cfg_node *self;
	store *store;
	const unsigned char *secret_key; /* 32 bytes, NULL if unset */
	const char *url;                 /* inproc URL it serves */
	const char *raft_url;            /* the raft actor's requests */
};

int collector_init(struct collector **out, const struct collector_config *c);
int collector_start(void *self, uv_loop_t *loop);
void collector_stop(void *self);
void collector_free(struct collector *c);

#endif
