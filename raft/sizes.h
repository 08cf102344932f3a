/* Sizes of the raft actor's per-member tables. */
#ifndef SHIPLOG_RAFT_SIZES_H
#define SHIPLOG_RAFT_SIZES_H

#define REPL_MAX_PEERS 64 /* members tracked, by configuration index */

#endif
