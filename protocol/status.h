/* Project-wide status codes: every folder returns these, translated once at
 * the edge of its library (raft, LMDB, nng, libuv). */
#ifndef SHIPLOG_PROTOCOL_STATUS_H
#define SHIPLOG_PROTOCOL_STATUS_H

enum proto_status {
	PROTO_OK = 0,
	PROTO_EINVAL,     /* malformed input: nothing was done */
	PROTO_ENOMEM,     /* allocation failed */
	PROTO_ENOLEADER,  /* no leader within the bounded wait: nothing applied */
	PROTO_ENOTLEADER, /* this node is not the leader: nothing applied */
	PROTO_EUNKNOWN,   /* the command may or may not have been applied */
	PROTO_ETIMEOUT,   /* a bounded wait passed */
	PROTO_ESHUTDOWN,  /* the node is stopping */
	PROTO_EIO,        /* disk or storage failure */
	PROTO_ENOTFOUND,  /* no such object */
	PROTO_ETOOBIG,    /* input over a size limit */
	PROTO_ECONNECT,   /* a peer could not be reached */
	PROTO_EINTERNAL,  /* broken invariant or unexpected library error */
	PROTO_ECONFLICT,  /* refused by the state (e.g. a lease held by another node) */
	PROTO_EBUSY,      /* try again shortly (e.g. a membership change in progress) */
	PROTO_EREMOVED,   /* this node is no longer a member of the cluster */
	PROTO_ENEWER,     /* written in a format newer than this binary reads */
	PROTO_STATUS_COUNT_
};

/* Returns a static, human-readable name for a status code. */
const char *proto_strerror(int status);

#endif
