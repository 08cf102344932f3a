/* [[k8s_cluster]] tables of cluster.toml: registered through Raft by the
 * scheduler once a leader exists, as if POSTed to /api/v1/clusters, with id
 * "cfg-<name>" so that every node proposing them writes the same record. */
#include "scheduler/cfg_clusters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/creds.h"
#include "k8s/kubeconfig.h"
#include "raft/propose.h"
#include "lib/secret.h"
#include "lib/log.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (buf != NULL) {
		size_t got = fread(buf, 1, (size_t)n, f);
		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

static void trim(char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) {
		s[--n] = '\0';
	}
}

static int registered(void *data, const struct store_cluster *sc)
{
	const char *id = data;
	return strcmp(sc->c->id, id) == 0 ? 1 : 0;
}

/* Builds and proposes one cluster: 1 if proposed, 0 if already present, -1 on error. */
static int register_one(const struct cfg *cfg, const struct cfg_k8s_cluster *k, store *st, bus_client *raft,
                        const unsigned char *key, repl_propose_cb cb, void *data)
{
	char id[CFG_NAME_MAX + 8], idem[CFG_NAME_MAX + 32], kinds[K8S_CREDS_KINDS_MAX] = "";
	struct store_read *rd;
	snprintf(id, sizeof(id), "cfg-%s", k->name);
	if (store_read_begin(st, &rd) != PROTO_OK) {
		return -1;
	}
	int found = store_cluster_get(rd, id, registered, id) == PROTO_OK;
	store_read_end(rd);
	if (found) {
		return 0;
	}
	int proposed = -1;
	struct kubeconfig kc = {0};
	char *token = k->token_file[0] ? slurp(k->token_file) : NULL, *ca = k->ca_file[0] ? slurp(k->ca_file) : NULL;
	const char *server = k->server;
	trim(token);
	if (k->kubeconfig[0] != '\0') {
		char err[256], *yaml = slurp(k->kubeconfig);
		if (yaml == NULL || kubeconfig_parse_context(yaml, strlen(yaml), k->context[0] ? k->context : NULL, &kc, err,
		                                             sizeof(err)) != 0) {
			log_error("scheduler", "[[k8s_cluster]] %s: cannot use %s: %s", k->name, k->kubeconfig,
			          yaml == NULL ? "cannot read it" : err);
			free(yaml);
			free(token);
			free(ca);
			return -1;
		}
		free(yaml);
		server = server[0] ? server : kc.server;
	}
	const struct k8s_creds creds = {token ? token : kc.token, ca ? ca : kc.ca_pem, kc.client_cert_pem,
	                                 kc.client_key_pem};
	char *sealed = NULL;
	if (key != NULL && k8s_creds_seal(key, &creds, kinds, &sealed) == 0 && strlen(sealed) > PROTO_MAX_SEALED) {
		log_error("scheduler", "[[k8s_cluster]] %s: the credentials seal to %zu bytes; the limit is %u", k->name,
		          strlen(sealed), PROTO_MAX_SEALED);
	} else if (sealed != NULL) {
		const char *ns[16];
		for (size_t i = 0; i < k->n_namespaces; i++) {
			ns[i] = k->namespaces[i];
		}
		snprintf(idem, sizeof(idem), "cfgcluster:%s", k->name);
		struct proto_cmd cmd = {.type = PROTO_CMD_CLUSTER_PUT, .idem_key = idem};
		cmd.u.cluster = (struct proto_cluster){id, k->name, server, k->client_name, k->env_name, kinds, sealed,
		                                       ns, (uint32_t)k->n_namespaces, NULL, 0, (uint64_t)k->insecure,
		                                       k->interval_s};
		proposed = repl_propose(raft, &cmd, cfg->write_timeout_ms, cb, data) == PROTO_OK ? 1 : -1;
	} else if (key == NULL) {
		log_error("scheduler", "[[k8s_cluster]] %s needs [collector] secret_key", k->name);
	}
	free(sealed);
	if (token != NULL) {
		secret_wipe(token, strlen(token));
	}
	free(token);
	free(ca);
	kubeconfig_free(&kc);
	return proposed;
}

int cfg_clusters_register(const struct cfg *cfg, store *st, bus_client *raft, const unsigned char *key,
                          repl_propose_cb cb, void *data, bool *failed)
{
	int n = 0;
	*failed = false;
	for (size_t i = 0; i < cfg->n_k8s; i++) {
		int rv = register_one(cfg, &cfg->k8s[i], st, raft, key, cb, data);
		n += rv > 0;
		*failed = *failed || rv < 0;
	}
	return n;
}
