/* Collection from the Kubernetes API, read-only: apps/v1 Deployments,
 * StatefulSets, DaemonSets (containers and init containers), ReplicaSets for
 * ownership, and pods for the digests actually running
 * (status.containerStatuses[].imageID). A pod belongs to a workload through
 * its controller ownerReference (Deployment pods through their ReplicaSet),
 * or failing that through the workload's spec.selector.matchLabels. */
#include "k8s/k8s.h"
#include "protocol/valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/imageref.h"
#include "lib/http.h"

/* GETs path and parses the JSON answer; NULL with res->error on failure
 * (*status the HTTP status, 0 when none came). */
static json_t *get_json(const struct k8s_target *t, const char *path, struct k8s_result *res, long *status)
{
	static const char *const accept[] = {"Accept: application/json", NULL};
	char url[2048];
	json_t *doc = NULL;
	snprintf(url, sizeof(url), "%s%s", t->server, path);
	struct http_request rq = {
		.url = url,
		.headers = accept,
		.bearer = t->token,
		.timeout_ms = t->timeout_ms,
		.ca_pem = t->ca_pem,
		.client_cert_pem = t->client_cert_pem,
		.client_key_pem = t->client_key_pem,
		.insecure = t->insecure,
		.max_response = t->max_response ? t->max_response : K8S_MAX_RESPONSE,
	};
	struct http_response rs;
	*status = 0;
	if (http_perform(&rq, &rs) != 0) {
		snprintf(res->error, sizeof(res->error), "GET %.200s: %s", path, rs.error);
	} else if ((*status = rs.status) != 200) {
		json_t *st = rs.body != NULL ? json_loads(rs.body, 0, NULL) : NULL;
		const char *msg = json_string_value(json_object_get(st, "message"));
		snprintf(res->error, sizeof(res->error), "GET %.200s: HTTP %ld%s%.200s", path, rs.status, msg ? ": " : "",
		         msg ? msg : "");
		json_decref(st);
	} else if ((doc = json_loads(rs.body != NULL ? rs.body : "", 0, NULL)) == NULL ||
	           !json_is_array(json_object_get(doc, "items"))) {
		snprintf(res->error, sizeof(res->error), "GET %.200s: not a Kubernetes list", path);
		json_decref(doc);
		doc = NULL;
	}
	http_response_free(&rs);
	return doc;
}

/* Appends the items of one list, page by page (?limit=, then the answer's
 * metadata.continue), to items; an expired continue token (410) restarts
 * the list once, as the API asks. 0, or -1 with res->error. */
static int list_pages(const struct k8s_target *t, const char *base, json_t *items, struct k8s_result *res)
{
	unsigned page = t->page_size ? t->page_size : K8S_PAGE_SIZE;
	size_t max_items = t->max_items ? t->max_items : K8S_MAX_ITEMS, start = json_array_size(items);
	char path[2048], token[1024] = "";
	bool restarted = false;
	for (;;) {
		long status;
		if (token[0] != '\0') {
			char *esc = http_escape(token);
			snprintf(path, sizeof(path), "%s?limit=%u&continue=%s", base, page, esc != NULL ? esc : "");
			free(esc);
		} else {
			snprintf(path, sizeof(path), "%s?limit=%u", base, page);
		}
		json_t *doc = get_json(t, path, res, &status);
		if (doc == NULL && status == 410 && token[0] != '\0' && !restarted) {
			restarted = true; /* the token expired: from the start, as the API asks */
			token[0] = '\0';
			while (json_array_size(items) > start) {
				json_array_remove(items, json_array_size(items) - 1);
			}
			continue;
		}
		if (doc == NULL) {
			return -1;
		}
		json_array_extend(items, json_object_get(doc, "items"));
		const char *next = json_string_value(json_object_get(json_object_get(doc, "metadata"), "continue"));
		bool more = next != NULL && next[0] != '\0' && strlen(next) < sizeof(token);
		if (more) {
			snprintf(token, sizeof(token), "%s", next);
		}
		json_decref(doc);
		if (json_array_size(items) - start > max_items) {
			snprintf(res->error, sizeof(res->error), "GET %.200s: more than %zu items", base, max_items);
			return -1;
		}
		if (!more) {
			return 0;
		}
	}
}

/* Lists resource (e.g. "apis/apps/v1/deployments") in every namespace asked
 * for, appending items to one array. */
static json_t *list_all(const struct k8s_target *t, const char *group, const char *resource, struct k8s_result *res)
{
	char path[1024];
	json_t *items = json_array();
	unsigned n = t->n_namespaces > 0 ? t->n_namespaces : 1;
	for (unsigned i = 0; i < n; i++) {
		if (t->n_namespaces > 0) {
			snprintf(path, sizeof(path), "/%s/namespaces/%s/%s", group, t->namespaces[i], resource);
		} else {
			snprintf(path, sizeof(path), "/%s/%s", group, resource);
		}
		if (list_pages(t, path, items, res) != 0) {
			json_decref(items);
			return NULL;
		}
	}
	return items;
}

static const char *jstr(json_t *o, const char *path)
{
	char key[64];
	const char *p = path;
	while (o != NULL && *p != '\0') {
		const char *dot = strchr(p, '.');
		size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key)) {
			return NULL;
		}
		memcpy(key, p, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		p += n + (dot != NULL);
	}
	return json_string_value(o);
}

static json_t *jget(json_t *o, const char *a, const char *b, const char *c)
{
	o = json_object_get(o, a);
	if (b != NULL) {
		o = json_object_get(o, b);
	}
	if (c != NULL) {
		o = json_object_get(o, c);
	}
	return o;
}

/* The controller owner of obj, as "Kind/name", or "" */
static void controller_of(json_t *obj, char *out, size_t cap)
{
	size_t i;
	json_t *ref;
	out[0] = '\0';
	json_array_foreach(jget(obj, "metadata", "ownerReferences", NULL), i, ref)
	{
		if (json_is_true(json_object_get(ref, "controller"))) {
			snprintf(out, cap, "%s/%s", jstr(ref, "kind") ? jstr(ref, "kind") : "",
			         jstr(ref, "name") ? jstr(ref, "name") : "");
			return;
		}
	}
}

static int labels_match(json_t *selector, json_t *labels)
{
	const char *k;
	json_t *v;
	if (json_object_size(selector) == 0) {
		return 0;
	}
	json_object_foreach(selector, k, v)
	{
		json_t *have = json_object_get(labels, k);
		if (!json_is_string(have) || !json_equal(have, v)) {
			return 0;
		}
	}
	return 1;
}

static const char *keep(struct k8s_result *res, const char *s)
{
	if (res->n_strings == res->cap_strings) {
		size_t cap = res->cap_strings ? 2 * res->cap_strings : 256;
		char **np = realloc(res->strings, cap * sizeof(*np));
		if (np == NULL) {
			return NULL;
		}
		res->strings = np;
		res->cap_strings = cap;
	}
	char *c = strdup(s != NULL ? s : "");
	if (c != NULL) {
		res->strings[res->n_strings++] = c;
	}
	return c;
}

struct pods_index {
	json_t *pods;     /* every pod */
	json_t *rs_owner; /* "ns/replicaset" -> "Deployment/name" */
	json_t *by_owner; /* "ns/Kind/name" -> [pods] (Deployment pods via their ReplicaSet) */
	json_t *orphans;  /* pods without a controller: matched by selector */
};

/* Groups pods by the workload that controls them, once per run. */
static void index_pods(struct pods_index *ix)
{
	size_t i;
	json_t *pod;
	ix->by_owner = json_object();
	ix->orphans = json_array();
	json_array_foreach(ix->pods, i, pod)
	{
		char owner[600], key[1300];
		const char *ns = jstr(pod, "metadata.namespace");
		controller_of(pod, owner, sizeof(owner));
		if (ns == NULL) {
			continue;
		}
		if (owner[0] == '\0') {
			json_array_append(ix->orphans, pod);
			continue;
		}
		if (strncmp(owner, "ReplicaSet/", 11) == 0) {
			snprintf(key, sizeof(key), "%s/%s", ns, owner + 11);
			const char *dep = json_string_value(json_object_get(ix->rs_owner, key));
			if (dep == NULL) {
				continue; /* a bare ReplicaSet: not a workload we track */
			}
			snprintf(owner, sizeof(owner), "%s", dep);
		}
		snprintf(key, sizeof(key), "%s/%s", ns, owner);
		json_t *list = json_object_get(ix->by_owner, key);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(ix->by_owner, key, list);
		}
		json_array_append(list, pod);
	}
}

/* Whether two image strings name the same image ("nginx:1.21" and
 * "docker.io/library/nginx:1.21" do: runtimes report the long form). */
static int same_image(const char *a, const char *b)
{
	struct image_ref ra, rb;
	if (a == NULL || b == NULL) {
		return 0;
	}
	if (strcmp(a, b) == 0) {
		return 1;
	}
	return image_ref_parse(a, &ra) == 0 && image_ref_parse(b, &rb) == 0 && strcmp(ra.registry, rb.registry) == 0 &&
	       strcmp(ra.repository, rb.repository) == 0 && strcmp(ra.tag, rb.tag) == 0;
}

/* The digest a pod of the workload runs for container (image equal to the
 * spec's preferred: the current rollout), or "". */
static void running_digest(struct pods_index *ix, const char *kind, const char *ns, const char *name,
                           json_t *selector, const char *container, const char *image, int init, char *out,
                           size_t cap)
{
	size_t i, k;
	json_t *pod, *cs;
	char key[1300];
	out[0] = '\0';
	snprintf(key, sizeof(key), "%s/%s/%s", ns, kind, name);
	json_t *owned = json_object_get(ix->by_owner, key);
	size_t n_owned = json_array_size(owned);
	for (i = 0; i < n_owned + json_array_size(ix->orphans); i++) {
		pod = i < n_owned ? json_array_get(owned, i) : json_array_get(ix->orphans, i - n_owned);
		if (i >= n_owned) {
			const char *pns = jstr(pod, "metadata.namespace");
			if (pns == NULL || strcmp(pns, ns) != 0 || !labels_match(selector, jget(pod, "metadata", "labels", NULL))) {
				continue; /* an orphan pod of another workload */
			}
		}
		json_array_foreach(jget(pod, "status", init ? "initContainerStatuses" : "containerStatuses", NULL), k, cs)
		{
			const char *cname = jstr(cs, "name"), *id = jstr(cs, "imageID"), *img = jstr(cs, "image");
			if (cname == NULL || strcmp(cname, container) != 0 || id == NULL || id[0] == '\0') {
				continue;
			}
			char d[160];
			if (image_ref_digest_of_image_id(id, d, sizeof(d)) != 0) {
				continue;
			}
			int current = same_image(img, image);
			if (out[0] == '\0' || current) {
				snprintf(out, cap, "%s", d);
			}
			if (current) {
				return;
			}
		}
	}
}

static int add_obs(struct k8s_result *res, const struct k8s_target *t, const char *ns, const char *kind,
                   const char *workload, const char *container, const char *image, const char *digest,
                   int64_t now_ms)
{
	struct image_ref ref;
	char tag[160];
	if (image_ref_parse(image, &ref) != 0) {
		memset(&ref, 0, sizeof(ref));
		snprintf(ref.name, sizeof(ref.name), "%.255s", image);
		snprintf(ref.tag, sizeof(ref.tag), "unknown");
	}
	const char *sha = digest[0] != '\0' ? digest : ref.digest;
	if (ref.tag[0] != '\0') {
		snprintf(tag, sizeof(tag), "%s", ref.tag);
	} else {
		snprintf(tag, sizeof(tag), "%.19s", ref.digest); /* digest-only: "sha256:" + 12 hex */
	}
	if (res->n == res->cap) {
		size_t cap = res->cap ? 2 * res->cap : 64;
		struct proto_observation *np = realloc(res->obs, cap * sizeof(*np));
		if (np == NULL) {
			return -1;
		}
		res->obs = np;
		res->cap = cap;
	}
	struct proto_observation *o = &res->obs[res->n];
	o->client = keep(res, t->client);
	o->env = keep(res, t->env);
	o->ns = keep(res, ns);
	o->kind = keep(res, kind);
	o->workload = keep(res, workload);
	o->container = keep(res, container);
	o->image_repo = keep(res, ref.repo);
	o->image_name = keep(res, ref.name);
	o->image_tag = keep(res, tag);
	o->image_sha = keep(res, sha);
	o->seen_at_ms = now_ms;
	if (o->client == NULL || o->env == NULL || o->ns == NULL || o->kind == NULL || o->workload == NULL ||
	    o->container == NULL || o->image_repo == NULL || o->image_name == NULL || o->image_tag == NULL ||
	    o->image_sha == NULL) {
		return -1;
	}
	res->n++;
	return 0;
}

static int collect_kind(const struct k8s_target *t, struct pods_index *ix, json_t *items, const char *kind,
                        int64_t now_ms, struct k8s_result *res)
{
	size_t i, k;
	json_t *w, *c;
	json_array_foreach(items, i, w)
	{
		const char *ns = jstr(w, "metadata.namespace"), *name = jstr(w, "metadata.name");
		json_t *spec = jget(w, "spec", "template", "spec");
		json_t *selector = jget(w, "spec", "selector", "matchLabels");
		if (ns == NULL || name == NULL) {
			continue;
		}
		for (int init = 0; init < 2; init++) {
			json_array_foreach(json_object_get(spec, init ? "initContainers" : "containers"), k, c)
			{
				const char *cname = jstr(c, "name"), *image = jstr(c, "image");
				char digest[160];
				if (cname == NULL || image == NULL) {
					continue;
				}
				running_digest(ix, kind, ns, name, selector, cname, image, init, digest, sizeof(digest));
				if (add_obs(res, t, ns, kind, name, cname, image, digest, now_ms) != 0) {
					snprintf(res->error, sizeof(res->error), "out of memory");
					return -1;
				}
			}
		}
	}
	return 0;
}

static const char *const workload_kinds[K8S_WORKLOAD_KINDS][2] = {
	{"deployments", "Deployment"}, {"statefulsets", "StatefulSet"}, {"daemonsets", "DaemonSet"}};

int k8s_extract(const struct k8s_target *t, json_t *pods, json_t *rs, json_t *const workloads[K8S_WORKLOAD_KINDS],
                int64_t now_ms, struct k8s_result *res)
{
	struct pods_index ix = {.pods = pods, .rs_owner = json_object()};
	size_t i;
	json_t *r;
	int rv = 0;
	json_array_foreach(rs, i, r)
	{
		char owner[600], key[600];
		controller_of(r, owner, sizeof(owner));
		const char *ns = jstr(r, "metadata.namespace"), *name = jstr(r, "metadata.name");
		if (ns != NULL && name != NULL && owner[0] != '\0') {
			snprintf(key, sizeof(key), "%s/%s", ns, name);
			json_object_set_new(ix.rs_owner, key, json_string(owner));
		}
	}
	index_pods(&ix);
	for (size_t k = 0; k < K8S_WORKLOAD_KINDS && rv == 0; k++) {
		rv = collect_kind(t, &ix, workloads[k], workload_kinds[k][1], now_ms, res);
	}
	json_decref(ix.rs_owner);
	json_decref(ix.by_owner);
	json_decref(ix.orphans);
	return rv;
}

int k8s_collect(const struct k8s_target *t, int64_t now_ms, struct k8s_result *res)
{
	memset(res, 0, sizeof(*res));
	json_t *workloads[K8S_WORKLOAD_KINDS] = {NULL, NULL, NULL};
	json_t *pods = NULL, *rs = NULL;
	int rv = -1;
	if ((pods = list_all(t, "api/v1", "pods", res)) == NULL ||
	    (rs = list_all(t, "apis/apps/v1", "replicasets", res)) == NULL) {
		goto out;
	}
	for (size_t k = 0; k < K8S_WORKLOAD_KINDS; k++) {
		if ((workloads[k] = list_all(t, "apis/apps/v1", workload_kinds[k][0], res)) == NULL) {
			goto out;
		}
	}
	rv = k8s_extract(t, pods, rs, workloads, now_ms, res);
out:
	for (size_t k = 0; k < K8S_WORKLOAD_KINDS; k++) {
		json_decref(workloads[k]);
	}
	json_decref(rs);
	json_decref(pods);
	return rv;
}

size_t k8s_result_drop_invalid(struct k8s_result *res, char *why, size_t cap)
{
	size_t kept = 0, skipped = 0;
	char first[400] = "";
	for (size_t i = 0; i < res->n; i++) {
		const struct proto_observation *o = &res->obs[i];
		const char *bad = proto_observation_invalid(o);
		if (bad == NULL) {
			res->obs[kept++] = *o;
		} else if (skipped++ == 0) {
			snprintf(first, sizeof(first), "%.60s/%.40s/%.60s/%.60s: %s", o->ns ? o->ns : "?", o->kind ? o->kind : "?",
			         o->workload ? o->workload : "?", o->container ? o->container : "?", bad);
		}
	}
	if (skipped > 0) {
		snprintf(why, cap, "skipped %zu containers, first %s", skipped, first);
		res->n = kept;
	}
	return skipped;
}

void k8s_result_free(struct k8s_result *res)
{
	for (size_t i = 0; i < res->n_strings; i++) {
		free(res->strings[i]);
	}
	free(res->strings);
	free(res->obs);
	memset(res, 0, sizeof(*res));
}
