/* Bodies that may come as JSON or as an HTML form
 * (application/x-www-form-urlencoded, as OAuth2 password forms send a
 * login): both become one JSON object of strings for the handler. The form
 * is split as a query is (gw_parse_query). */
#include <string.h>

#include "gateway/internal.h"

#define FORM_MAX_FIELDS 32

static json_t *parse_form(struct gw_req *gr)
{
	char *keys[FORM_MAX_FIELDS], *vals[FORM_MAX_FIELDS];
	int n;
	h2o_req_t *req = gr->req;
	if (req->entity.base == NULL ||
	    !gw_parse_query(&req->pool, req->entity.base, req->entity.len, keys, vals, FORM_MAX_FIELDS, &n)) {
		return NULL;
	}
	json_t *o = json_object();
	for (int i = 0; i < n && o != NULL; i++) {
		if (keys[i][0] == '\0' || json_object_get(o, keys[i]) != NULL) { /* as ambiguous as a duplicate JSON key */
			json_decref(o);
			o = NULL;
		} else {
			json_object_set_new(o, keys[i], json_string(vals[i]));
		}
	}
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
	json_t *o = parse_form(gr);
	if (o == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "a well-formed form body (name=value&...) is required");
	}
	return o;
}
