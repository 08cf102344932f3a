/* The engine behind the field tables of schema.h: validation, encoding and
 * decoding of any record they describe. */
#include "protocol/schema.h"

#include <stdlib.h>
#include <string.h>

#define AT(rec, off, T) ((T *)(void *)((char *)(rec) + (off)))
#define CAT(rec, off, T) ((const T *)(const void *)((const char *)(rec) + (off)))

static size_t str_max(const struct schema_field *f)
{
	return f->max != 0 ? f->max : PROTO_MAX_STR;
}

static bool str_fits(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= max;
}

int schema_validate(const struct schema_table *t, const void *rec)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct schema_field *f = &t->fields[i];
		if (f->kind == S_STR && !str_fits(*CAT(rec, f->off, const char *), str_max(f))) {
			return PROTO_EINVAL;
		}
		if (f->kind == S_STRS) {
			uint32_t n = *CAT(rec, f->len_off, uint32_t);
			const char *const *v = *CAT(rec, f->off, const char *const *);
			if (n > PROTO_MAX_OBS || (n > 0 && v == NULL)) {
				return PROTO_EINVAL;
			}
			for (uint32_t k = 0; k < n; k++) {
				if (!str_fits(v[k], PROTO_MAX_STR)) {
					return PROTO_EINVAL;
				}
			}
		}
		if (f->kind == S_RECORDS) {
			uint32_t n = *CAT(rec, f->len_off, uint32_t);
			const char *v = *CAT(rec, f->off, const char *);
			if ((n == 0 && f->nonempty) || n > PROTO_MAX_OBS || (n > 0 && v == NULL)) {
				return PROTO_EINVAL;
			}
			for (uint32_t k = 0; k < n; k++) {
				if (schema_validate(f->sub, v + k * f->sub->record_size) != PROTO_OK) {
					return PROTO_EINVAL;
				}
			}
		}
	}
	return PROTO_OK;
}

void schema_pack(msgpack_packer *pk, const struct schema_table *t, const void *rec)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct schema_field *f = &t->fields[i];
		switch (f->kind) {
		case S_STR:
			codec_pack_str(pk, *CAT(rec, f->off, const char *));
			break;
		case S_BIN:
			codec_pack_bin(pk, *CAT(rec, f->off, const void *), *CAT(rec, f->len_off, size_t));
			break;
		case S_U32:
			msgpack_pack_uint32(pk, *CAT(rec, f->off, uint32_t));
			break;
		case S_U64:
			msgpack_pack_uint64(pk, *CAT(rec, f->off, uint64_t));
			break;
		case S_I32:
			msgpack_pack_int32(pk, *CAT(rec, f->off, int32_t));
			break;
		case S_I64:
			msgpack_pack_int64(pk, *CAT(rec, f->off, int64_t));
			break;
		case S_STRS: {
			uint32_t n = *CAT(rec, f->len_off, uint32_t);
			const char *const *v = *CAT(rec, f->off, const char *const *);
			msgpack_pack_array(pk, n);
			for (uint32_t k = 0; k < n; k++) {
				codec_pack_str(pk, v[k]);
			}
			break;
		}
		case S_RECORDS: {
			uint32_t n = *CAT(rec, f->len_off, uint32_t);
			const char *v = *CAT(rec, f->off, const char *);
			msgpack_pack_array(pk, n);
			for (uint32_t k = 0; k < n; k++) {
				msgpack_pack_array(pk, f->sub->n);
				schema_pack(pk, f->sub, v + k * f->sub->record_size);
			}
			break;
		}
		}
	}
}

static int check_bounds(const struct schema_field *f, int64_t v)
{
	return f->bounded && (v < f->lo || v > f->hi) ? PROTO_EINVAL : PROTO_OK;
}

static int unpack_records(const msgpack_object *o, struct codec_arena *a, const struct schema_field *f, void *rec)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || (o->via.array.size == 0 && f->nonempty) ||
	    o->via.array.size > PROTO_MAX_OBS) {
		return PROTO_EINVAL;
	}
	uint32_t n = o->via.array.size;
	*AT(rec, f->len_off, uint32_t) = n;
	if (n == 0) {
		return PROTO_OK;
	}
	char *v = calloc(n, f->sub->record_size);
	if (v == NULL) {
		return PROTO_ENOMEM;
	}
	*AT(rec, f->off, void *) = v; /* the owner frees it (proto_cmd_free) */
	for (uint32_t k = 0; k < n; k++) {
		const msgpack_object *item = &o->via.array.ptr[k];
		if (item->type != MSGPACK_OBJECT_ARRAY) {
			return PROTO_EINVAL;
		}
		int rv = schema_unpack(item->via.array.ptr, item->via.array.size, a, f->sub, v + k * f->sub->record_size);
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return PROTO_OK;
}

static int unpack_strs(const msgpack_object *o, struct codec_arena *a, const struct schema_field *f, void *rec)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_MAX_OBS) {
		return PROTO_EINVAL;
	}
	uint32_t n = o->via.array.size;
	const char **v = codec_alloc(a, (n > 0 ? n : 1) * sizeof(*v));
	if (v == NULL) {
		return PROTO_ETOOBIG;
	}
	int rv = PROTO_OK;
	for (uint32_t k = 0; k < n && rv == PROTO_OK; k++) {
		rv = codec_str(&o->via.array.ptr[k], a, PROTO_MAX_STR, &v[k]);
	}
	*AT(rec, f->off, const char **) = v;
	*AT(rec, f->len_off, uint32_t) = n;
	return rv;
}

static int unpack_field(const msgpack_object *o, struct codec_arena *a, const struct schema_field *f, void *rec)
{
	int rv;
	switch (f->kind) {
	case S_STR:
		return codec_str(o, a, str_max(f), AT(rec, f->off, const char *));
	case S_BIN:
		rv = codec_bin(o, a, AT(rec, f->off, const void *), AT(rec, f->len_off, size_t));
		return rv == PROTO_OK && f->nonempty && *AT(rec, f->len_off, size_t) == 0 ? PROTO_EINVAL : rv;
	case S_U32:
		rv = codec_u32(o, AT(rec, f->off, uint32_t));
		return rv != PROTO_OK ? rv : check_bounds(f, (int64_t)*AT(rec, f->off, uint32_t));
	case S_U64:
		return codec_u64(o, AT(rec, f->off, uint64_t));
	case S_I32:
		rv = codec_i32(o, AT(rec, f->off, int32_t));
		return rv != PROTO_OK ? rv : check_bounds(f, *AT(rec, f->off, int32_t));
	case S_I64:
		return codec_i64(o, AT(rec, f->off, int64_t));
	case S_STRS:
		return unpack_strs(o, a, f, rec);
	case S_RECORDS:
		return unpack_records(o, a, f, rec);
	}
	return PROTO_EINVAL;
}

int schema_unpack(const msgpack_object *f, uint32_t n, struct codec_arena *a, const struct schema_table *t,
                  void *rec)
{
	if (n != t->n) {
		return PROTO_EINVAL;
	}
	for (size_t i = 0; i < t->n; i++) {
		int rv = unpack_field(&f[i], a, &t->fields[i], rec);
		if (rv != PROTO_OK) {
			return rv;
		}
	}
	return PROTO_OK;
}
