/* README badges: 200 with an SVG (429 with one when over the rate limit),
 * never cached. Green: the version
 * found; gray: not found; yellow: found in several namespaces; red: any
 * error (bad key, another client's data, a bad request). The messages are
 * the seed's (internal/api/handlers.go, badges.go), so scripts reading a
 * badge's text see the same words. */
#include <stdio.h>
#include <string.h>

#include "gateway/internal.h"

#define BADGE_GREEN "#4c1"
#define BADGE_RED "#e05d44"
#define BADGE_GRAY "#9f9f9f"
#define BADGE_YELLOW "#dfb317"

static void xml_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in != '\0' && o + 7 < cap; in++) {
		const char *rep = *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : *in == '&' ? "&amp;" : *in == '"' ? "&quot;" : NULL;
		if (rep != NULL) {
			o += (size_t)snprintf(out + o, cap - o, "%s", rep);
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void badge_status(struct gw_req *gr, int status, const char *label, const char *message, const char *color)
{
	char l[600], m[600], svg[3072];
	xml_escape(label, l, sizeof(l));
	xml_escape(message, m, sizeof(m));
	int lw = 10 + 7 * (int)strlen(label), mw = 10 + 7 * (int)strlen(message);
	int n = snprintf(svg, sizeof(svg),
	                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" role=\"img\" aria-label=\"%s: %s\">"
	                 "<title>%s: %s</title>"
	                 "<rect width=\"%d\" height=\"20\" fill=\"#555\"/>"
	                 "<rect x=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\"/>"
	                 "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">"
	                 "<text x=\"%d\" y=\"14\">%s</text><text x=\"%d\" y=\"14\">%s</text></g></svg>",
	                 lw + mw, l, m, l, m, lw, lw, mw, color, lw / 2, l, lw + mw / 2, m);
	gw_add_header(gr, "cache-control", "no-cache, no-store, must-revalidate, max-age=0");
	gw_add_header(gr, "pragma", "no-cache");
	gw_add_header(gr, "expires", "0");
	gw_add_header(gr, "access-control-allow-origin", "*");
	gw_add_header(gr, "access-control-allow-methods", "GET");
	gw_add_header(gr, "access-control-allow-headers", "Content-Type");
	gw_respond_raw(gr, status, "image/svg+xml", svg, n > 0 && (size_t)n < sizeof(svg) ? (size_t)n : 0);
}

static void badge(struct gw_req *gr, const char *label, const char *message, const char *color)
{
	badge_status(gr, 200, label, message, color);
}

struct badge_acc {
	char first_ns[PROTO_MAX_STR + 1];
	char tag[PROTO_MAX_STR + 1];
	int matches;
	bool several_ns;
};

static int badge_row(void *data, const struct store_release *r)
{
	struct badge_acc *acc = data;
	if (acc->matches++ == 0) {
		snprintf(acc->first_ns, sizeof(acc->first_ns), "%s", r->ns);
		snprintf(acc->tag, sizeof(acc->tag), "%s", r->image_tag);
	} else if (strcmp(acc->first_ns, r->ns) != 0) {
		acc->several_ns = true;
	}
	return 0;
}

void gw_h_badge(struct gw_req *gr)
{
	/* /badges/{key}/{client}/{env}/{kind}/{workload}/{container} */
	const char *env = gr->target.n_seg > 3 ? gr->target.seg[3] : "";
	/* The key in the path is the credential the rate limit counts by; a
	 * missing or unknown one spends the address's budget. */
	struct gw_auth a = gr->target.n_seg > 1 ? gw_auth_key(gr->gw, gr, gr->target.seg[1]) : (struct gw_auth){.kind = GW_AUTH_NONE};
	unsigned retry_s;
	if (!gw_rate_limit(gr, gw_auth_credential(&a), &retry_s)) {
		badge_status(gr, 429, env, "rate limited", BADGE_RED);
		return;
	}
	bool complete = gr->target.n_seg == 7;
	for (int i = 1; i < gr->target.n_seg && complete; i++) {
		complete = gr->target.seg[i][0] != '\0';
	}
	if (!complete) {
		badge(gr, env, "invalid request", BADGE_RED);
		return;
	}
	const char *client = gr->target.seg[2], *kind = gr->target.seg[4], *workload = gr->target.seg[5], *container = gr->target.seg[6];
	/* A wrong, unknown, expired or forbidden key: one answer, so the badge
	 * tells nothing about which keys exist (no key oracle). */
	if (gw_auth_credential(&a) == NULL || !gw_auth_allows(&a, client)) {
		badge(gr, env, "invalid", BADGE_RED);
		return;
	}
	struct store_read *rd;
	struct badge_acc acc = {0};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		badge(gr, env, "query error", BADGE_RED);
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = store_find_workload(rd, client, env, kind, workload, container, badge_row, &acc);
	store_read_end(rd);
	if (rv != PROTO_OK) {
		badge(gr, env, "query error", BADGE_RED);
	} else if (acc.matches == 0) {
		badge(gr, env, "not deployed", BADGE_GRAY);
	} else if (acc.several_ns) {
		badge(gr, env, "multiple found", BADGE_YELLOW);
	} else {
		badge(gr, env, acc.tag, BADGE_GREEN);
	}
}
