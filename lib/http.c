/* The outbound HTTP client over libcurl (see http.h). */
#include "lib/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

void http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	const struct http_request *rq;
	struct http_response *rs;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
	struct sink *k = ud;
	struct http_response *rs = k->rs;
	size_t add = size * n;
	if (k->rq->sink != NULL) {
		return fwrite(ptr, 1, add, k->rq->sink);
	}
	if (k->rq->max_response == 0) {
		return add; /* discarded */
	}
	if (rs->len + add > k->rq->max_response) {
		rs->too_big = true;
		return 0; /* curl fails with CURLE_WRITE_ERROR */
	}
	char *np = realloc(rs->body, rs->len + add + 1);
	if (np == NULL) {
		return 0;
	}
	rs->body = np;
	memcpy(rs->body + rs->len, ptr, add);
	rs->len += add;
	rs->body[rs->len] = '\0';
	return add;
}

static void set_tls(CURL *h, const struct http_request *rq)
{
	if (rq->ca_pem != NULL) {
		struct curl_blob ca = {(void *)rq->ca_pem, strlen(rq->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (rq->client_cert_pem != NULL && rq->client_key_pem != NULL) {
		struct curl_blob cert = {(void *)rq->client_cert_pem, strlen(rq->client_cert_pem), CURL_BLOB_COPY};
		struct curl_blob key = {(void *)rq->client_key_pem, strlen(rq->client_key_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (rq->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* The request's header list, NULL when out of memory (or none asked). */
static struct curl_slist *make_headers(const struct http_request *rq, bool *failed)
{
	struct curl_slist *hdrs = NULL, *n;
	*failed = false;
	for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++) {
		if ((n = curl_slist_append(hdrs, rq->headers[i])) == NULL) {
			*failed = true;
			return hdrs;
		}
		hdrs = n;
	}
	if (rq->bearer != NULL) {
		size_t cap = strlen(rq->bearer) + 32;
		char *auth = malloc(cap);
		if (auth == NULL) {
			*failed = true;
			return hdrs;
		}
		snprintf(auth, cap, "Authorization: Bearer %s", rq->bearer);
		n = curl_slist_append(hdrs, auth);
		free(auth);
		if (n == NULL) {
			*failed = true;
			return hdrs;
		}
		hdrs = n;
	}
	return hdrs;
}

int http_perform(const struct http_request *rq, struct http_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	CURL *h = curl_easy_init();
	bool failed;
	struct curl_slist *hdrs = make_headers(rq, &failed);
	if (h == NULL || failed) {
		snprintf(rs->error, sizeof(rs->error), "out of memory");
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return -1;
	}
	unsigned timeout = rq->timeout_ms ? rq->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	struct sink k = {rq, rs};
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(rq->connect_timeout_ms ? rq->connect_timeout_ms : timeout));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	if (hdrs != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	if (rq->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body_len ? rq->body_len : strlen(rq->body)));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
	}
	if (rq->method != NULL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	set_tls(h, rq);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		snprintf(rs->error, sizeof(rs->error), "%s", rs->too_big ? "answer too large" : curl_easy_strerror(rc));
		if (!rs->too_big) {
			rs->status = 0;
		}
		return -1;
	}
	return 0;
}

void http_response_free(struct http_response *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
}

char *http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (e == NULL) {
		return NULL;
	}
	char *out = strdup(e);
	curl_free(e);
	return out;
}
