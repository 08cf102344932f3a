/* TCP_NODELAY on the Raft connections. raft_uv 0.15.0 leaves Nagle's
 * algorithm on, so a small message (an AppendEntries) sent while an earlier
 * one (a heartbeat) is unacknowledged waits for that ACK: a second round
 * trip per write once the round trip exceeds the heartbeat interval (found
 * by tests/regions: 40 ms one-way gave 160 ms writes, not 80). The transport
 * is wrapped: its listen and connect hand over streams with NODELAY set. */
#include <stddef.h>

#include "raft/internal.h"

/* raft_uv passes the same callbacks for every connection of a process,
 * which runs one raft instance: kept here for the wrappers. */
static raft_uv_accept_cb accept_orig;
static raft_uv_connect_cb connect_orig;
static int (*listen_inner)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
static int (*connect_inner)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                            const char *address, raft_uv_connect_cb cb);

static void nodelay(struct uv_stream_s *stream)
{
	if (stream != NULL && uv_handle_get_type((uv_handle_t *)stream) == UV_TCP) {
		uv_tcp_nodelay((uv_tcp_t *)stream, 1);
	}
}

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address, struct uv_stream_s *stream)
{
	nodelay(stream);
	accept_orig(t, id, address, stream);
}

static int listen_wrapped(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	accept_orig = cb;
	return listen_inner(t, on_accept);
}

static void on_connect(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
	if (status == 0) {
		nodelay(stream);
	}
	connect_orig(req, stream, status);
}

static int connect_wrapped(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                           const char *address, raft_uv_connect_cb cb)
{
	connect_orig = cb;
	return connect_inner(t, req, id, address, on_connect);
}

void repl_transport_nodelay(struct raft_uv_transport *t)
{
	listen_inner = t->listen;
	connect_inner = t->connect;
	t->listen = listen_wrapped;
	t->connect = connect_wrapped;
}
