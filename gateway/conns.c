/* Open HTTP connections, counted per node ([api] max_connections) and per
 * source address ([api] max_connections_per_address). A connection over a
 * limit is still accepted, so that its first request gets a clear answer
 * (503 OVERLOADED or 429 RATE_LIMIT_EXCEEDED, then the connection closes)
 * instead of a reset; gw_route finds it by its file descriptor. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

struct gw_conn {
	uv_tcp_t tcp; /* first: the close callback gets its address */
	struct gw *g;
	uint64_t addr; /* gw_addr_key of the peer */
	int fd;
	uint8_t over;  /* GW_CONN_OVER_*, 0 within the limits */
};

/* Per-address counts: open addressing keyed by gw_addr_key; a key whose
 * count fell to 0 stays until the table is rebuilt. */
static unsigned *addr_count(struct gw_conns *c, uint64_t key, bool create)
{
	for (size_t i = 0; i < c->cap; i++) {
		struct gw_addr_count *e = &c->addrs[(key + i) & (c->cap - 1)];
		if (e->key == key) {
			return &e->count;
		}
		if (e->key == 0) {
			if (!create) {
				return NULL;
			}
			e->key = key;
			c->used++;
			return &e->count;
		}
	}
	return NULL;
}

/* Drops keys with no connection once most slots hold a key. */
static void rebuild_if_crowded(struct gw_conns *c)
{
	if (c->used * 4 < c->cap * 3) {
		return;
	}
	struct gw_addr_count *old = c->addrs;
	struct gw_addr_count *fresh = calloc(c->cap, sizeof(*fresh));
	if (fresh == NULL) {
		return;
	}
	c->addrs = fresh;
	c->used = 0;
	for (size_t i = 0; i < c->cap; i++) {
		if (old[i].key != 0 && old[i].count > 0) {
			*addr_count(c, old[i].key, true) = old[i].count;
		}
	}
	free(old);
}

int gw_conns_init(struct gw *g)
{
	struct gw_conns *c = &g->conns;
	c->cap = 64;
	while (c->cap < 2 * (size_t)g->cfg->max_connections) {
		c->cap *= 2;
	}
	c->addrs = calloc(c->cap, sizeof(*c->addrs));
	return c->addrs != NULL ? PROTO_OK : PROTO_ENOMEM;
}

void gw_conns_free(struct gw *g)
{
	free(g->conns.addrs);
	free(g->conns.by_fd);
}

/* Records conn as the connection on fd (NULL: none); an fd is reused by a
 * new connection before the old one's close callback, hence the check there. */
static void set_fd(struct gw_conns *c, int fd, struct gw_conn *conn)
{
	if (fd < 0) {
		return;
	}
	if ((size_t)fd >= c->n_fds) {
		size_t n = c->n_fds ? c->n_fds : 256;
		while (n <= (size_t)fd) {
			n *= 2;
		}
		struct gw_conn **p = realloc(c->by_fd, n * sizeof(*p));
		if (p == NULL) {
			return;
		}
		memset(p + c->n_fds, 0, (n - c->n_fds) * sizeof(*p));
		c->by_fd = p;
		c->n_fds = n;
	}
	c->by_fd[fd] = conn;
}

static void on_closed(uv_handle_t *h)
{
	struct gw_conn *conn = (struct gw_conn *)h;
	struct gw_conns *c = &conn->g->conns;
	unsigned *n = addr_count(c, conn->addr, false);
	if (n != NULL && *n > 0) {
		(*n)--;
	}
	c->open--;
	if (conn->fd >= 0 && (size_t)conn->fd < c->n_fds && c->by_fd[conn->fd] == conn) {
		c->by_fd[conn->fd] = NULL;
	}
	free(conn);
}

uv_stream_t *gw_conn_new(struct gw *g, uv_close_cb *close_cb)
{
	struct gw_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		return NULL;
	}
	conn->g = g;
	conn->fd = -1;
	uv_tcp_init(g->loop, &conn->tcp);
	*close_cb = on_closed;
	return (uv_stream_t *)&conn->tcp;
}

void gw_conn_free_unaccepted(uv_handle_t *h)
{
	free(h);
}

void gw_conn_accepted(struct gw *g, uv_stream_t *s)
{
	struct gw_conn *conn = (struct gw_conn *)s;
	struct gw_conns *c = &g->conns;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_os_fd_t fd;
	memset(&ss, 0, sizeof(ss));
	uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&ss, &len);
	conn->addr = gw_addr_key((struct sockaddr *)&ss);
	conn->fd = uv_fileno((uv_handle_t *)&conn->tcp, &fd) == 0 ? fd : -1;
	rebuild_if_crowded(c);
	unsigned *n = addr_count(c, conn->addr, true);
	c->open++;
	if (n != NULL) {
		(*n)++;
	}
	conn->over = c->open > g->cfg->max_connections               ? GW_CONN_OVER_NODE
	             : n == NULL || *n > g->cfg->max_conns_per_addr ? GW_CONN_OVER_ADDR
	                                                             : 0;
	set_fd(c, conn->fd, conn);
}

bool gw_conn_refused(struct gw_req *gr)
{
	struct gw *g = gr->gw;
	struct gw_conns *c = &g->conns;
	h2o_socket_t *sock = gr->req->conn->callbacks->get_socket != NULL
	                         ? gr->req->conn->callbacks->get_socket(gr->req->conn)
	                         : NULL;
	int fd = sock != NULL ? h2o_socket_get_fd(sock) : -1;
	const struct gw_conn *conn = fd >= 0 && (size_t)fd < c->n_fds ? c->by_fd[fd] : NULL;
	uint8_t why = conn != NULL ? conn->over : 0;
	if (why == 0) {
		return false;
	}
	g->m.refused[GW_LIMIT_CONNECTIONS]++;
	gr->req->http1_is_persistent = 0; /* answered, then closed */
	gw_add_header(gr, "retry-after", "1");
	if (why == GW_CONN_OVER_NODE) {
		gw_respond_error(gr, 503, "OVERLOADED", "this node has %u connections open ([api] max_connections)",
		                 g->cfg->max_connections);
	} else {
		gw_respond_error(gr, 429, "RATE_LIMIT_EXCEEDED",
		                 "your address has %u connections open to this node ([api] max_connections_per_address)",
		                 g->cfg->max_conns_per_addr);
	}
	return true;
}
