/* Input checks shared by the handlers. */
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

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

bool gw_opt_string_max(struct gw_req *gr, json_t *obj, const char *key, size_t max, const char **out)
{
	if (!gw_opt_string(gr, obj, key, out)) {
		return false;
	}
	if (*out != NULL && strlen(*out) > max) {
		gw_respond_too_long(gr, key, strlen(*out), max);
		return false;
	}
	return true;
}

void gw_respond_too_long(struct gw_req *gr, const char *field, size_t len, size_t max)
{
	json_t *details = json_pack("[{s:s,s:I,s:I,s:s}]", "field", field, "limit", (json_int_t)max, "length",
	                            (json_int_t)len, "message", "too long");
	gw_respond_error_details(gr, 400, "VALIDATION_ERROR", details, "%s is %zu bytes; the limit is %zu", field, len,
	                         max);
}

const char *gw_str_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		return NULL; /* absent, not a string, or holding a NUL */
	}
	return json_string_value(v);
}

const char *gw_read_observation(json_t *o, const char *kind_key, struct proto_observation *ob)
{
	if (!json_is_object(o)) {
		return "each item is an object";
	}
	ob->ns = gw_str_member(o, "namespace");
	ob->kind = gw_str_member(o, kind_key);
	ob->workload = gw_str_member(o, "workload_name");
	ob->container = gw_str_member(o, "container_name");
	ob->image_repo = gw_str_member(o, "image_repo");
	ob->image_name = gw_str_member(o, "image_name");
	ob->image_tag = gw_str_member(o, "image_tag");
	ob->image_sha = gw_str_member(o, "image_sha");
	ob->image_repo = ob->image_repo != NULL ? ob->image_repo : "";
	ob->image_name = ob->image_name != NULL ? ob->image_name : "";
	return proto_observation_invalid(ob);
}

bool gw_query_count(struct gw_req *gr, const char *name, uint64_t max, uint64_t *out)
{
	const char *v = gw_query(gr, name);
	char *end;
	if (v == NULL) {
		return true;
	}
	unsigned long long n = strtoull(v, &end, 10);
	if (v[0] < '1' || v[0] > '9' || *end != '\0' || n > max) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s must be an integer from 1 to %llu", name,
		                 (unsigned long long)max);
		return false;
	}
	*out = n;
	return true;
}
