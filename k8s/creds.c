/* Sealing a cluster's credentials (see creds.h). */
#include "k8s/creds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int k8s_creds_seal(const unsigned char key[SECRET_KEY_BYTES], const struct k8s_creds *c,
                   char kinds[K8S_CREDS_KINDS_MAX], char **sealed)
{
	const char *names[] = {"token", "ca_cert", "client_cert", "client_key"};
	const char *vals[] = {c->token, c->ca_pem, c->client_cert_pem, c->client_key_pem};
	json_t *obj = json_object();
	size_t n = 0;
	*sealed = NULL;
	kinds[0] = '\0';
	for (size_t i = 0; obj != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (vals[i] != NULL && vals[i][0] != '\0') {
			json_object_set_new(obj, names[i], json_string(vals[i]));
			n += (size_t)snprintf(kinds + n, K8S_CREDS_KINDS_MAX - n, "%s%s", n ? "," : "", names[i]);
		}
	}
	char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	int rv = text != NULL ? secret_seal(key, text, strlen(text), sealed) : -1;
	if (text != NULL) {
		secret_wipe(text, strlen(text));
		free(text);
	}
	return rv;
}
