/* Records that keep a command as their stored form (clusters, webhooks,
 * users, API keys): a few leading i64 fields, then the command encoded
 * without its time stamp, idempotency key and origin, which belong to the
 * request and not to the record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

int store_cmd_stored(const struct proto_cmd *cmd, struct proto_buf *out)
{
	struct proto_cmd c = *cmd;
	c.idem_key = "";
	c.ts_ms = 0;
	c.origin = (struct proto_origin){0};
	return proto_cmd_encode(&c, out);
}

int store_put_cmd(struct apply_ctx *a, enum store_db db, const void *k, size_t klen, const int64_t *head, size_t n_head)
{
	struct proto_buf b;
	if (store_cmd_stored(a->cmd, &b) != PROTO_OK) {
		a->res->code = PROTO_EINVAL;
		return 0;
	}
	size_t hl = 8 * n_head;
	char *v = malloc(hl + b.len);
	if (v == NULL) {
		proto_buf_free(&b);
		return ENOMEM;
	}
	memcpy(v, head, hl);
	memcpy(v + hl, b.data, b.len);
	int rc = store_put(a, db, k, klen, v, hl + b.len);
	free(v);
	proto_buf_free(&b);
	return rc;
}

int store_get_cmd(const MDB_val *v, uint32_t type, int64_t *head, size_t n_head, struct proto_cmd *out)
{
	size_t hl = 8 * n_head;
	if (v->mv_size < hl || proto_cmd_decode((const char *)v->mv_data + hl, v->mv_size - hl, out) != PROTO_OK) {
		return PROTO_EIO;
	}
	if (out->type != type) {
		proto_cmd_free(out);
		return PROTO_EIO;
	}
	memcpy(head, v->mv_data, hl);
	return PROTO_OK;
}
