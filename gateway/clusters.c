/* /api/v1/clusters: the Kubernetes clusters the collector reads. Credentials
 * are sealed (lib/secret.h) before they enter the Raft log and are never
 * answered back; only which kinds are present is shown. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"
#include "k8s/creds.h"
#include "k8s/kubeconfig.h"
#include "lib/secret.h"

#define GW_MAX_NAMESPACES 256
#define GW_MAX_LABELS 64
/* Per-field limits: a bound service-account or OIDC token, a CA bundle of a
 * few RSA-4096 certificates, a kubeconfig holding several contexts. Together
 * they must still seal within PROTO_MAX_SEALED. */
#define GW_MAX_TOKEN 8192
#define GW_MAX_PEM 16384
#define GW_MAX_KUBECONFIG 65536

static json_t *str_array(const char *const *v, uint32_t n)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < n; i++) {
		json_array_append_new(a, json_string(v[i]));
	}
	return a;
}

static json_t *cluster_json(const struct store_cluster *sc)
{
	const struct proto_cluster *c = sc->c;
	json_t *labels = json_object();
	for (uint32_t i = 0; i + 1 < c->n_labels; i += 2) {
		json_object_set_new(labels, c->labels[i], json_string(c->labels[i + 1]));
	}
	json_t *creds = json_object();
	const char *kinds[] = {"token", "ca_cert", "client_cert", "client_key"};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		json_object_set_new(creds, kinds[i], json_boolean(strstr(c->cred_kinds, kinds[i]) != NULL));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:I,s:o,s:o,s:o}", "id", c->id, "name", c->name, "server",
	                 c->server, "client_name", c->client, "env_name", c->env, "namespaces",
	                 str_array(c->namespaces, c->n_namespaces), "labels", labels, "insecure_skip_tls_verify",
	                 (int)c->insecure, "interval_seconds", (json_int_t)c->interval_s, "credentials", creds,
	                 "created_at", gw_json_time(sc->created_ms), "updated_at", gw_json_time(sc->updated_ms));
}

struct list_acc {
	struct gw_req *gr;
	json_t *list;
	const char *find_name; /* for the uniqueness check */
	const char *except_id;
	bool name_taken;
};

static int list_row(void *data, const struct store_cluster *sc)
{
	struct list_acc *acc = data;
	if (acc->find_name != NULL) {
		if (strcmp(sc->c->name, acc->find_name) == 0 &&
		    (acc->except_id == NULL || strcmp(sc->c->id, acc->except_id) != 0)) {
			acc->name_taken = true;
		}
		return 0;
	}
	if (gw_auth_allows(&acc->gr->auth, sc->c->client)) {
		json_array_append_new(acc->list, cluster_json(sc));
	}
	return 0;
}

static void read_clusters(struct gw_req *gr)
{
	struct store_read *rd;
	struct list_acc acc = {.gr = gr, .list = json_array()};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		json_decref(acc.list);
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = store_clusters_each(rd, list_row, &acc);
	store_read_end(rd);
	if (rv != PROTO_OK) {
		json_decref(acc.list);
		gw_respond_status(gr, rv, "cannot read the store");
		return;
	}
	size_t n = json_array_size(acc.list);
	gw_respond_json(gr, 200, json_pack("{s:o,s:I}", "clusters", acc.list, "total", (json_int_t)n));
}

void gw_h_clusters_list(struct gw_req *gr)
{
	gw_read(gr, read_clusters);
}

struct one_acc {
	struct gw_req *gr;
	json_t *out;
	bool forbidden;
	bool health;
};

static const char *health_status(const struct store_cluster *sc)
{
	if (sc->last_run_ms == 0) {
		return "unknown";
	}
	return sc->failures == 0 ? "healthy" : "failing";
}

static int one_row(void *data, const struct store_cluster *sc)
{
	struct one_acc *acc = data;
	if (!gw_auth_allows(&acc->gr->auth, sc->c->client)) {
		acc->forbidden = true;
		return 0;
	}
	if (!acc->health) {
		acc->out = cluster_json(sc);
		return 0;
	}
	json_t *h = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "id", sc->c->id, "name", sc->c->name, "status",
	                      health_status(sc), "consecutive_failures", (json_int_t)sc->failures, "last_error",
	                      sc->last_error, "last_observations", (json_int_t)sc->last_observations);
	json_object_set_new(h, "last_run_at", sc->last_run_ms ? gw_json_time(sc->last_run_ms) : json_null());
	json_object_set_new(h, "last_success_at", sc->last_success_ms ? gw_json_time(sc->last_success_ms) : json_null());
	json_object_set_new(h, "last_job", sc->last_job[0] ? json_string(sc->last_job) : json_null());
	acc->out = h;
	return 0;
}

static void read_one(struct gw_req *gr, bool health)
{
	const char *id = gr->target.seg[3];
	struct store_read *rd;
	struct one_acc acc = {.gr = gr, .health = health};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, "cannot read the store");
		return;
	}
	gr->index = gw_state_index(gr->gw, rd);
	int rv = store_cluster_get(rd, id, one_row, &acc);
	if (rv == PROTO_OK && health && acc.out != NULL) {
		char duty[PROTO_MAX_STR + 16];
		struct store_lease l;
		snprintf(duty, sizeof(duty), "collect:%s", id);
		if (store_lease_get(rd, duty, &l) == PROTO_OK) {
			const struct cfg_node *n = cfg_find_node_id(gr->gw->cfg, l.holder);
			json_object_set_new(acc.out, "lease",
			                    json_pack("{s:I,s:s,s:o,s:b}", "holder_id", (json_int_t)l.holder, "holder",
			                              n != NULL ? n->name : "", "expires_at", gw_json_time(l.expires_ms),
			                              "live", l.expires_ms > wall_now_ms()));
		} else {
			json_object_set_new(acc.out, "lease", json_null());
		}
	}
	store_read_end(rd);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, rv == PROTO_ENOTFOUND ? "no such cluster" : "cannot read the store");
	} else if (acc.forbidden) {
		gw_respond_error(gr, 404, "NOT_FOUND", "no such cluster"); /* another client's ids do not leak */
	} else {
		gw_respond_json(gr, 200, acc.out);
	}
}

static void read_cluster(struct gw_req *gr)
{
	read_one(gr, false);
}

static void read_health(struct gw_req *gr)
{
	read_one(gr, true);
}

void gw_h_cluster_get(struct gw_req *gr)
{
	gw_read(gr, read_cluster);
}

void gw_h_cluster_health(struct gw_req *gr)
{
	gw_read(gr, read_health);
}

/* ---- writes ---- */

/* The parsed body of a POST or PUT; strings live in body or in pool memory. */
struct cluster_form {
	json_t *body;
	struct proto_cluster c;
	const char *namespaces[GW_MAX_NAMESPACES];
	const char *labels[2 * GW_MAX_LABELS];
	const char *token, *ca_cert, *client_cert, *client_key;
	char kinds[K8S_CREDS_KINDS_MAX];
	struct kubeconfig kc;
	bool have_kc;
};

static void form_dispose(void *p)
{
	struct cluster_form *f = p;
	if (f->body != NULL) {
		json_decref(f->body);
	}
	if (f->have_kc) {
		kubeconfig_free(&f->kc);
	}
	free((void *)f->c.sealed);
}

static bool bad(struct gw_req *gr, const char *what)
{
	gw_respond_error(gr, 400, "VALIDATION_ERROR", "%s", what);
	return false;
}

static bool read_kubeconfig(struct gw_req *gr, struct cluster_form *f, const char *b64, const char *context)
{
	void *yaml;
	size_t len;
	char err[256];
	if (secret_base64_decode(b64, &yaml, &len) != 0) {
		return bad(gr, "kubeconfig must be base64 of a kubeconfig file");
	}
	int rv = kubeconfig_parse_context(yaml, len, context, &f->kc, err, sizeof(err));
	secret_wipe(yaml, len);
	free(yaml);
	if (rv != 0) {
		gw_respond_error(gr, 400, "VALIDATION_ERROR", "kubeconfig: %s", err);
		return false;
	}
	f->have_kc = true;
	if (f->c.server == NULL) {
		f->c.server = f->kc.server;
	}
	f->token = f->token != NULL ? f->token : f->kc.token;
	f->ca_cert = f->ca_cert != NULL ? f->ca_cert : f->kc.ca_pem;
	f->client_cert = f->client_cert != NULL ? f->client_cert : f->kc.client_cert_pem;
	f->client_key = f->client_key != NULL ? f->client_key : f->kc.client_key_pem;
	f->c.insecure = f->c.insecure || f->kc.insecure_skip_tls_verify;
	return true;
}

static bool read_lists(struct gw_req *gr, struct cluster_form *f)
{
	json_t *ns = json_object_get(f->body, "namespaces");
	if (ns != NULL && !json_is_null(ns)) {
		if (!json_is_array(ns) || json_array_size(ns) > GW_MAX_NAMESPACES) {
			return bad(gr, "namespaces must be an array of at most 256 names");
		}
		size_t i;
		json_t *v;
		json_array_foreach(ns, i, v)
		{
			if (!json_is_string(v) || !proto_valid_name(json_string_value(v))) {
				return bad(gr, "namespaces must hold namespace names");
			}
			f->namespaces[f->c.n_namespaces++] = json_string_value(v);
		}
	}
	json_t *labels = json_object_get(f->body, "labels");
	if (labels != NULL && !json_is_null(labels)) {
		if (!json_is_object(labels) || json_object_size(labels) > GW_MAX_LABELS) {
			return bad(gr, "labels must be an object of at most 64 string values");
		}
		const char *k;
		json_t *v;
		json_object_foreach(labels, k, v)
		{
			if (!json_is_string(v) || !proto_valid_text(k, 253) || strlen(json_string_value(v)) > 253) {
				return bad(gr, "labels must map names to strings");
			}
			f->labels[f->c.n_labels++] = k;
			f->labels[f->c.n_labels++] = json_string_value(v);
		}
	}
	f->c.namespaces = f->namespaces;
	f->c.labels = f->labels;
	return true;
}

static bool read_interval(struct gw_req *gr, struct cluster_form *f)
{
	json_t *iv = json_object_get(f->body, "interval");
	if (iv == NULL || json_is_null(iv)) {
		return true;
	}
	long long ms = json_is_integer(iv) ? json_integer_value(iv) * 1000
	               : json_is_string(iv) ? cfg_parse_duration_ms(json_string_value(iv), 1000)
	                                    : -1;
	if (ms < 1000 || ms > 86400000LL) {
		return bad(gr, "interval must be between 1s and 24h (seconds or a duration such as \"30s\")");
	}
	f->c.interval_s = (uint64_t)(ms / 1000);
	return true;
}

static const char *const cluster_fields[] = {
	"name", "server", "client_name", "env_name", "namespaces", "labels", "token", "ca_cert", "client_cert",
	"client_key", "kubeconfig", "context", "insecure_skip_tls_verify", "interval",
};

/* Unknown fields are refused, each named in the error's details. */
static bool known_fields(struct gw_req *gr, json_t *body)
{
	json_t *details = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < sizeof(cluster_fields) / sizeof(cluster_fields[0]) && !known; i++) {
			known = strcmp(k, cluster_fields[i]) == 0;
		}
		if (!known) {
			json_array_append_new(details, json_pack("{s:s,s:s}", "field", k, "message", "unknown field"));
		}
	}
	if (json_array_size(details) == 0) {
		json_decref(details);
		return true;
	}
	gw_respond_error_details(gr, 400, "VALIDATION_ERROR", details, "the body has unknown fields");
	return false;
}

static bool pem_ok(const char *pem, const char *kind)
{
	char begin[64];
	snprintf(begin, sizeof(begin), "-----BEGIN %s", kind);
	return pem == NULL || (strstr(pem, begin) != NULL && strstr(pem, "-----END ") != NULL);
}

/* Fills f from the body; answers 400 and returns false on any bad field. */
static bool cluster_form_read(struct gw_req *gr, struct cluster_form *f)
{
	const char *kubeconfig = NULL, *context = NULL;
	if (!known_fields(gr, f->body)) {
		return false;
	}
	json_t *insecure = json_object_get(f->body, "insecure_skip_tls_verify");
	if (!gw_opt_string(gr, f->body, "name", &f->c.name) || !gw_opt_string(gr, f->body, "server", &f->c.server) ||
	    !gw_opt_string(gr, f->body, "client_name", &f->c.client) ||
	    !gw_opt_string(gr, f->body, "env_name", &f->c.env) ||
	    !gw_opt_string_max(gr, f->body, "token", GW_MAX_TOKEN, &f->token) ||
	    !gw_opt_string_max(gr, f->body, "ca_cert", GW_MAX_PEM, &f->ca_cert) ||
	    !gw_opt_string_max(gr, f->body, "client_cert", GW_MAX_PEM, &f->client_cert) ||
	    !gw_opt_string_max(gr, f->body, "client_key", GW_MAX_PEM, &f->client_key) ||
	    !gw_opt_string_max(gr, f->body, "kubeconfig", GW_MAX_KUBECONFIG, &kubeconfig) ||
	    !gw_opt_string_max(gr, f->body, "context", 253, &context)) {
		return false;
	}
	if (context != NULL && kubeconfig == NULL) {
		return bad(gr, "context names a context of the kubeconfig, which is missing");
	}
	if (insecure != NULL && !json_is_null(insecure)) {
		if (!json_is_boolean(insecure)) {
			return bad(gr, "insecure_skip_tls_verify must be a boolean");
		}
		f->c.insecure = json_is_true(insecure);
	}
	if (kubeconfig != NULL && !read_kubeconfig(gr, f, kubeconfig, context)) {
		return false;
	}
	if (f->c.name == NULL || !proto_valid_name(f->c.name) || f->c.client == NULL || !proto_valid_name(f->c.client) ||
	    f->c.env == NULL || !proto_valid_name(f->c.env)) {
		return bad(gr, "name, client_name and env_name are required names");
	}
	if (f->c.server == NULL || (strncmp(f->c.server, "https://", 8) != 0 && strncmp(f->c.server, "http://", 7) != 0) ||
	    !proto_valid_text(f->c.server, 512)) {
		return bad(gr, "server must be the API server's https:// URL (or come from kubeconfig)");
	}
	if ((f->client_cert != NULL) != (f->client_key != NULL)) {
		return bad(gr, "client_cert and client_key go together");
	}
	if (!pem_ok(f->ca_cert, "CERTIFICATE") || !pem_ok(f->client_cert, "CERTIFICATE") ||
	    (f->client_key != NULL && (!pem_ok(f->client_key, "") || strstr(f->client_key, "PRIVATE KEY") == NULL))) {
		return bad(gr, "ca_cert, client_cert and client_key must be PEM (-----BEGIN ...-----)");
	}
	return read_lists(gr, f) && read_interval(gr, f);
}

/* Seals the credentials into f->c.sealed and lists their kinds. */
static bool cluster_form_seal(struct gw_req *gr, struct cluster_form *f)
{
	const struct k8s_creds creds = {f->token, f->ca_cert, f->client_cert, f->client_key};
	char *sealed = NULL;
	if (k8s_creds_seal(gr->gw->secret_key, &creds, f->kinds, &sealed) != 0) {
		gw_respond_error(gr, 500, "INTERNAL_ERROR", "cannot seal the credentials");
		return false;
	}
	f->c.cred_kinds = f->kinds;
	if (strlen(sealed) > PROTO_MAX_SEALED) {
		gw_respond_too_long(gr, "credentials (sealed)", strlen(sealed), PROTO_MAX_SEALED);
		free(sealed);
		return false;
	}
	f->c.sealed = sealed;
	return true;
}

static void cluster_written(struct gw_req *gr, const struct proto_result *res)
{
	struct cluster_form *f = gr->ctx;
	struct store_cluster sc = {.c = &f->c, .created_ms = wall_now_ms(), .updated_ms = wall_now_ms()};
	(void)res;
	json_t *out = cluster_json(&sc);
	bool created = h2o_memis(gr->req->method.base, gr->req->method.len, H2O_STRLIT("POST"));
	gw_respond_json(gr, created ? 201 : 200, out);
}

static bool name_taken(struct gw_req *gr, const char *name, const char *except_id)
{
	struct store_read *rd;
	struct list_acc acc = {.gr = gr, .find_name = name, .except_id = except_id};
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		return false;
	}
	store_clusters_each(rd, list_row, &acc);
	store_read_end(rd);
	return acc.name_taken;
}

static struct cluster_form *form_new(struct gw_req *gr)
{
	if (!gr->gw->have_secret_key) {
		gw_respond_error(gr, 503, "INTERNAL_ERROR", "[collector] secret_key is not set: credentials cannot be stored");
		return NULL;
	}
	json_t *body = gw_body_object(gr);
	if (body == NULL) {
		return NULL;
	}
	struct cluster_form *f = h2o_mem_alloc_shared(&gr->req->pool, sizeof(*f), form_dispose);
	memset(f, 0, sizeof(*f));
	f->body = body;
	gr->ctx = f;
	return f;
}

void gw_h_cluster_create(struct gw_req *gr)
{
	struct cluster_form *f = form_new(gr);
	char id[40];
	if (f == NULL || !cluster_form_read(gr, f)) {
		return;
	}
	if (name_taken(gr, f->c.name, NULL)) {
		gw_respond_error(gr, 409, "CONFLICT", "a cluster named %s exists", f->c.name);
		return;
	}
	if (!cluster_form_seal(gr, f)) {
		return;
	}
	snprintf(id, sizeof(id), "c%011" PRIx64 "%04x", (uint64_t)wall_now_ms(), (unsigned)rand() & 0xffff);
	f->c.id = h2o_mem_alloc_pool(&gr->req->pool, strlen(id) + 1);
	memcpy((char *)f->c.id, id, strlen(id) + 1);
	struct proto_cmd cmd = {.type = PROTO_CMD_CLUSTER_PUT, .u.cluster = f->c};
	gw_propose(gr, &cmd, cluster_written);
}

struct existing {
	bool found, forbidden;
	char *sealed, *kinds;
};

static int existing_row(void *data, const struct store_cluster *sc)
{
	struct existing *e = data;
	e->found = true;
	e->sealed = strdup(sc->c->sealed);
	e->kinds = strdup(sc->c->cred_kinds);
	return 0;
}

void gw_h_cluster_update(struct gw_req *gr)
{
	struct cluster_form *f = form_new(gr);
	struct existing e = {0};
	struct store_read *rd;
	if (f == NULL) {
		return;
	}
	f->c.id = gr->target.seg[3];
	if (store_read_begin(gr->gw->store, &rd) != PROTO_OK) {
		gw_respond_status(gr, PROTO_EIO, NULL);
		return;
	}
	int rv = store_cluster_get(rd, f->c.id, existing_row, &e);
	store_read_end(rd);
	if (rv != PROTO_OK) {
		gw_respond_status(gr, rv, rv == PROTO_ENOTFOUND ? "no such cluster" : NULL);
		return;
	}
	bool ok = cluster_form_read(gr, f);
	if (ok && name_taken(gr, f->c.name, f->c.id)) {
		gw_respond_error(gr, 409, "CONFLICT", "a cluster named %s exists", f->c.name);
		ok = false;
	}
	if (ok && f->token == NULL && f->ca_cert == NULL && f->client_cert == NULL) {
		/* No credentials given: keep the sealed ones. */
		snprintf(f->kinds, sizeof(f->kinds), "%s", e.kinds);
		f->c.cred_kinds = f->kinds;
		f->c.sealed = e.sealed;
		e.sealed = NULL;
	} else if (ok) {
		ok = cluster_form_seal(gr, f);
	}
	free(e.sealed);
	free(e.kinds);
	if (ok) {
		struct proto_cmd cmd = {.type = PROTO_CMD_CLUSTER_PUT, .u.cluster = f->c};
		gw_propose(gr, &cmd, cluster_written);
	}
}

static void cluster_deleted(struct gw_req *gr, const struct proto_result *res)
{
	(void)res;
	gw_respond_json(gr, 200, json_pack("{s:s,s:s}", "status", "deleted", "id", gr->target.seg[3]));
}

void gw_h_cluster_delete(struct gw_req *gr)
{
	struct proto_cmd cmd = {.type = PROTO_CMD_CLUSTER_DELETE};
	cmd.u.cluster_id = gr->target.seg[3];
	gw_propose(gr, &cmd, cluster_deleted);
}
