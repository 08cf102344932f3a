/* Agent mode; see agent.h. One thread, blocking calls, bounded waits. */
#include "collector/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "k8s/k8s.h"
#include "k8s/kubeconfig.h"
#include "lib/http.h"
#include "lib/clock.h"
#include "lib/log.h"

#define AGENT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define AGENT_MAX_SPOOL 100000 /* files delivered per pass at most */

static volatile sig_atomic_t agent_stop;

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (buf == NULL) {
		buf = calloc(1, 1);
	} else {
		buf[len] = '\0';
	}
	return buf;
}

/* The Kubernetes API to read: a kubeconfig file, or the in-cluster service account. */
static int load_target(const struct cfg_agent *a, struct kubeconfig *kc, struct k8s_target *t, char *server,
                       size_t cap)
{
	char err[512];
	memset(kc, 0, sizeof(*kc));
	if (a->kubeconfig[0] != '\0') {
		char *yaml = read_file(a->kubeconfig);
		if (yaml == NULL) {
			log_error("agent", "cannot read %s: %s", a->kubeconfig, strerror(errno));
			return -1;
		}
		int rv = kubeconfig_parse_context(yaml, strlen(yaml), a->context[0] ? a->context : NULL, kc, err, sizeof(err));
		free(yaml);
		if (rv != 0) {
			log_error("agent", "%s: %s", a->kubeconfig, err);
			return -1;
		}
		snprintf(server, cap, "%s", kc->server);
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
		if (host == NULL || port == NULL) {
			log_error("agent", "no kubeconfig set and not inside a Kubernetes pod");
			return -1;
		}
		snprintf(server, cap, "https://%s:%s", host, port);
		kc->token = read_file(AGENT_SA_DIR "/token");
		kc->ca_pem = read_file(AGENT_SA_DIR "/ca.crt");
	}
	t->server = server;
	t->token = kc->token;
	t->ca_pem = kc->ca_pem;
	t->client_cert_pem = kc->client_cert_pem;
	t->client_key_pem = kc->client_key_pem;
	t->insecure = kc->insecure_skip_tls_verify;
	t->timeout_ms = a->timeout_ms;
	t->page_size = a->lists.page_size;
	t->max_response = a->lists.max_bytes;
	t->max_items = a->lists.max_items;
	t->client = a->client_name;
	t->env = a->env_name;
	return 0;
}

/* POSTs body to the first server that answers; returns the HTTP status
 * (0 when none could be reached). */
static long post(const struct cfg_agent *a, size_t *next_server, const char *path, const char *body,
                 const char *idem)
{
	for (size_t tries = 0; tries < a->n_servers; tries++) {
		const char *base = a->servers[(*next_server) % a->n_servers];
		char url[1024], key[512];
		snprintf(url, sizeof(url), "%s%s", base, path);
		snprintf(key, sizeof(key), "Idempotency-Key: %s", idem != NULL ? idem : "");
		const char *const hdrs[] = {"Content-Type: application/json", idem != NULL ? key : NULL, NULL};
		struct http_request rq = {.url = url, .headers = hdrs, .bearer = a->api_key, .body = body,
		                          .timeout_ms = a->timeout_ms};
		struct http_response rs;
		long status = http_perform(&rq, &rs) == 0 ? rs.status : 0;
		http_response_free(&rs);
		if (status != 0 && status < 500) {
			return status;
		}
		(*next_server)++; /* unreachable or 5xx (no leader there): try another node */
	}
	return 0;
}

/* Writes a run durably: temporary file, fsync, rename, fsync the directory. */
static int spool_write(const char *dir, const char *name, const char *text)
{
	char tmp[2048], final[2048];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		return -1;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, final) != 0) {
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static char *run_json(const struct cfg_agent *a, const struct k8s_result *res)
{
	char when[40];
	json_t *list = json_array();
	for (size_t i = 0; i < res->n; i++) {
		const struct proto_observation *o = &res->obs[i];
		time_t secs = (time_t)(o->seen_at_ms / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "namespace", o->ns,
		                                      "workload_kind", o->kind, "workload_name", o->workload,
		                                      "container_name", o->container, "image_repo", o->image_repo,
		                                      "image_name", o->image_name, "image_tag", o->image_tag,
		                                      "image_sha", o->image_sha, "seen_at", when));
	}
	json_t *doc = json_pack("{s:s,s:s,s:o}", "client_name", a->client_name, "env_name", a->env_name,
	                        "observations", list);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static void collect_once(const struct cfg_agent *a, const struct k8s_target *t, unsigned *seq)
{
	struct k8s_result res;
	char name[96];
	if (k8s_collect(t, wall_now_ms(), &res) != 0) {
		log_error("agent", "collection failed: %s", res.error);
		k8s_result_free(&res);
		return;
	}
	char why[512];
	if (k8s_result_drop_invalid(&res, why, sizeof(why)) > 0) {
		log_warn("agent", "%s", why);
	}
	if (res.n > 0) {
		char *text = run_json(a, &res);
		/* Names sort in run order; the pid keeps restarted agents apart. */
		snprintf(name, sizeof(name), "%020lld-%06d-%06u.json", (long long)wall_now_ms(), (int)getpid(), ++*seq);
		if (text == NULL || spool_write(a->spool, name, text) != 0) {
			log_error("agent", "cannot spool a run in %s: %s", a->spool, strerror(errno));
		} else {
			log_info("agent", "spooled %zu observations as %s", res.n, name);
		}
		free(text);
	}
	k8s_result_free(&res);
}

static int by_name(const struct dirent **x, const struct dirent **y)
{
	return strcmp((*x)->d_name, (*y)->d_name);
}

static int is_run(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Delivers spooled runs oldest first; stops at the first that cannot be
 * delivered. Returns how many were delivered; *blocked says one was not. */
static int deliver(const struct cfg_agent *a, size_t *next_server, int *blocked_out)
{
	struct dirent **names;
	int n = scandir(a->spool, &names, is_run, by_name);
	int delivered = 0, blocked = 0;
	if (n < 0) {
		log_error("agent", "cannot read the spool %s: %s", a->spool, strerror(errno));
		*blocked_out = 1;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char path[2048], idem[256];
		snprintf(path, sizeof(path), "%s/%s", a->spool, names[i]->d_name);
		if (!blocked && !agent_stop) {
			char *body = read_file(path);
			snprintf(idem, sizeof(idem), "agent:%.64s:%.64s:%.100s", a->client_name, a->env_name, names[i]->d_name);
			long status = body != NULL ? post(a, next_server, "/api/v1/observations", body, idem) : 0;
			free(body);
			if (status == 200) {
				unlink(path);
				delivered++;
			} else if (status >= 400 && status < 500 && status != 408 && status != 429) {
				log_warn("agent", "%s refused with HTTP %ld; kept as %s.rejected", names[i]->d_name, status,
				        path);
				char rej[2100];
				snprintf(rej, sizeof(rej), "%s.rejected", path);
				rename(path, rej);
			} else {
				blocked = 1; /* the cluster is unreachable: keep order, retry later */
				if (status != 0) {
					log_warn("agent", "%s not delivered yet: HTTP %ld", names[i]->d_name, status);
				} else {
					log_warn("agent", "%s not delivered yet: no node answered", names[i]->d_name);
				}
			}
		}
		free(names[i]);
	}
	free(names);
	*blocked_out = blocked;
	return delivered;
}

int agent_run(const struct cfg_agent *a)
{
	struct kubeconfig kc;
	struct k8s_target t = {0};
	char server[600];
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(a->spool, 0700) != 0 && errno != EEXIST) {
		log_error("agent", "cannot create %s: %s", a->spool, strerror(errno));
		return 1;
	}
	if (load_target(a, &kc, &t, server, sizeof(server)) != 0) {
		kubeconfig_free(&kc);
		return 1;
	}
	t.namespaces = (const char *const *)NULL;
	const char *ns[64];
	for (size_t i = 0; i < a->n_namespaces; i++) {
		ns[i] = a->namespaces[i];
	}
	t.namespaces = ns;
	t.n_namespaces = (unsigned)a->n_namespaces;
	log_info("agent", "collecting %s as %s/%s every %us into %s; delivering to %s", server, a->client_name,
	        a->env_name, a->interval_s, a->spool, a->servers[0]);
	int64_t next_collect = 0, next_ping = 0, next_deliver = 0, backoff = 500;
	size_t next_server = 0;
	unsigned seq = 0;
	while (!agent_stop) {
		int64_t now = wall_now_ms();
		if (now >= next_collect) {
			collect_once(a, &t, &seq);
			next_collect = now + (int64_t)a->interval_s * 1000;
		}
		if (now >= next_ping) {
			char body[512];
			snprintf(body, sizeof(body), "{\"client_name\":\"%s\",\"env_name\":\"%s\",\"slave_version\":\"shiplog-agent-%s\"}",
			         a->client_name, a->env_name, SHIPLOG_VERSION);
			post(a, &next_server, "/api/ping", body, NULL);
			next_ping = now + (int64_t)a->ping_interval_s * 1000;
		}
		if (now >= next_deliver) {
			int blocked = 0, delivered = deliver(a, &next_server, &blocked);
			if (blocked && delivered == 0) {
				backoff = backoff * 2 > 10000 ? 10000 : backoff * 2; /* exponential, capped */
			} else {
				backoff = 500; /* progress: the cluster is back, go on soon */
			}
			if (delivered > 0) {
				log_info("agent", "delivered %d spooled run(s)", delivered);
			}
			next_deliver = now + backoff;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	log_warn("agent", "stopping; %s keeps what was not delivered", a->spool);
	kubeconfig_free(&kc);
	return 0;
}
