/* Who asked for a write, for its audit row: the credential's actor, this
 * node, the caller's address and the request id. */
#include <arpa/inet.h>
#include <string.h>

#include "gateway/internal.h"

void gw_origin(struct gw_req *gr, struct proto_origin *o)
{
	struct sockaddr_storage ss;
	char addr[INET6_ADDRSTRLEN] = "";
	memset(&ss, 0, sizeof(ss));
	if (gr->req != NULL && gr->req->conn->callbacks->get_peername(gr->req->conn, (struct sockaddr *)&ss) > 0) {
		const void *a = ss.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
		                                         : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
		if (inet_ntop(ss.ss_family, a, addr, sizeof(addr)) == NULL) {
			addr[0] = '\0';
		}
	}
	o->actor = gr->auth.actor[0] != '\0' ? gr->auth.actor : "anonymous";
	o->node = gr->gw->self->name;
	o->addr = gr->req != NULL ? h2o_strdup(&gr->req->pool, addr, SIZE_MAX).base : "";
	o->request_id = gr->request_id;
}
