/* canonical/raft's return codes and ours, translated in this one place
 * (as dqlite's src/translate.c does). */
#ifndef SHIPLOG_RAFT_TRANSLATE_H
#define SHIPLOG_RAFT_TRANSLATE_H

/* A PROTO_E* status (protocol/status.h) for a raft return code of a
 * membership change (raft_add, raft_assign, raft_remove, raft_transfer and
 * their callbacks): 0 -> PROTO_OK; another change or a leadership transfer
 * under way (RAFT_CANTCHANGE, RAFT_NOTLEADER) -> PROTO_EBUSY, worth a
 * retry; anything else -> PROTO_ECONFLICT (refused by the configuration). */
int repl_change_status(int raft_rv);

/* The operator's message for a failed membership change: what to do about
 * it when there is something to do, else raft's own text. */
const char *repl_change_error(int raft_rv);

/* The raft code an FSM callback returns for a PROTO_E* status of store/:
 * PROTO_OK -> 0, PROTO_ESHUTDOWN -> RAFT_CANCELED (the node stops),
 * PROTO_ENOMEM -> RAFT_NOMEM, anything else -> RAFT_IOERR. */
int repl_to_raft(int proto_status);

#endif
