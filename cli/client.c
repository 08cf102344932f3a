#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/http.h"

#define CLI_MAX_HEADERS 8

long cli_request(const struct client *c, const char *method, const char *path, const char *body,
                 const char *const *extra, json_t **out)
{
	const char *headers[CLI_MAX_HEADERS + 2];
	size_t n = 0;
	if (body != NULL) {
		headers[n++] = "Content-Type: application/json";
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < CLI_MAX_HEADERS + 1; i++) {
		headers[n++] = extra[i];
	}
	headers[n] = NULL;
	char url[4096];
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	struct http_request rq = {
		.method = method,
		.url = url,
		.headers = n > 0 ? headers : NULL,
		.bearer = c->key,
		.body = body,
		.timeout_ms = CLI_TIMEOUT_MS,
		.max_response = CLI_MAX_ANSWER,
	};
	struct http_response rs;
	long status = 0;
	if (http_perform(&rq, &rs) != 0) {
		fprintf(stderr, "shiplog: %s: %s\n", url, rs.error);
	} else {
		status = rs.status;
	}
	*out = rs.body != NULL ? json_loads(rs.body, 0, NULL) : NULL;
	http_response_free(&rs);
	return status;
}

int cli_report(const struct client *c, long status, json_t *body)
{
	if (status == 0) {
		return 1;
	}
	if (status >= 400) {
		json_t *e = json_object_get(body, "error");
		fprintf(stderr, "shiplog: HTTP %ld %s: %s\n", status, json_string_value(json_object_get(e, "code")),
		        json_string_value(json_object_get(e, "message")));
		json_decref(body);
		return 1;
	}
	if (c->json) {
		char *text = json_dumps(body, JSON_INDENT(2));
		if (text != NULL) {
			puts(text);
			free(text);
		}
	}
	return 0;
}
