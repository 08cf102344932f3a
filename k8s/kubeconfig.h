/* kubeconfig files (as kubectl writes them): the API server, its CA and the
 * credentials of the selected context, for the Kubernetes collector. */
#ifndef SHIPLOG_K8S_KUBECONFIG_H
#define SHIPLOG_K8S_KUBECONFIG_H

#include <stddef.h>

struct kubeconfig {
	char server[512];             /* clusters[].cluster.server, e.g. "https://10.0.0.1:6443" */
	char *ca_pem;                 /* owned: certificate-authority-data decoded, or NULL */
	char *token;                  /* owned: users[].user.token, or NULL */
	char *client_cert_pem;        /* owned: client-certificate-data decoded, or NULL */
	char *client_key_pem;         /* owned: client-key-data decoded, or NULL (wiped on free) */
	int insecure_skip_tls_verify; /* clusters[].cluster.insecure-skip-tls-verify (0 or 1) */
	char namespace_[254];         /* contexts[].context.namespace, or "" */
};

/* Parses the kubeconfig YAML in yaml[0..len) into out (zeroed first).
 *
 * The context is the one named by current-context, or the only context when
 * current-context is missing or "". Its cluster must exist and have a server;
 * its user is optional (anonymous) but must exist when named. Supported
 * credentials: token, client-certificate-data + client-key-data (both or
 * neither). Refused with an error: file-path forms (certificate-authority,
 * client-certificate, client-key, tokenFile: "only *-data fields are
 * supported"), exec plugins ("exec credential plugins are not supported"),
 * auth-provider, and username/password. The *-data fields are base64
 * (standard alphabet, padded; blanks and line breaks ignored) and must decode
 * to text (PEM), without NUL bytes.
 *
 * Returns 0, or -1 with out holding nothing to free and a message in err
 * (the YAML error and its line, or the missing/invalid key and the context,
 * cluster or user it belongs to). On success, release out with
 * kubeconfig_free. */
int kubeconfig_parse(const char *yaml, size_t len, struct kubeconfig *out, char *err, size_t errlen);

/* As kubeconfig_parse, but with the context named context (the file's
 * current-context when NULL); an unknown name is an error that lists the
 * contexts the file has. */
int kubeconfig_parse_context(const char *yaml, size_t len, const char *context, struct kubeconfig *out, char *err,
                             size_t errlen);

/* Frees the strings of k (wiping the token and key first) and zeroes k; safe
 * on a zeroed or already freed struct. */
void kubeconfig_free(struct kubeconfig *k);

#endif
