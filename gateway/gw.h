/* The gateway actor: the REST API on h2o (libuv), served by every node.
 * Reads come from the local store; writes and linearizable reads go to the
 * local raft actor over the bus; the raft actor's published status gives
 * leader, indexes and last contact for the X-Shiplog-* headers. */
#ifndef SHIPLOG_GATEWAY_GW_H
#define SHIPLOG_GATEWAY_GW_H

#include <uv.h>

#include "config/config.h"
#include "store/store.h"

struct gw;

struct gw_config {
	const struct cfg *cfg;       /* borrowed */
	const struct cfg_node *self; /* borrowed */
	store *store;                /* borrowed, read-only use */
	const char *raft_url;        /* inproc URL of the raft actor's requests */
	const char *status_url;      /* inproc URL of its status publisher */
	const unsigned char *secret_key; /* 32 bytes sealing cluster credentials, NULL if unset */
};

int gw_init(struct gw **out, const struct gw_config *config);
/* Actor hooks (node/actor.h), on the gateway's thread. gw_start binds the
 * HTTP address and fails if it cannot. */
int gw_start(void *self, uv_loop_t *loop);
void gw_stop(void *self);
void gw_free(struct gw *g);

#endif
