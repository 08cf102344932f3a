/* A read-only Kubernetes API client (over lib/http) and the collection of one
 * cluster: workloads, their containers and the digests their pods run. */
#ifndef SHIPLOG_K8S_K8S_H
#define SHIPLOG_K8S_K8S_H

#include <stddef.h>

#include <jansson.h>

#include "protocol/proto.h"

#define K8S_PAGE_SIZE 500              /* the page size kubectl uses */
#define K8S_MAX_RESPONSE (16u << 20)   /* one page of 500 large pods is well under 4 MiB */
#define K8S_MAX_ITEMS 200000           /* pods, ReplicaSets or workloads of one kind */

struct k8s_target {
	const char *server;          /* https://host:port */
	const char *ca_pem;          /* CA bundle, NULL: system CAs */
	const char *token;           /* bearer token or NULL */
	const char *client_cert_pem; /* client certificate or NULL */
	const char *client_key_pem;  /* its key or NULL */
	int insecure;                /* skip TLS verification */
	unsigned timeout_ms;         /* per request */
	unsigned page_size;          /* items per list request (?limit=, then ?continue=); 0: K8S_PAGE_SIZE */
	size_t max_response;         /* bytes of one list answer; 0: K8S_MAX_RESPONSE */
	size_t max_items;            /* items of one resource across pages; 0: K8S_MAX_ITEMS */
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

#define K8S_WORKLOAD_KINDS 3 /* Deployments, StatefulSets, DaemonSets, in this order */

/* The observations of lists already read (the "items" arrays of pods,
 * ReplicaSets and each workload kind), appended to res (zeroed by the
 * caller): each container of each workload with the digest its pods run.
 * Takes nothing from the lists. 0, or -1 with res->error (out of memory). */
int k8s_extract(const struct k8s_target *t, json_t *pods, json_t *rs, json_t *const workloads[K8S_WORKLOAD_KINDS],
                int64_t now_ms, struct k8s_result *res);

/* Drops the observations no writer may write (protocol/valid.h), so that one
 * bad workload does not refuse a whole run. Returns how many were dropped;
 * when any, why holds "skipped N containers, first NS/KIND/NAME/CONTAINER:
 * reason". */
size_t k8s_result_drop_invalid(struct k8s_result *res, char *why, size_t cap);

#endif
