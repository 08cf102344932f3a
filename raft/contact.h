/* What this node measured of each member (raft/contact.c): when a Raft
 * message from it last arrived, and, on the leader, the applied index each
 * member reported when polled. Shown per member by GET /api/v1/cluster. */
#ifndef SHIPLOG_RAFT_CONTACT_H
#define SHIPLOG_RAFT_CONTACT_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/sizes.h"

#define REPL_CONTACT_POLL_MS 500 /* the leader asks each member for its applied index this often */

struct repl_contact {
	uint64_t id;
	uint64_t heard_ms;      /* uv_now of its last Raft message, 0 never */
	uint64_t applied;       /* its applied index as it last reported it */
	uint64_t applied_at_ms; /* when that report arrived, 0 never */
	uint64_t asked_ms;      /* when the poll in flight (if any) was sent */
	bool asking;            /* a poll is in flight */
};

struct repl_contacts {
	struct repl_contact v[REPL_MAX_PEERS];
	unsigned n;
};

#endif
