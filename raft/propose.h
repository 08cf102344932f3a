/* Proposing a command to the local raft actor from an actor other than the
 * gateway (collector, scheduler): encode, send over the bus, decode the
 * answer. */
#ifndef SHIPLOG_RAFT_PROPOSE_H
#define SHIPLOG_RAFT_PROPOSE_H

#include "bus/bus.h"
#include "lib/clock.h"
#include "protocol/proto.h"

/* status: PROTO_OK (res filled), or why the command was not (known to be)
 * applied. res->code carries business refusals such as PROTO_ECONFLICT. */
typedef void (*repl_propose_cb)(void *data, int status, const struct proto_result *res);

/* Proposes cmd (its ts_ms is set here; idem_key must be set by the caller,
 * so a retry is applied at most once). cb fires exactly once, with
 * PROTO_ESHUTDOWN if the client raft is closed first. Returns 0 or a
 * PROTO_E* code (then cb never fires). */
int repl_propose(bus_client *raft, struct proto_cmd *cmd, unsigned timeout_ms, repl_propose_cb cb, void *data);

#endif
