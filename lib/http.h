/* The one outbound HTTP client (libcurl, blocking): Kubernetes API reads,
 * webhook deliveries, --join, the agent's pushes and the CLI. Run it off
 * event loops (a thread-pool job or a thread of its own). */
#ifndef SHIPLOG_LIB_HTTP_H
#define SHIPLOG_LIB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HTTP_DEFAULT_TIMEOUT_MS 30000u

struct http_request {
	const char *method;           /* NULL: GET, or POST when body is set */
	const char *url;              /* http:// or https:// only */
	const char *const *headers;   /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *bearer;           /* adds "Authorization: Bearer <bearer>" when set */
	const char *body;             /* sent as is, body_len bytes (strlen when body_len is 0) */
	size_t body_len;
	unsigned timeout_ms;          /* the whole exchange; 0 = HTTP_DEFAULT_TIMEOUT_MS */
	unsigned connect_timeout_ms;  /* 0 = timeout_ms */
	const char *ca_pem;           /* trust only this CA (PEM text) */
	const char *client_cert_pem;  /* with client_key_pem: a client certificate (PEM text) */
	const char *client_key_pem;
	bool insecure;                /* no TLS verification at all (test clusters) */
	size_t max_response;          /* body bytes kept; a longer answer fails (too_big); 0 = body discarded */
	FILE *sink;                   /* when set, the body streams into it instead (no limit) */
};

struct http_response {
	long status;      /* the HTTP status, 0 when no answer came */
	char *body;       /* owned, NUL-terminated (NULL when nothing was kept) */
	size_t len;       /* bytes in body */
	bool too_big;     /* the answer passed max_response */
	char error[256];  /* why, when http_perform returned -1 */
};

/* Once per process, before any thread calls http_perform. */
void http_global_init(void);

/* Sends rq and waits for the answer. Returns 0 when an HTTP answer came
 * (any status, in rs->status), -1 otherwise (rs->error says why; rs->status
 * may still be set when the answer was too big). rs must be freed with
 * http_response_free either way. */
int http_perform(const struct http_request *rq, struct http_response *rs);

void http_response_free(struct http_response *rs);

/* s percent-encoded for a URL path segment or query value; free() it.
 * NULL when out of memory. */
char *http_escape(const char *s);

#endif
