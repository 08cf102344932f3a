/* Actor messages: proposals, barriers, replies and published status. */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"

static int field_count(uint32_t type)
{
	switch (type) {
	case PROTO_MSG_PROPOSE: return 3;
	case PROTO_MSG_BARRIER: return 2;
	case PROTO_MSG_REPLY: return 5;
	case PROTO_MSG_STATUS: return 11;
	case PROTO_MSG_COLLECT: return 2;
	case PROTO_MSG_STATUS_QUERY: return 1;
	case PROTO_MSG_MEMBER_CHANGE: return 11;
	case PROTO_MSG_METRICS_QUERY: return 0;
	case PROTO_MSG_LEADER_CONFIRM: return 2;
	default: return -1;
	}
}

int proto_msg_encode(const struct proto_msg *m, struct proto_buf *out)
{
	int n = field_count(m->type);
	if (n < 0) {
		return PROTO_EINVAL;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, (size_t)n + 2);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, m->type);
	switch (m->type) {
	case PROTO_MSG_PROPOSE:
		msgpack_pack_uint32(&pk, m->u.propose.timeout_ms);
		msgpack_pack_uint32(&pk, m->u.propose.hops);
		codec_pack_bin(&pk, m->u.propose.cmd, m->u.propose.cmd_len);
		break;
	case PROTO_MSG_BARRIER:
		msgpack_pack_uint32(&pk, m->u.barrier.timeout_ms);
		msgpack_pack_uint32(&pk, m->u.barrier.hops);
		break;
	case PROTO_MSG_REPLY:
		msgpack_pack_int32(&pk, m->u.reply.status);
		msgpack_pack_uint64(&pk, m->u.reply.index);
		codec_pack_str(&pk, m->u.reply.leader);
		codec_pack_str(&pk, m->u.reply.message);
		codec_pack_bin(&pk, m->u.reply.result, m->u.reply.result_len);
		break;
	case PROTO_MSG_COLLECT:
		codec_pack_str(&pk, m->u.collect.job_id);
		codec_pack_str(&pk, m->u.collect.cluster_id);
		break;
	case PROTO_MSG_STATUS: {
		const struct proto_node_status *s = &m->u.status;
		msgpack_pack_uint64(&pk, s->node_id);
		msgpack_pack_uint32(&pk, s->role);
		msgpack_pack_uint32(&pk, s->ready);
		msgpack_pack_uint64(&pk, s->term);
		msgpack_pack_uint64(&pk, s->commit);
		msgpack_pack_uint64(&pk, s->applied);
		msgpack_pack_uint64(&pk, s->leader_id);
		codec_pack_str(&pk, s->leader_name);
		msgpack_pack_int64(&pk, s->last_contact_ms);
		codec_pack_str(&pk, s->members);
		msgpack_pack_uint64(&pk, s->removed_id);
		break;
	}
	case PROTO_MSG_STATUS_QUERY:
		msgpack_pack_uint32(&pk, m->u.query_hops);
		break;
	case PROTO_MSG_LEADER_CONFIRM:
		msgpack_pack_uint64(&pk, m->u.confirm.term);
		msgpack_pack_uint64(&pk, m->u.confirm.leader_id);
		break;
	case PROTO_MSG_MEMBER_CHANGE: {
		const struct proto_member_change *c = &m->u.member;
		msgpack_pack_uint32(&pk, c->op);
		msgpack_pack_uint32(&pk, c->hops);
		msgpack_pack_uint32(&pk, c->role);
		msgpack_pack_uint32(&pk, c->timeout_ms);
		msgpack_pack_uint64(&pk, c->m.id);
		codec_pack_str(&pk, c->m.name);
		codec_pack_str(&pk, c->m.region);
		codec_pack_str(&pk, c->m.raft);
		codec_pack_str(&pk, c->m.rpc);
		codec_pack_str(&pk, c->m.http);
		codec_pack_str(&pk, c->cluster);
		break;
	}
	}
	return codec_finish(&sb, out);
}

static int decode_fields(struct proto_msg *m, const msgpack_object *f, struct codec_arena *a)
{
	switch (m->type) {
	case PROTO_MSG_PROPOSE: {
		struct proto_propose *p = &m->u.propose;
		if (codec_u32(&f[0], &p->timeout_ms) || codec_u32(&f[1], &p->hops) ||
		    codec_bin(&f[2], a, &p->cmd, &p->cmd_len) || p->cmd_len == 0) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	}
	case PROTO_MSG_BARRIER:
		if (codec_u32(&f[0], &m->u.barrier.timeout_ms) || codec_u32(&f[1], &m->u.barrier.hops)) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	case PROTO_MSG_REPLY: {
		struct proto_reply *r = &m->u.reply;
		if (codec_i32(&f[0], &r->status) || r->status < 0 || r->status >= PROTO_STATUS_COUNT_ ||
		    codec_u64(&f[1], &r->index) || codec_str(&f[2], a, PROTO_MAX_STR, &r->leader) ||
		    codec_str(&f[3], a, PROTO_MAX_STR, &r->message) ||
		    codec_bin(&f[4], a, &r->result, &r->result_len)) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	}
	case PROTO_MSG_COLLECT:
		if (codec_str(&f[0], a, PROTO_MAX_STR, &m->u.collect.job_id) ||
		    codec_str(&f[1], a, PROTO_MAX_STR, &m->u.collect.cluster_id)) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	case PROTO_MSG_STATUS: {
		struct proto_node_status *s = &m->u.status;
		if (codec_u64(&f[0], &s->node_id) || codec_u32(&f[1], &s->role) || s->role > PROTO_ROLE_REMOVED ||
		    codec_u32(&f[2], &s->ready) || codec_u64(&f[3], &s->term) || codec_u64(&f[4], &s->commit) ||
		    codec_u64(&f[5], &s->applied) || codec_u64(&f[6], &s->leader_id) ||
		    codec_str(&f[7], a, PROTO_MAX_STR, &s->leader_name) || codec_i64(&f[8], &s->last_contact_ms) ||
		    codec_str(&f[9], a, PROTO_MAX_STR * 8, &s->members) || codec_u64(&f[10], &s->removed_id)) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	}
	case PROTO_MSG_STATUS_QUERY:
		return codec_u32(&f[0], &m->u.query_hops) ? PROTO_EINVAL : PROTO_OK;
	case PROTO_MSG_METRICS_QUERY:
		return PROTO_OK;
	case PROTO_MSG_LEADER_CONFIRM:
		return codec_u64(&f[0], &m->u.confirm.term) || codec_u64(&f[1], &m->u.confirm.leader_id) ? PROTO_EINVAL
		                                                                                             : PROTO_OK;
	case PROTO_MSG_MEMBER_CHANGE: {
		struct proto_member_change *c = &m->u.member;
		if (codec_u32(&f[0], &c->op) || c->op < PROTO_MEMBER_ADD || c->op > PROTO_MEMBER_TRANSFER ||
		    codec_u32(&f[1], &c->hops) || codec_u32(&f[2], &c->role) || c->role > 2 ||
		    codec_u32(&f[3], &c->timeout_ms) || codec_u64(&f[4], &c->m.id) ||
		    codec_str(&f[5], a, PROTO_MAX_STR, &c->m.name) || codec_str(&f[6], a, PROTO_MAX_STR, &c->m.region) ||
		    codec_str(&f[7], a, PROTO_MAX_STR, &c->m.raft) || codec_str(&f[8], a, PROTO_MAX_STR, &c->m.rpc) ||
		    codec_str(&f[9], a, PROTO_MAX_STR, &c->m.http) || codec_str(&f[10], a, PROTO_MAX_STR, &c->cluster)) {
			return PROTO_EINVAL;
		}
		return PROTO_OK;
	}
	default:
		return PROTO_EINVAL;
	}
}

int proto_msg_decode(const void *buf, size_t len, struct proto_msg *m)
{
	msgpack_unpacked up;
	struct codec_arena a;
	const msgpack_object *f;
	uint32_t n;
	memset(m, 0, sizeof(*m));
	int rv = codec_unpack(buf, len, &up, &a, 0);
	if (rv != PROTO_OK) {
		return rv;
	}
	m->mem_ = a.base;
	rv = codec_envelope(&up.data, PROTO_MSG_TYPE_MAX_, &m->type, &f, &n);
	if (rv == PROTO_OK && (int)n != field_count(m->type)) {
		rv = PROTO_EINVAL;
	}
	if (rv == PROTO_OK) {
		rv = decode_fields(m, f, &a);
	}
	msgpack_unpacked_destroy(&up);
	if (rv != PROTO_OK) {
		proto_msg_free(m);
	}
	return rv;
}

void proto_msg_free(struct proto_msg *m)
{
	free(m->mem_);
	memset(m, 0, sizeof(*m));
}
