/* Raft commands and apply results. */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/schema.h"

#define OBS_FIELDS 11u

static bool str_ok(const char *s)
{
	return s != NULL && strlen(s) <= PROTO_MAX_STR;
}

int cmd_validate_obs(const struct proto_cmd *c, bool allow_empty)
{
	if ((c->n_obs == 0 && !allow_empty) || c->n_obs > PROTO_MAX_OBS || (c->n_obs > 0 && c->obs == NULL)) {
		return PROTO_EINVAL;
	}
	for (uint32_t i = 0; i < c->n_obs; i++) {
			const struct proto_observation *o = &c->obs[i];
			const char *f[] = {o->client, o->env, o->ns, o->kind, o->workload, o->container,
			                   o->image_repo, o->image_name, o->image_tag, o->image_sha};
			for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
				if (!str_ok(f[k])) {
					return PROTO_EINVAL;
				}
			}
	}
	return PROTO_OK;
}

static int validate(const struct proto_cmd *c)
{
	if (c->type == 0 || c->type >= PROTO_CMD_TYPE_MAX_ || !str_ok(c->idem_key)) {
		return PROTO_EINVAL;
	}
	if (schema_has(c->type)) {
		return schema_validate(c);
	}
	if (c->type == PROTO_CMD_OBSERVE && cmd_validate_obs(c, false) != PROTO_OK) {
		return PROTO_EINVAL;
	}
	if (c->type == PROTO_CMD_PING &&
	    (!str_ok(c->ping.client) || !str_ok(c->ping.env) || !str_ok(c->ping.version))) {
		return PROTO_EINVAL;
	}
	return PROTO_OK;
}

void cmd_pack_obs(msgpack_packer *pk, const struct proto_cmd *c)
{
	msgpack_pack_array(pk, c->n_obs);
	for (uint32_t i = 0; i < c->n_obs; i++) {
		const struct proto_observation *o = &c->obs[i];
		msgpack_pack_array(pk, OBS_FIELDS);
		codec_pack_str(pk, o->client);
		codec_pack_str(pk, o->env);
		codec_pack_str(pk, o->ns);
		codec_pack_str(pk, o->kind);
		codec_pack_str(pk, o->workload);
		codec_pack_str(pk, o->container);
		codec_pack_str(pk, o->image_repo);
		codec_pack_str(pk, o->image_name);
		codec_pack_str(pk, o->image_tag);
		codec_pack_str(pk, o->image_sha);
		msgpack_pack_int64(pk, o->seen_at_ms);
	}
}

int proto_cmd_encode(const struct proto_cmd *c, struct proto_buf *out)
{
	int rv = validate(c);
	if (rv != PROTO_OK) {
		return rv;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, c->type);
	msgpack_pack_int64(&pk, c->ts_ms);
	codec_pack_str(&pk, c->idem_key);
	if (schema_has(c->type)) {
		schema_pack(&pk, c);
		return codec_finish(&sb, out);
	}
	switch (c->type) {
	case PROTO_CMD_OBSERVE:
		cmd_pack_obs(&pk, c);
		break;
	case PROTO_CMD_PING:
		msgpack_pack_array(&pk, 4);
		codec_pack_str(&pk, c->ping.client);
		codec_pack_str(&pk, c->ping.env);
		codec_pack_str(&pk, c->ping.version);
		msgpack_pack_int64(&pk, c->ping.at_ms);
		break;
	default:
		msgpack_pack_nil(&pk);
		break;
	}
	return codec_finish(&sb, out);
}

static int decode_obs(const msgpack_object *o, struct codec_arena *a, struct proto_observation *ob)
{
	const char **f[] = {&ob->client, &ob->env, &ob->ns, &ob->kind, &ob->workload, &ob->container,
	                    &ob->image_repo, &ob->image_name, &ob->image_tag, &ob->image_sha};
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != OBS_FIELDS) {
		return PROTO_EINVAL;
	}
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		int rv = codec_str(&o->via.array.ptr[k], a, PROTO_MAX_STR, f[k]);
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return codec_i64(&o->via.array.ptr[10], &ob->seen_at_ms);
}

int cmd_decode_obs(const msgpack_object *body, struct codec_arena *a, struct proto_cmd *c, bool allow_empty)
{
	if (body->type != MSGPACK_OBJECT_ARRAY || (body->via.array.size == 0 && !allow_empty) ||
	    body->via.array.size > PROTO_MAX_OBS) {
		return PROTO_EINVAL;
	}
	c->n_obs = body->via.array.size;
	if (c->n_obs == 0) {
		return PROTO_OK;
	}
	c->obs = calloc(c->n_obs, sizeof(*c->obs));
	if (c->obs == NULL) {
		return PROTO_ENOMEM;
	}
	for (uint32_t i = 0; i < c->n_obs; i++) {
		int rv = decode_obs(&body->via.array.ptr[i], a, &c->obs[i]);
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return PROTO_OK;
}

static int decode_body(const msgpack_object *f, struct codec_arena *a, struct proto_cmd *c)
{
	const msgpack_object *body = &f[2];
	int rv;
	if (schema_has(c->type)) {
		return schema_decode(body, a, c);
	}
	switch (c->type) {
	case PROTO_CMD_OBSERVE:
		return cmd_decode_obs(body, a, c, false);
	case PROTO_CMD_PING:
		if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != 4) {
			return PROTO_EINVAL;
		}
		if ((rv = codec_str(&body->via.array.ptr[0], a, PROTO_MAX_STR, &c->ping.client)) != 0 ||
		    (rv = codec_str(&body->via.array.ptr[1], a, PROTO_MAX_STR, &c->ping.env)) != 0 ||
		    (rv = codec_str(&body->via.array.ptr[2], a, PROTO_MAX_STR, &c->ping.version)) != 0) {
			return rv;
		}
		return codec_i64(&body->via.array.ptr[3], &c->ping.at_ms);
	default:
		return body->type == MSGPACK_OBJECT_NIL ? PROTO_OK : PROTO_EINVAL;
	}
}

int proto_cmd_decode(const void *buf, size_t len, struct proto_cmd *c)
{
	msgpack_unpacked up;
	struct codec_arena a;
	const msgpack_object *f;
	uint32_t n;
	memset(c, 0, sizeof(*c));
	int rv = codec_unpack(buf, len, &up, &a, 0);
	if (rv != PROTO_OK) {
		return rv;
	}
	c->mem_ = a.base;
	rv = codec_envelope(&up.data, PROTO_CMD_TYPE_MAX_, &c->type, &f, &n);
	if (rv == PROTO_OK && n != 3) {
		rv = PROTO_EINVAL;
	}
	if (rv == PROTO_OK) {
		rv = codec_i64(&f[0], &c->ts_ms);
	}
	if (rv == PROTO_OK) {
		rv = codec_str(&f[1], &a, PROTO_MAX_STR, &c->idem_key);
	}
	if (rv == PROTO_OK) {
		rv = decode_body(f, &a, c);
	}
	msgpack_unpacked_destroy(&up);
	if (rv != PROTO_OK) {
		proto_cmd_free(c);
	}
	return rv;
}

void proto_cmd_free(struct proto_cmd *c)
{
	free(c->obs);
	free(c->mem_);
	memset(c, 0, sizeof(*c));
}

int proto_result_encode(const struct proto_result *r, struct proto_buf *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_int32(&pk, r->code);
	msgpack_pack_uint64(&pk, r->index);
	msgpack_pack_uint32(&pk, r->replay);
	msgpack_pack_uint32(&pk, r->created);
	msgpack_pack_uint32(&pk, r->updated);
	return codec_finish(&sb, out);
}

int proto_result_decode(const void *buf, size_t len, struct proto_result *r)
{
	msgpack_unpacked up;
	struct codec_arena a;
	uint32_t version;
	memset(r, 0, sizeof(*r));
	int rv = codec_unpack(buf, len, &up, &a, 0);
	if (rv != PROTO_OK) {
		return rv;
	}
	free(a.base);
	const msgpack_object *o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 6 ||
	    codec_u32(&o->via.array.ptr[0], &version) != 0 || version != PROTO_VERSION ||
	    codec_i32(&o->via.array.ptr[1], &r->code) != 0 || codec_u64(&o->via.array.ptr[2], &r->index) != 0 ||
	    codec_u32(&o->via.array.ptr[3], &r->replay) != 0 || codec_u32(&o->via.array.ptr[4], &r->created) != 0 ||
	    codec_u32(&o->via.array.ptr[5], &r->updated) != 0) {
		rv = PROTO_EINVAL;
	}
	msgpack_unpacked_destroy(&up);
	return rv;
}
