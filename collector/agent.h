/* Agent mode (shiplogd --agent): the Release Tracker's "slave" without a
 * database. It collects one local Kubernetes cluster every interval, writes
 * each run to a file-backed spool (fsync'd before it counts), and delivers
 * the spool in order to any node of a shiplog cluster with POST
 * /api/v1/observations under an Idempotency-Key named after the run, so a run
 * is recorded exactly once however often delivery is retried, across agent
 * restarts too. It pings with POST /api/ping on its own interval. */
#ifndef SHIPLOG_COLLECTOR_AGENT_H
#define SHIPLOG_COLLECTOR_AGENT_H

#include "config/config.h"

/* Runs until SIGINT/SIGTERM; returns the process exit status. */
int agent_run(const struct cfg_agent *a);

#endif
