/* Raft commands and apply results: their envelopes, with the bodies
 * described in tables.c. */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/schema.h"

static bool str_ok(const char *s)
{
	return s != NULL && strlen(s) <= PROTO_MAX_STR;
}

/* The command's schema, NULL for a type that does not exist. */
static const struct schema_cmd *schema_of(uint32_t type)
{
	if (type == 0 || type >= PROTO_CMD_TYPE_MAX_) {
		return NULL;
	}
	return &schema_cmds[type];
}

/* The origin's strings, in wire order. */
static const char *const *origin_strs(const struct proto_origin *o, const char *out[4])
{
	out[0] = o->actor;
	out[1] = o->node != NULL ? o->node : "";
	out[2] = o->addr != NULL ? o->addr : "";
	out[3] = o->request_id != NULL ? o->request_id : "";
	return out;
}

int proto_cmd_encode(const struct proto_cmd *c, struct proto_buf *out)
{
	const struct schema_cmd *sc = schema_of(c->type);
	if (sc == NULL || !str_ok(c->idem_key) || schema_validate(&sc->t, c) != PROTO_OK) {
		return PROTO_EINVAL;
	}
	bool origin = c->origin.actor != NULL && c->origin.actor[0] != '\0';
	const char *os[4];
	origin_strs(&c->origin, os);
	for (int i = 0; origin && i < 4; i++) {
		if (!str_ok(os[i])) {
			return PROTO_EINVAL;
		}
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, origin ? 6 : 5);
	msgpack_pack_uint32(&pk, origin || c->type >= PROTO_CMD_USER_PUT ? PROTO_CMD_VERSION_IDENTITY : PROTO_VERSION);
	msgpack_pack_uint32(&pk, c->type);
	msgpack_pack_int64(&pk, c->ts_ms);
	codec_pack_str(&pk, c->idem_key);
	switch (sc->body) {
	case BODY_NIL:
		msgpack_pack_nil(&pk);
		break;
	case BODY_FIELDS:
		msgpack_pack_array(&pk, sc->t.n);
		schema_pack(&pk, &sc->t, c);
		break;
	case BODY_BARE:
		schema_pack(&pk, &sc->t, c);
		break;
	}
	if (origin) {
		msgpack_pack_array(&pk, 4);
		for (int i = 0; i < 4; i++) {
			codec_pack_str(&pk, os[i]);
		}
	}
	return codec_finish(&sb, out);
}

static int decode_body(const msgpack_object *body, struct codec_arena *a, struct proto_cmd *c)
{
	const struct schema_cmd *sc = &schema_cmds[c->type];
	switch (sc->body) {
	case BODY_NIL:
		return body->type == MSGPACK_OBJECT_NIL ? PROTO_OK : PROTO_EINVAL;
	case BODY_FIELDS:
		if (body->type != MSGPACK_OBJECT_ARRAY) {
			return PROTO_EINVAL;
		}
		return schema_unpack(body->via.array.ptr, body->via.array.size, a, &sc->t, c);
	case BODY_BARE:
		return schema_unpack(body, 1, a, &sc->t, c);
	}
	return PROTO_EINVAL;
}

static int decode_origin(const msgpack_object *o, struct codec_arena *a, struct proto_origin *out)
{
	const char **dst[4] = {&out->actor, &out->node, &out->addr, &out->request_id};
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4) {
		return PROTO_EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		int rv = codec_str(&o->via.array.ptr[i], a, PROTO_MAX_STR, dst[i]);
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return out->actor[0] != '\0' ? PROTO_OK : PROTO_EINVAL; /* an empty actor is written as no origin */
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
	uint32_t version = 0;
	rv = codec_envelope(&up.data, PROTO_CMD_TYPE_MAX_, &version, &c->type, &f, &n);
	if (rv == PROTO_OK && n != 3 && n != 4) { /* the fourth: its origin */
		rv = PROTO_EINVAL;
	}
	/* one encoding per command: version 3 exactly for the identity era's */
	if (rv == PROTO_OK && (version == PROTO_CMD_VERSION_IDENTITY) != (n == 4 || c->type >= PROTO_CMD_USER_PUT)) {
		rv = PROTO_EINVAL;
	}
	if (rv == PROTO_OK) {
		rv = codec_i64(&f[0], &c->ts_ms);
	}
	if (rv == PROTO_OK) {
		rv = codec_str(&f[1], &a, PROTO_MAX_STR, &c->idem_key);
	}
	if (rv == PROTO_OK) {
		rv = decode_body(&f[2], &a, c);
	}
	if (rv == PROTO_OK && n == 4) {
		rv = decode_origin(&f[3], &a, &c->origin);
	}
	msgpack_unpacked_destroy(&up);
	if (rv != PROTO_OK) {
		proto_cmd_free(c);
	}
	return rv;
}

void proto_cmd_free(struct proto_cmd *c)
{
	/* Record arrays are calloc'ed on decode (schema.c), wherever the table puts them. */
	const struct schema_table *t = c->type < PROTO_CMD_TYPE_MAX_ ? &schema_cmds[c->type].t : NULL;
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		if (t->fields[i].kind == S_RECORDS) {
			free(*(void **)(void *)((char *)c + t->fields[i].off));
		}
	}
	free(c->mem_);
	memset(c, 0, sizeof(*c));
}

int proto_result_encode(const struct proto_result *r, struct proto_buf *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1 + schema_result.n);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	schema_pack(&pk, &schema_result, r);
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
	const msgpack_object *o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 ||
	    codec_u32(&o->via.array.ptr[0], &version) != 0 || version != PROTO_VERSION ||
	    schema_unpack(o->via.array.ptr + 1, o->via.array.size - 1, &a, &schema_result, r) != PROTO_OK) {
		rv = PROTO_EINVAL;
	}
	free(a.base);
	msgpack_unpacked_destroy(&up);
	return rv;
}
