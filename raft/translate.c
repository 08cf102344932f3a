#include "raft/translate.h"

#include <raft.h>

#include "protocol/status.h"

int repl_change_status(int raft_rv)
{
	switch (raft_rv) {
	case 0:
		return PROTO_OK;
	case RAFT_CANTCHANGE:
	case RAFT_NOTLEADER: /* in a change: a leadership transfer is under way */
		return PROTO_EBUSY;
	default:
		return PROTO_ECONFLICT;
	}
}

const char *repl_change_error(int raft_rv)
{
	switch (raft_rv) {
	case RAFT_CANTCHANGE:
		return "another membership change is in progress; retry";
	case RAFT_NOTLEADER:
		return "a leadership transfer is in progress; retry";
	default:
		return raft_strerror(raft_rv);
	}
}

int repl_to_raft(int proto_status)
{
	switch (proto_status) {
	case PROTO_OK:
		return 0;
	case PROTO_ESHUTDOWN:
		return RAFT_CANCELED;
	case PROTO_ENOMEM:
		return RAFT_NOMEM;
	default:
		return RAFT_IOERR;
	}
}
