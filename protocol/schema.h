/* Internal to protocol/: the one description of every command and message.
 * A record (a command's body, a message's fields, an observation) is a table
 * of fields, each with its kind, its place in the C struct and its bounds;
 * the same table drives validation, encoding and decoding (schema.c). The
 * tables themselves are in tables.c. */
#ifndef SHIPLOG_PROTOCOL_SCHEMA_H
#define SHIPLOG_PROTOCOL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/codec.h"

enum schema_kind {
	S_STR,     /* const char *, at most max bytes (PROTO_MAX_STR when 0) */
	S_BIN,     /* const void * with its size_t length at len_off; non-empty when nonempty */
	S_U32,     /* uint32_t */
	S_U64,     /* uint64_t */
	S_I32,     /* int32_t */
	S_I64,     /* int64_t */
	S_STRS,    /* const char ** with its uint32_t count at len_off, at most PROTO_MAX_OBS */
	S_RECORDS, /* an array of sub records (sub) with its uint32_t count at len_off; calloc'ed on decode */
};

struct schema_table;

struct schema_field {
	enum schema_kind kind;
	size_t off;                     /* in the record */
	size_t len_off;                 /* S_BIN, S_STRS, S_RECORDS: where the length or count is */
	size_t max;                     /* S_STR: bytes (0: PROTO_MAX_STR) */
	bool nonempty;                  /* S_BIN, S_RECORDS: at least one byte or record */
	bool bounded;                   /* integers: decoded values must lie in [lo, hi] */
	int64_t lo, hi;
	const struct schema_table *sub; /* S_RECORDS: one record's table */
};

struct schema_table {
	const struct schema_field *fields;
	size_t n;
	size_t record_size; /* sizeof the record (for S_RECORDS of it) */
};

/* How a command's body is written after its envelope. */
enum schema_body {
	BODY_NIL,    /* nil: the command has no fields (NOOP) */
	BODY_FIELDS, /* an array of the table's fields */
	BODY_BARE,   /* the table's one field itself, not wrapped (OBSERVE: the observations) */
};

struct schema_cmd {
	enum schema_body body;
	struct schema_table t; /* offsets in struct proto_cmd */
};

/* Every command type and message type; NULL fields where a type is unused. */
extern const struct schema_cmd schema_cmds[PROTO_CMD_TYPE_MAX_];
extern const struct schema_table schema_msgs[PROTO_MSG_TYPE_MAX_]; /* offsets in struct proto_msg; record_size 0 for no type */
extern const struct schema_table schema_result; /* offsets in struct proto_result, after the version */

/* PROTO_OK when every string, list and record of rec fits t (encode side). */
int schema_validate(const struct schema_table *t, const void *rec);

/* Packs the fields of rec, without an array header. */
void schema_pack(msgpack_packer *pk, const struct schema_table *t, const void *rec);

/* Decodes n msgpack objects into rec: PROTO_EINVAL when n or a field does not
 * fit, else the codec's status (PROTO_ETOOBIG, PROTO_ENOMEM). */
int schema_unpack(const msgpack_object *f, uint32_t n, struct codec_arena *a, const struct schema_table *t,
                  void *rec);

#endif
