#include "raft/propose.h"

#include <stdlib.h>
#include <time.h>

struct call {
	repl_propose_cb cb;
	void *data;
};

static void on_reply(void *data, int status, const void *buf, size_t len)
{
	struct call *c = data;
	struct proto_msg m;
	struct proto_result res = {0};
	if (status == PROTO_OK) {
		if (proto_msg_decode(buf, len, &m) != PROTO_OK || m.type != PROTO_MSG_REPLY) {
			status = PROTO_EINTERNAL;
		} else {
			status = m.u.reply.status;
			if (status == PROTO_OK && proto_result_decode(m.u.reply.result, m.u.reply.result_len, &res) != PROTO_OK) {
				status = PROTO_EINTERNAL;
			}
			proto_msg_free(&m);
		}
	}
	c->cb(c->data, status, &res);
	free(c);
}

int repl_propose(bus_client *raft, struct proto_cmd *cmd, unsigned timeout_ms, repl_propose_cb cb, void *data)
{
	struct proto_buf cb_buf, msg_buf;
	cmd->ts_ms = wall_now_ms();
	int rv = proto_cmd_encode(cmd, &cb_buf);
	if (rv != PROTO_OK) {
		return rv;
	}
	struct proto_msg m = {.type = PROTO_MSG_PROPOSE};
	m.u.propose.timeout_ms = timeout_ms;
	m.u.propose.cmd = cb_buf.data;
	m.u.propose.cmd_len = cb_buf.len;
	rv = proto_msg_encode(&m, &msg_buf);
	proto_buf_free(&cb_buf);
	if (rv != PROTO_OK) {
		return rv;
	}
	struct call *c = malloc(sizeof(*c));
	if (c == NULL) {
		proto_buf_free(&msg_buf);
		return PROTO_ENOMEM;
	}
	c->cb = cb;
	c->data = data;
	rv = bus_call(raft, msg_buf.data, msg_buf.len, timeout_ms + 1500, on_reply, c);
	proto_buf_free(&msg_buf);
	if (rv != PROTO_OK) {
		free(c);
	}
	return rv;
}
