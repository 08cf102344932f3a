/* A Kubernetes cluster's credentials as they are sealed into its record: a
 * JSON object of the kinds present, under the cluster secret key. The
 * gateway (clusters registered through the API) and the scheduler (clusters
 * listed in cluster.toml) seal them this way; the collector opens them. */
#ifndef SHIPLOG_K8S_CREDS_H
#define SHIPLOG_K8S_CREDS_H

#include <stddef.h>

#include "lib/secret.h"

struct k8s_creds {
	const char *token;           /* bearer token, or NULL/"" */
	const char *ca_pem;          /* the API server's CA bundle, or NULL/"" */
	const char *client_cert_pem; /* client certificate, or NULL/"" */
	const char *client_key_pem;  /* its private key, or NULL/"" */
};

/* The longest kinds list: "token,ca_cert,client_cert,client_key". */
#define K8S_CREDS_KINDS_MAX 40

/* Seals the non-empty fields of c under key into *sealed (malloc'd, the
 * caller frees it) and writes their names, comma-separated, into kinds.
 * Returns 0, or -1 (out of memory) with *sealed = NULL. */
int k8s_creds_seal(const unsigned char key[SECRET_KEY_BYTES], const struct k8s_creds *c,
                   char kinds[K8S_CREDS_KINDS_MAX], char **sealed);

#endif
