/* The state of members.c: what the actor knows of the members and its bus
 * clients to them. */
#ifndef SHIPLOG_RAFT_MEMBERS_H
#define SHIPLOG_RAFT_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "config/config.h"
#include "raft/sizes.h"

struct repl_peer {
	uint64_t id;
	char rpc[CFG_ADDR_MAX];
	bus_client *client;
	bus_client *retired; /* the client of its previous address, closed at the next tick */
};

/* Bus clients to the other members, opened lazily. */
struct repl_peers {
	struct repl_peer v[REPL_MAX_PEERS];
	size_t n;
};

/* What the actor needs to know of a member. */
struct repl_member {
	uint64_t id;
	char name[CFG_NAME_MAX];
	char rpc[CFG_ADDR_MAX];
	char raft[CFG_ADDR_MAX];
};

#endif
