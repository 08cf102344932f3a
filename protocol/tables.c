/* The one description of every Raft command, apply result and actor
 * message: field by field, in wire order. Changing a table changes the wire
 * format; tests/unit/test_protocol_golden.c pins the bytes, so a cluster of
 * mixed versions keeps working. A new command or message is one table here
 * (and its struct in proto.h). */
#include <stddef.h>

#include "protocol/schema.h"

/* Fields of a record of type R. */
#define STR(R, m) {.kind = S_STR, .off = offsetof(R, m)}
#define STR_MAX(R, m, n) {.kind = S_STR, .off = offsetof(R, m), .max = (n)}
#define BIN(R, m, len) {.kind = S_BIN, .off = offsetof(R, m), .len_off = offsetof(R, len)}
#define BIN_NONEMPTY(R, m, len) {.kind = S_BIN, .off = offsetof(R, m), .len_off = offsetof(R, len), .nonempty = true}
#define U32(R, m) {.kind = S_U32, .off = offsetof(R, m)}
#define U32_IN(R, m, l, h) {.kind = S_U32, .off = offsetof(R, m), .bounded = true, .lo = (l), .hi = (h)}
#define U64(R, m) {.kind = S_U64, .off = offsetof(R, m)}
#define I32(R, m) {.kind = S_I32, .off = offsetof(R, m)}
#define I32_IN(R, m, l, h) {.kind = S_I32, .off = offsetof(R, m), .bounded = true, .lo = (l), .hi = (h)}
#define I64(R, m) {.kind = S_I64, .off = offsetof(R, m)}
#define STRS(R, m, n) {.kind = S_STRS, .off = offsetof(R, m), .len_off = offsetof(R, n)}
#define RECORDS(R, m, n, t, nonempty_) \
	{.kind = S_RECORDS, .off = offsetof(R, m), .len_off = offsetof(R, n), .nonempty = (nonempty_), .sub = &(t)}

#define TABLE(fields, R) {fields, sizeof(fields) / sizeof(fields[0]), sizeof(R)}

/* ---- commands: [PROTO_VERSION, type, ts_ms, idem_key, body] ---- */

#define OBS(m) STR(struct proto_observation, m)
static const struct schema_field observation[] = {
	OBS(client), OBS(env), OBS(ns), OBS(kind), OBS(workload), OBS(container),
	OBS(image_repo), OBS(image_name), OBS(image_tag), OBS(image_sha),
	I64(struct proto_observation, seen_at_ms),
};
static const struct schema_table observation_table = TABLE(observation, struct proto_observation);

#define IMP(m) STR(struct proto_import_row, obs.m)
static const struct schema_field import_row[] = {
	IMP(client), IMP(env), IMP(ns), IMP(kind), IMP(workload), IMP(container),
	IMP(image_repo), IMP(image_name), IMP(image_tag), IMP(image_sha),
	I64(struct proto_import_row, obs.seen_at_ms), I64(struct proto_import_row, last_seen_ms),
};
static const struct schema_table import_row_table = TABLE(import_row, struct proto_import_row);

#define P(m) STR(struct proto_ping, m)
static const struct schema_field ping_record[] = {P(client), P(env), P(version), I64(struct proto_ping, at_ms)};
static const struct schema_table ping_record_table = TABLE(ping_record, struct proto_ping);

#define C struct proto_cmd
static const struct schema_field observe[] = {RECORDS(C, obs, n_obs, observation_table, true)};
static const struct schema_field ping[] = {STR(C, ping.client), STR(C, ping.env), STR(C, ping.version), I64(C, ping.at_ms)};
static const struct schema_field cluster_put[] = {
	STR(C, u.cluster.id), STR(C, u.cluster.name), STR(C, u.cluster.server), STR(C, u.cluster.client),
	STR(C, u.cluster.env), STR(C, u.cluster.cred_kinds), STR_MAX(C, u.cluster.sealed, PROTO_MAX_SEALED),
	STRS(C, u.cluster.namespaces, u.cluster.n_namespaces), STRS(C, u.cluster.labels, u.cluster.n_labels),
	U64(C, u.cluster.insecure), U64(C, u.cluster.interval_s),
};
static const struct schema_field cluster_delete[] = {STR(C, u.cluster_id)};
static const struct schema_field lease[] = {STR(C, u.lease.duty), U64(C, u.lease.holder), U64(C, u.lease.period_ms)};
static const struct schema_field jobs_queue[] = {
	STRS(C, u.jobs.ids, u.jobs.n), STRS(C, u.jobs.clusters, u.jobs.n_clusters), STR(C, u.jobs.reason),
};
static const struct schema_field job_start[] = {
	STR(C, u.job_start.id), STR(C, u.job_start.cluster_id), U64(C, u.job_start.node),
};
static const struct schema_field collect_result[] = {
	STR(C, u.collect.job_id), STR(C, u.collect.cluster_id), STR(C, u.collect.status), STR(C, u.collect.error),
	U64(C, u.collect.node), I64(C, u.collect.started_at_ms), I64(C, u.collect.finished_at_ms),
	RECORDS(C, obs, n_obs, observation_table, false), /* a run that saw nothing has none */
};
static const struct schema_field member_put[] = {
	U64(C, u.member.id), STR(C, u.member.name), STR(C, u.member.region), STR(C, u.member.raft),
	STR(C, u.member.rpc), STR(C, u.member.http),
};
static const struct schema_field member_delete[] = {U64(C, u.member_id)};
static const struct schema_field webhook_put[] = {
	STR(C, u.webhook.id), STR(C, u.webhook.url), STRS(C, u.webhook.events, u.webhook.n_events),
	STR(C, u.webhook.sealed_secret), STR(C, u.webhook.client),
};
static const struct schema_field webhook_delete[] = {STR(C, u.webhook_id)};
static const struct schema_field webhook_progress[] = {
	STR(C, u.delivery.webhook_id), U64(C, u.delivery.event_index), U64(C, u.delivery.event_seq),
	STR(C, u.delivery.event_type), U64(C, u.delivery.ok), U64(C, u.delivery.http_status),
	STR(C, u.delivery.error), U64(C, u.delivery.node), I64(C, u.delivery.duration_ms),
};
static const struct schema_field alert[] = {
	STR(C, u.alert.id), STR(C, u.alert.action), STR(C, u.alert.kind), STR(C, u.alert.severity),
	STR(C, u.alert.message), STR(C, u.alert.client), STR(C, u.alert.by),
};
static const struct schema_field import[] = {
	RECORDS(C, u.import.rows, u.import.n_rows, import_row_table, false),
	RECORDS(C, u.import.pings, u.import.n_pings, ping_record_table, false),
};

static const struct schema_field prune[] = {
	U64(C, u.prune.history_keep), I64(C, u.prune.history_before_ms), U64(C, u.prune.jobs_keep),
	I64(C, u.prune.jobs_before_ms), U64(C, u.prune.max_deletes),
};

static const struct schema_field user_put[] = {
	STR(C, u.user.id), STR(C, u.user.username), STR(C, u.user.email), STR(C, u.user.full_name),
	STR(C, u.user.role), STR(C, u.user.client), STR(C, u.user.pw_hash), U64(C, u.user.active), U64(C, u.user.create),
};
static const struct schema_field user_delete[] = {STR(C, u.user_id)};
static const struct schema_field apikey_put[] = {
	STR(C, u.apikey.id), STR(C, u.apikey.name), STR(C, u.apikey.description), STR(C, u.apikey.scope),
	STR(C, u.apikey.hash), STR(C, u.apikey.prefix), STR(C, u.apikey.owner), I64(C, u.apikey.expires_ms),
};
static const struct schema_field apikey_delete[] = {STR(C, u.apikey_id)};
static const struct schema_field signing_key[] = {
	STR(C, u.signing.kid), STR(C, u.signing.sealed), I64(C, u.signing.overlap_ms),
};
static const struct schema_field session[] = {
	U32_IN(C, u.session.op, PROTO_SESSION_START, PROTO_SESSION_REVOKE), STR(C, u.session.family),
	STR(C, u.session.user_id), STR(C, u.session.jti), STR(C, u.session.new_jti), I64(C, u.session.expires_ms),
};
static const struct schema_field key_use[] = {STR(struct proto_key_use, id), I64(struct proto_key_use, at_ms)};
static const struct schema_table key_use_table = TABLE(key_use, struct proto_key_use);
static const struct schema_field keys_used[] = {RECORDS(C, u.keys_used.uses, u.keys_used.n, key_use_table, true)};

static const struct schema_field prune_identity[] = {
	I64(C, u.prune_identity.sessions_before_ms), U64(C, u.prune_identity.audit_keep),
	I64(C, u.prune_identity.audit_before_ms), U64(C, u.prune_identity.max_deletes),
};

#define CMD(body_, fields) {body_, TABLE(fields, C)}

const struct schema_cmd schema_cmds[PROTO_CMD_TYPE_MAX_] = {
	[PROTO_CMD_NOOP] = {BODY_NIL, {NULL, 0, sizeof(C)}},
	[PROTO_CMD_OBSERVE] = CMD(BODY_BARE, observe),
	[PROTO_CMD_PING] = CMD(BODY_FIELDS, ping),
	[PROTO_CMD_CLUSTER_PUT] = CMD(BODY_FIELDS, cluster_put),
	[PROTO_CMD_CLUSTER_DELETE] = CMD(BODY_FIELDS, cluster_delete),
	[PROTO_CMD_LEASE] = CMD(BODY_FIELDS, lease),
	[PROTO_CMD_JOBS_QUEUE] = CMD(BODY_FIELDS, jobs_queue),
	[PROTO_CMD_JOB_START] = CMD(BODY_FIELDS, job_start),
	[PROTO_CMD_COLLECT_RESULT] = CMD(BODY_FIELDS, collect_result),
	[PROTO_CMD_MEMBER_PUT] = CMD(BODY_FIELDS, member_put),
	[PROTO_CMD_MEMBER_DELETE] = CMD(BODY_FIELDS, member_delete),
	[PROTO_CMD_WEBHOOK_PUT] = CMD(BODY_FIELDS, webhook_put),
	[PROTO_CMD_WEBHOOK_DELETE] = CMD(BODY_FIELDS, webhook_delete),
	[PROTO_CMD_WEBHOOK_PROGRESS] = CMD(BODY_FIELDS, webhook_progress),
	[PROTO_CMD_ALERT] = CMD(BODY_FIELDS, alert),
	[PROTO_CMD_IMPORT] = CMD(BODY_FIELDS, import),
	[PROTO_CMD_PRUNE] = CMD(BODY_FIELDS, prune),
	[PROTO_CMD_USER_PUT] = CMD(BODY_FIELDS, user_put),
	[PROTO_CMD_USER_DELETE] = CMD(BODY_FIELDS, user_delete),
	[PROTO_CMD_APIKEY_PUT] = CMD(BODY_FIELDS, apikey_put),
	[PROTO_CMD_APIKEY_DELETE] = CMD(BODY_FIELDS, apikey_delete),
	[PROTO_CMD_SIGNING_KEY] = CMD(BODY_FIELDS, signing_key),
	[PROTO_CMD_SESSION] = CMD(BODY_FIELDS, session),
	[PROTO_CMD_KEYS_USED] = CMD(BODY_FIELDS, keys_used),
	[PROTO_CMD_PRUNE_IDENTITY] = CMD(BODY_FIELDS, prune_identity),
};
#undef C

/* ---- apply results: [PROTO_VERSION, fields...] ---- */

#define R struct proto_result
static const struct schema_field result[] = {I32(R, code), U64(R, index), U32(R, replay), U32(R, created), U32(R, updated)};
const struct schema_table schema_result = TABLE(result, R);
#undef R

/* ---- messages: [PROTO_VERSION, type, fields...] ---- */

#define M struct proto_msg
static const struct schema_field propose[] = {
	U32(M, u.propose.timeout_ms), U32(M, u.propose.hops), BIN_NONEMPTY(M, u.propose.cmd, u.propose.cmd_len),
};
static const struct schema_field barrier[] = {U32(M, u.barrier.timeout_ms), U32(M, u.barrier.hops)};
static const struct schema_field reply[] = {
	I32_IN(M, u.reply.status, 0, PROTO_STATUS_COUNT_ - 1), U64(M, u.reply.index), STR(M, u.reply.leader),
	STR(M, u.reply.message), BIN(M, u.reply.result, u.reply.result_len),
};
static const struct schema_field status[] = {
	U64(M, u.status.node_id), U32_IN(M, u.status.role, 0, PROTO_ROLE_REMOVED), U32(M, u.status.ready),
	U64(M, u.status.term), U64(M, u.status.commit), U64(M, u.status.applied), U64(M, u.status.leader_id),
	STR(M, u.status.leader_name), I64(M, u.status.last_contact_ms),
	STR_MAX(M, u.status.members, PROTO_MAX_STR * 8), U64(M, u.status.removed_id),
};
static const struct schema_field collect[] = {STR(M, u.collect.job_id), STR(M, u.collect.cluster_id)};
static const struct schema_field status_query[] = {U32(M, u.query_hops)};
static const struct schema_field member_change[] = {
	U32_IN(M, u.member.op, PROTO_MEMBER_ADD, PROTO_MEMBER_TRANSFER), U32(M, u.member.hops),
	U32_IN(M, u.member.role, 0, 2), U32(M, u.member.timeout_ms), U64(M, u.member.m.id),
	STR(M, u.member.m.name), STR(M, u.member.m.region), STR(M, u.member.m.raft), STR(M, u.member.m.rpc),
	STR(M, u.member.m.http), STR(M, u.member.cluster),
};
static const struct schema_field leader_confirm[] = {U64(M, u.confirm.term), U64(M, u.confirm.leader_id)};

const struct schema_table schema_msgs[PROTO_MSG_TYPE_MAX_] = {
	[PROTO_MSG_PROPOSE] = TABLE(propose, M),
	[PROTO_MSG_BARRIER] = TABLE(barrier, M),
	[PROTO_MSG_REPLY] = TABLE(reply, M),
	[PROTO_MSG_STATUS] = TABLE(status, M),
	[PROTO_MSG_COLLECT] = TABLE(collect, M),
	[PROTO_MSG_STATUS_QUERY] = TABLE(status_query, M),
	[PROTO_MSG_MEMBER_CHANGE] = TABLE(member_change, M),
	[PROTO_MSG_METRICS_QUERY] = {NULL, 0, sizeof(M)}, /* no fields */
	[PROTO_MSG_LEADER_CONFIRM] = TABLE(leader_confirm, M),
};
#undef M
