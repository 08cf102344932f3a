/* Internal to protocol/: table-driven bodies of the newer commands, and the
 * observation helpers they share with OBSERVE. */
#ifndef SHIPLOG_PROTOCOL_SCHEMA_H
#define SHIPLOG_PROTOCOL_SCHEMA_H

#include <stdbool.h>

#include "protocol/codec.h"

/* True when type's body is described by a field table. */
bool schema_has(uint32_t type);
int schema_validate(const struct proto_cmd *c);
void schema_pack(msgpack_packer *pk, const struct proto_cmd *c);
int schema_decode(const msgpack_object *body, struct codec_arena *a, struct proto_cmd *c);

/* Observations (cmd.c): allow_empty for a collection run that saw nothing. */
int cmd_validate_obs(const struct proto_cmd *c, bool allow_empty);
void cmd_pack_obs(msgpack_packer *pk, const struct proto_cmd *c);
int cmd_decode_obs(const msgpack_object *o, struct codec_arena *a, struct proto_cmd *c, bool allow_empty);

#endif
