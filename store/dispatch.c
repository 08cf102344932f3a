/* Which function applies which command type: the store's side of the
 * command table (protocol/tables.c describes their bytes). */
#include "store/internal.h"

typedef int (*apply_fn)(struct apply_ctx *a);

static const apply_fn apply_fns[PROTO_CMD_TYPE_MAX_] = {
	[PROTO_CMD_NOOP] = NULL, /* no state change */
	[PROTO_CMD_OBSERVE] = store_apply_observe,
	[PROTO_CMD_PING] = store_apply_ping,
	[PROTO_CMD_CLUSTER_PUT] = store_apply_cluster_put,
	[PROTO_CMD_CLUSTER_DELETE] = store_apply_cluster_delete,
	[PROTO_CMD_LEASE] = store_apply_lease,
	[PROTO_CMD_JOBS_QUEUE] = store_apply_jobs_queue,
	[PROTO_CMD_JOB_START] = store_apply_job_start,
	[PROTO_CMD_COLLECT_RESULT] = store_apply_collect_result,
	[PROTO_CMD_MEMBER_PUT] = store_apply_member_put,
	[PROTO_CMD_MEMBER_DELETE] = store_apply_member_delete,
	[PROTO_CMD_WEBHOOK_PUT] = store_apply_webhook_put,
	[PROTO_CMD_WEBHOOK_DELETE] = store_apply_webhook_delete,
	[PROTO_CMD_WEBHOOK_PROGRESS] = store_apply_webhook_progress,
	[PROTO_CMD_ALERT] = store_apply_alert,
	[PROTO_CMD_IMPORT] = store_apply_import,
	[PROTO_CMD_PRUNE] = store_apply_prune,
	[PROTO_CMD_USER_PUT] = store_apply_user_put,
	[PROTO_CMD_USER_DELETE] = store_apply_user_delete,
	[PROTO_CMD_APIKEY_PUT] = store_apply_apikey_put,
	[PROTO_CMD_APIKEY_DELETE] = store_apply_apikey_delete,
	[PROTO_CMD_SIGNING_KEY] = store_apply_signing_key,
	[PROTO_CMD_SESSION] = store_apply_session,
	[PROTO_CMD_KEYS_USED] = store_apply_keys_used,
	[PROTO_CMD_PRUNE_IDENTITY] = store_apply_prune_identity,
};

int store_apply_dispatch(struct apply_ctx *a)
{
	uint32_t type = a->cmd->type;
	return type < PROTO_CMD_TYPE_MAX_ && apply_fns[type] != NULL ? apply_fns[type](a) : 0;
}
