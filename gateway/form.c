/* Bodies that may come as JSON or as an HTML form
 * (application/x-www-form-urlencoded, as OAuth2 password forms send a
 * login): both become one JSON object of strings for the handler. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes p[0..n) (percent escapes, '+' for space) into out; -1 if malformed or holding a NUL. */
static int url_decode(const char *p, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			out[o++] = ' ';
		} else if (p[i] == '%') {
			if (i + 2 >= n) {
				return -1;
			}
			int h = hex(p[i + 1]), l = hex(p[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				return -1;
			}
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	return 0;
}

static json_t *parse_form(const char *p, size_t n)
{
	json_t *o = json_object();
	char *buf = malloc(n + 1);
	size_t i = 0;
	while (buf != NULL && o != NULL && i < n) {
		size_t end = i;
		while (end < n && p[end] != '&') {
			end++;
		}
		const char *eq = memchr(p + i, '=', end - i);
		size_t klen = eq != NULL ? (size_t)(eq - (p + i)) : end - i;
		char *key = buf;
		if (klen == 0 || url_decode(p + i, klen, key) != 0) {
			json_decref(o);
			o = NULL;
			break;
		}
		char *val = malloc(end - i + 1);
		if (val == NULL || url_decode(eq != NULL ? eq + 1 : p + end, eq != NULL ? (size_t)(p + end - eq - 1) : 0, val) != 0 ||
		    json_object_get(o, key) != NULL) { /* a repeated field is as ambiguous as a duplicate JSON key */
			free(val);
			json_decref(o);
			o = NULL;
			break;
		}
		json_object_set_new(o, key, json_string(val));
		free(val);
		i = end + 1;
	}
	free(buf);
	return o;
}

json_t *gw_body_fields(struct gw_req *gr)
{
	h2o_req_t *req = gr->req;
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	h2o_iovec_t ct = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(H2O_STRLIT(""));
	if (ct.len < 33 || strncasecmp(ct.base, "application/x-www-form-urlencoded", 33) != 0) {
		return gw_body_object(gr);
	}
	json_t *o = req->entity.base != NULL ? parse_form(req->entity.base, req->entity.len) : NULL;
	if (o == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "a well-formed form body (name=value&...) is required");
	}
	return o;
}
