/* Commands described by a field table: one table drives validation,
 * encoding and decoding of each command's body (an array of its fields). */
#include <stddef.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/schema.h"

enum field_kind {
	F_STR,  /* const char * */
	F_U64,  /* uint64_t */
	F_I64,  /* int64_t */
	F_STRS, /* const char ** with a uint32_t count */
	F_OBS,  /* the command's observations (obs, n_obs) */
};

struct field {
	enum field_kind kind;
	size_t off;       /* offset in struct proto_cmd */
	size_t count_off; /* F_STRS: offset of the uint32_t count */
};

#define U(m) offsetof(struct proto_cmd, u.m)
#define STR(m) {F_STR, U(m), 0}
#define U64(m) {F_U64, U(m), 0}
#define I64(m) {F_I64, U(m), 0}
#define STRS(m, n) {F_STRS, U(m), U(n)}
#define OBS {F_OBS, 0, 0}

static const struct field cluster_put[] = {
	STR(cluster.id), STR(cluster.name), STR(cluster.server), STR(cluster.client), STR(cluster.env),
	STR(cluster.cred_kinds), STR(cluster.sealed), STRS(cluster.namespaces, cluster.n_namespaces), STRS(cluster.labels, cluster.n_labels),
	U64(cluster.insecure), U64(cluster.interval_s),
};
static const struct field cluster_delete[] = {STR(cluster_id)};
static const struct field lease[] = {STR(lease.duty), U64(lease.holder), U64(lease.period_ms)};
static const struct field jobs_queue[] = {STRS(jobs.ids, jobs.n), STRS(jobs.clusters, jobs.n_clusters), STR(jobs.reason)};
static const struct field job_start[] = {STR(job_start.id), STR(job_start.cluster_id), U64(job_start.node)};
static const struct field collect[] = {
	STR(collect.job_id), STR(collect.cluster_id), STR(collect.status), STR(collect.error),
	U64(collect.node), I64(collect.started_at_ms), I64(collect.finished_at_ms), OBS,
};

static const struct field member_put[] = {
	U64(member.id), STR(member.name), STR(member.region), STR(member.raft), STR(member.rpc), STR(member.http),
};
static const struct field member_delete[] = {U64(member_id)};

static const struct field webhook_put[] = {
	STR(webhook.id), STR(webhook.url), STRS(webhook.events, webhook.n_events), STR(webhook.sealed_secret),
	STR(webhook.client),
};
static const struct field webhook_delete[] = {STR(webhook_id)};
static const struct field webhook_progress[] = {
	STR(delivery.webhook_id), U64(delivery.event_index), U64(delivery.event_seq), STR(delivery.event_type),
	U64(delivery.ok), U64(delivery.http_status), STR(delivery.error), U64(delivery.node), I64(delivery.duration_ms),
};

static const struct field alert[] = {
	STR(alert.id), STR(alert.action), STR(alert.kind), STR(alert.severity), STR(alert.message), STR(alert.client),
	STR(alert.by),
};

struct schema {
	const struct field *fields;
	size_t n;
};

#define SCHEMA(t) {t, sizeof(t) / sizeof(t[0])}

static const struct schema schemas[PROTO_CMD_TYPE_MAX_] = {
	[PROTO_CMD_CLUSTER_PUT] = SCHEMA(cluster_put),
	[PROTO_CMD_CLUSTER_DELETE] = SCHEMA(cluster_delete),
	[PROTO_CMD_LEASE] = SCHEMA(lease),
	[PROTO_CMD_JOBS_QUEUE] = SCHEMA(jobs_queue),
	[PROTO_CMD_JOB_START] = SCHEMA(job_start),
	[PROTO_CMD_COLLECT_RESULT] = SCHEMA(collect),
	[PROTO_CMD_MEMBER_PUT] = SCHEMA(member_put),
	[PROTO_CMD_MEMBER_DELETE] = SCHEMA(member_delete),
	[PROTO_CMD_WEBHOOK_PUT] = SCHEMA(webhook_put),
	[PROTO_CMD_WEBHOOK_DELETE] = SCHEMA(webhook_delete),
	[PROTO_CMD_WEBHOOK_PROGRESS] = SCHEMA(webhook_progress),
	[PROTO_CMD_ALERT] = SCHEMA(alert),
};

#define AT(c, off, T) ((T *)((char *)(c) + (off)))
#define CAT(c, off, T) ((const T *)((const char *)(c) + (off)))

bool schema_has(uint32_t type)
{
	return type < PROTO_CMD_TYPE_MAX_ && schemas[type].fields != NULL;
}

static bool str_ok(const char *s)
{
	return s != NULL && strlen(s) <= PROTO_MAX_STR;
}

int schema_validate(const struct proto_cmd *c)
{
	const struct schema *sc = &schemas[c->type];
	for (size_t i = 0; i < sc->n; i++) {
		const struct field *f = &sc->fields[i];
		if (f->kind == F_STR && !str_ok(*CAT(c, f->off, const char *))) {
			return PROTO_EINVAL;
		}
		if (f->kind == F_STRS) {
			uint32_t n = *CAT(c, f->count_off, uint32_t);
			const char *const *v = *CAT(c, f->off, const char *const *);
			if (n > PROTO_MAX_OBS || (n > 0 && v == NULL)) {
				return PROTO_EINVAL;
			}
			for (uint32_t k = 0; k < n; k++) {
				if (!str_ok(v[k])) {
					return PROTO_EINVAL;
				}
			}
		}
		if (f->kind == F_OBS && cmd_validate_obs(c, true) != PROTO_OK) {
			return PROTO_EINVAL;
		}
	}
	return PROTO_OK;
}

void schema_pack(msgpack_packer *pk, const struct proto_cmd *c)
{
	const struct schema *sc = &schemas[c->type];
	msgpack_pack_array(pk, sc->n);
	for (size_t i = 0; i < sc->n; i++) {
		const struct field *f = &sc->fields[i];
		switch (f->kind) {
		case F_STR:
			codec_pack_str(pk, *CAT(c, f->off, const char *));
			break;
		case F_U64:
			msgpack_pack_uint64(pk, *CAT(c, f->off, uint64_t));
			break;
		case F_I64:
			msgpack_pack_int64(pk, *CAT(c, f->off, int64_t));
			break;
		case F_STRS: {
			uint32_t n = *CAT(c, f->count_off, uint32_t);
			const char *const *v = *CAT(c, f->off, const char *const *);
			msgpack_pack_array(pk, n);
			for (uint32_t k = 0; k < n; k++) {
				codec_pack_str(pk, v[k]);
			}
			break;
		}
		case F_OBS:
			cmd_pack_obs(pk, c);
			break;
		}
	}
}

int schema_decode(const msgpack_object *body, struct codec_arena *a, struct proto_cmd *c)
{
	const struct schema *sc = &schemas[c->type];
	if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != sc->n) {
		return PROTO_EINVAL;
	}
	for (size_t i = 0; i < sc->n; i++) {
		const struct field *f = &sc->fields[i];
		const msgpack_object *o = &body->via.array.ptr[i];
		int rv = PROTO_OK;
		switch (f->kind) {
		case F_STR:
			rv = codec_str(o, a, PROTO_MAX_STR, AT(c, f->off, const char *));
			break;
		case F_U64:
			rv = codec_u64(o, AT(c, f->off, uint64_t));
			break;
		case F_I64:
			rv = codec_i64(o, AT(c, f->off, int64_t));
			break;
		case F_STRS: {
			if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_MAX_OBS) {
				return PROTO_EINVAL;
			}
			uint32_t n = o->via.array.size;
			const char **v = codec_alloc(a, (n > 0 ? n : 1) * sizeof(*v));
			if (v == NULL) {
				return PROTO_ETOOBIG;
			}
			for (uint32_t k = 0; k < n && rv == PROTO_OK; k++) {
				rv = codec_str(&o->via.array.ptr[k], a, PROTO_MAX_STR, &v[k]);
			}
			*AT(c, f->off, const char **) = v;
			*AT(c, f->count_off, uint32_t) = n;
			break;
		}
		case F_OBS:
			rv = cmd_decode_obs(o, a, c, true);
			break;
		}
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return PROTO_OK;
}
