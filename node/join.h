/* shiplogd --join: asks a running member to add this node (the request is
 * forwarded to the leader), retrying until it is accepted. */
#ifndef SHIPLOG_NODE_JOIN_H
#define SHIPLOG_NODE_JOIN_H

#include <signal.h>

#include "config/config.h"

/* Sends POST /api/v1/cluster/nodes to http://member for self, as a voter.
 * Returns 0 once accepted, 1 if a signal of sigs arrived meanwhile, -1 if the
 * cluster refused (the message is printed) or 60 s passed. */
int node_join(const struct cfg *cfg, const struct cfg_node *self, const char *member, const sigset_t *sigs);

#endif
