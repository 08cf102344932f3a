/* Registers the [[k8s_cluster]] tables of cluster.toml (see cfg_clusters.c). */
#ifndef SHIPLOG_SCHEDULER_CFG_CLUSTERS_H
#define SHIPLOG_SCHEDULER_CFG_CLUSTERS_H

#include <stdbool.h>

#include "bus/bus.h"
#include "config/config.h"
#include "raft/propose.h"
#include "store/store.h"

/* Proposes each configured cluster not yet in the store; cb fires once per
 * proposal. Returns how many were proposed; *failed when one could not be
 * (unreadable file, no secret key). key: the 32-byte secret key or NULL. */
int cfg_clusters_register(const struct cfg *cfg, store *st, bus_client *raft, const unsigned char *key,
                          repl_propose_cb cb, void *data, bool *failed);

#endif
