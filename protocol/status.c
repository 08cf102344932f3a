#include "protocol/status.h"

static const char *const status_names[PROTO_STATUS_COUNT_] = {
	[PROTO_OK] = "ok",
	[PROTO_EINVAL] = "invalid input",
	[PROTO_ENOMEM] = "out of memory",
	[PROTO_ENOLEADER] = "no leader",
	[PROTO_ENOTLEADER] = "not the leader",
	[PROTO_EUNKNOWN] = "unknown outcome",
	[PROTO_ETIMEOUT] = "timed out",
	[PROTO_ESHUTDOWN] = "shutting down",
	[PROTO_EIO] = "I/O error",
	[PROTO_ENOTFOUND] = "not found",
	[PROTO_ETOOBIG] = "too big",
	[PROTO_ECONNECT] = "peer unreachable",
	[PROTO_EINTERNAL] = "internal error",
	[PROTO_ECONFLICT] = "conflict",
	[PROTO_EBUSY] = "busy",
	[PROTO_EREMOVED] = "removed from the cluster",
	[PROTO_ENEWER] = "written by a newer shiplog: upgrade this node",
};

const char *proto_strerror(int status)
{
	if (status < 0 || status >= PROTO_STATUS_COUNT_) {
		return "unknown status";
	}
	return status_names[status];
}
