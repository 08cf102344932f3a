/* A read-only Kubernetes API client (over lib/http) and the collection of one
 * cluster: workloads, their containers and the digests their pods run. */
#ifndef SHIPLOG_K8S_K8S_H
#define SHIPLOG_K8S_K8S_H

#include <stddef.h>

#include "protocol/proto.h"

struct k8s_target {
	const char *server;          /* https://host:port */
	const char *ca_pem;          /* CA bundle, NULL: system CAs */
	const char *token;           /* bearer token or NULL */
	const char *client_cert_pem; /* client certificate or NULL */
	const char *client_key_pem;  /* its key or NULL */
	int insecure;                /* skip TLS verification */
	unsigned timeout_ms;         /* per request */
	const char *const *namespaces; /* to read; none = all */
	unsigned n_namespaces;
	const char *client, *env;    /* stamped on every observation */
};

/* The observations of one run; strings are owned by the result. */
struct k8s_result {
	struct proto_observation *obs;
	size_t n, cap;
	char error[512];  /* why the run failed ("" on success) */
	char **strings;   /* owned copies behind obs */
	size_t n_strings, cap_strings;
};

/* Reads the cluster and fills res (seen_at = now_ms). Blocking: run it off
 * the loop. Returns 0 or -1 with res->error set (unreachable, 401, timeout,
 * malformed answers). */
int k8s_collect(const struct k8s_target *t, int64_t now_ms, struct k8s_result *res);
void k8s_result_free(struct k8s_result *res);

/* Drops the observations no writer may write (protocol/valid.h), so that one
 * bad workload does not refuse a whole run. Returns how many were dropped;
 * when any, why holds "skipped N containers, first NS/KIND/NAME/CONTAINER:
 * reason". */
size_t k8s_result_drop_invalid(struct k8s_result *res, char *why, size_t cap);

#endif
