/* The commands an op carries: one, or a batch of them (from a gateway's
 * loop turn or a follower's forward). Validation on receipt, and the
 * flattening of a turn's ops into the commands of one entry or message. */
#include <stdlib.h>

#include "raft/internal.h"

static int cmd_list_add(struct cmd_list *l, const void *data, size_t len)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 64;
		struct proto_slice *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct proto_slice){data, len};
	return 0;
}

void cmd_list_free(struct cmd_list *l)
{
	for (uint32_t i = 0; i < l->n_opened; i++) {
		proto_batch_free(&l->opened[i]);
	}
	free(l->opened);
	free(l->v);
}

int cmd_list_add_op(struct cmd_list *l, const struct op *op, uint32_t max_opened)
{
	if (!op->multi) {
		return cmd_list_add(l, op->cmd, op->cmd_len);
	}
	if (l->opened == NULL && (l->opened = calloc(max_opened, sizeof(*l->opened))) == NULL) {
		return -1;
	}
	struct proto_batch *b = &l->opened[l->n_opened];
	if (proto_batch_decode(op->cmd, op->cmd_len, b) != PROTO_OK) {
		return -1; /* validated on receipt: cannot happen */
	}
	l->n_opened++;
	for (uint32_t i = 0; i < b->n; i++) {
		if (cmd_list_add(l, b->cmds[i].data, b->cmds[i].len) != 0) {
			return -1;
		}
	}
	return 0;
}

int repl_cmds_validate(const void *buf, size_t len, uint32_t *n_cmds, bool *multi)
{
	struct proto_cmd cmd;
	struct proto_batch b = {0};
	struct proto_slice one = {buf, len};
	const struct proto_slice *v = &one;
	uint32_t n = 1;
	*multi = proto_is_batch(buf, len);
	if (*multi) {
		if (proto_batch_decode(buf, len, &b) != PROTO_OK) {
			return PROTO_EINVAL;
		}
		v = b.cmds;
		n = b.n;
	}
	int rv = PROTO_OK;
	for (uint32_t i = 0; i < n && rv == PROTO_OK; i++) {
		rv = v[i].len % 8 == 0 && !proto_is_batch(v[i].data, v[i].len) ? proto_cmd_decode(v[i].data, v[i].len, &cmd)
		                                                                : PROTO_EINVAL;
		if (rv == PROTO_OK) {
			proto_cmd_free(&cmd);
		}
	}
	proto_batch_free(&b);
	*n_cmds = n;
	return rv;
}
