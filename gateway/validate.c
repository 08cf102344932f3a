/* Input checks shared by the handlers. */
#include <string.h>

#include "gateway/internal.h"

bool gw_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.')) {
			return false;
		}
	}
	return true;
}

bool gw_valid_component(const struct proto_observation *o)
{
	return strlen(o->client) + strlen(o->env) + strlen(o->ns) + strlen(o->kind) + strlen(o->workload) +
	               strlen(o->container) <= PROTO_MAX_COMPONENT_NAMES;
}

bool gw_valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			return false;
		}
	}
	return true;
}

json_t *gw_body_object(struct gw_req *gr)
{
	json_error_t err;
	h2o_req_t *req = gr->req;
	if (req->entity.base == NULL || req->entity.len == 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "a JSON object body is required");
		return NULL;
	}
	json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &err);
	if (body == NULL) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "invalid JSON at line %d column %d: %s", err.line, err.column,
		                 err.text);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "the body must be a JSON object");
		return NULL;
	}
	return body;
}

bool gw_opt_string(struct gw_req *gr, json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		*out = NULL;
		return true;
	}
	if (!json_is_string(v)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v)) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must not contain NUL characters", key);
		return false;
	}
	return true;
}
