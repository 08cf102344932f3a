/* shiplogd: one shiplog node. Loads cluster.toml, opens the store, starts
 * the raft, collector, scheduler and gateway actors on their own threads,
 * and stops them cleanly on SIGINT/SIGTERM. Also the --agent entry point. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/agent.h"
#include "collector/collector.h"
#include "config/config.h"
#include "gateway/gw.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "node/actor.h"
#include "node/join.h"
#include "raft/repl.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: shiplogd --config FILE --node NAME\n"
	        "       shiplogd --agent --config FILE\n"
	        "\n"
	        "Runs one node of a shiplog cluster described by FILE (cluster.toml).\n"
	        "The [[node]] tables are the initial voters; each bootstraps the same\n"
	        "configuration on its first start and restarts from its data directory.\n"
	        "\n"
	        "  -c, --config FILE   cluster configuration (TOML)\n"
	        "  -n, --node NAME     which [[node]] of FILE this process is\n"
	        "  -j, --join HOST:PORT  join a running cluster through any member's http address\n"
	        "                      (on first start; the node is added as a voter once caught up)\n"
	        "  -r, --restore FILE  start a NEW single-node cluster from a backup\n"
	        "                      (GET /api/v1/cluster/snapshot); it then grows by joins\n"
	        "  -a, --agent         run as a light agent: collect the local Kubernetes cluster\n"
	        "                      of FILE's [agent] table and push to a shiplog cluster\n"
	        "  -h, --help          this help\n"
	        "  -V, --version       print the version\n"
	        "\n"
	        "SIGINT or SIGTERM stops the node cleanly. %s\n",
	        repl_trace_help);
}

static int mkdir_p(const char *path)
{
	char buf[CFG_PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				return -1;
			}
			*p = '/';
		}
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* --restore: loads a backup into a fresh data directory. */
static int restore_backup(store *st, const struct cfg_node *self, const char *path)
{
	if (repl_log_exists(self->data) || store_applied(st) != 0) {
		log_error("shiplogd", "--restore needs an empty data directory (%s holds a node)", self->data);
		return -1;
	}
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		log_error("shiplogd", "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = len > 0 ? malloc((size_t)len) : NULL;
	size_t got = data != NULL ? fread(data, 1, (size_t)len, f) : 0;
	fclose(f);
	int rv = got == (size_t)len && data != NULL ? store_restore_fresh(st, data, got) : PROTO_EINVAL;
	uint64_t index = data != NULL ? store_snapshot_index(data, got) : 0;
	free(data);
	if (rv != PROTO_OK) {
		log_error("shiplogd", "%s is not a shiplog backup (%s)", path, proto_strerror(rv));
		return -1;
	}
	log_info("shiplogd", "restored %s (state as of index %llu of the old cluster)", path, (unsigned long long)index);
	return 0;
}

/* The node's actors, in start order; they stop in the reverse one. */
enum { ACTOR_RAFT, ACTOR_COLLECTOR, ACTOR_SCHEDULER, ACTOR_GATEWAY, N_ACTORS };

/* Starts every actor in order; 0, or -1 after logging which one failed (the
 * ones started stay running: the caller stops them all). */
static int start_actors(struct node_actor *actors)
{
	for (int i = 0; i < N_ACTORS; i++) {
		if (node_actor_start(&actors[i]) != 0) {
			log_error("shiplogd", "the %s actor failed to start", actors[i].name);
			return -1;
		}
	}
	return 0;
}

/* Runs one node until SIGINT/SIGTERM (or a failed --join); the exit status. */
static int run_node(const char *config_path, const char *node_name, const char *join, const char *restore)
{
	struct cfg cfg;
	char err[2048];
	int status = 1;
	if (cfg_load(config_path, &cfg, err, sizeof(err)) != 0) {
		log_error("shiplogd", "%s", err); /* before log_setup: text at info */
		return 1;
	}
	const struct cfg_node *self = cfg_find_node(&cfg, node_name);
	if (self == NULL) {
		log_error("shiplogd", "%s has no [[node]] named \"%s\"", config_path, node_name);
		goto err_after_cfg;
	}
	log_setup(cfg.log_level, cfg.log_format, self->name);
	http_global_init();
	char store_dir[CFG_PATH_MAX + 16];
	snprintf(store_dir, sizeof(store_dir), "%s/store", self->data);
	if (mkdir_p(self->data) != 0) {
		log_error("shiplogd", "cannot create %s: %s", self->data, strerror(errno));
		goto err_after_cfg;
	}
	store *st;
	if (store_open(&st, store_dir, cfg.map_size_mb << 20, err, sizeof(err)) != 0) {
		log_error("shiplogd", "%s", err);
		goto err_after_cfg;
	}
	if (restore != NULL && restore_backup(st, self, restore) != 0) {
		goto err_after_store;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());

	/* Signals go to this thread only, through sigwait. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	char request_url[256], status_url[256], collector_url[256];
	snprintf(request_url, sizeof(request_url), "inproc://shiplog-%s-raft", self->name);
	snprintf(status_url, sizeof(status_url), "inproc://shiplog-%s-status", self->name);
	snprintf(collector_url, sizeof(collector_url), "inproc://shiplog-%s-collector", self->name);

	/* Cluster credentials are sealed with a key every node derives alike. */
	unsigned char key[SECRET_KEY_BYTES];
	const unsigned char *secret_key = NULL;
	if (cfg.secret_key[0] != '\0') {
		if (secret_init() != 0 || secret_key_from_config(cfg.secret_key, key) != 0) {
			log_error("shiplogd", "[collector] secret_key cannot be used");
			goto err_after_store;
		}
		secret_key = key;
	}

	struct repl *repl = NULL;
	struct gw *gw = NULL;
	struct collector *col = NULL;
	struct scheduler *sched = NULL;
	struct repl_config rc = {&cfg, self, st, request_url, status_url, join != NULL};
	struct gw_config gc = {&cfg, self, st, request_url, status_url, secret_key};
	struct collector_config cc = {&cfg, self, st, secret_key, collector_url, request_url};
	struct scheduler_config sc = {&cfg, self, st, request_url, collector_url, secret_key};
	if (repl_init(&repl, &rc) != 0 || gw_init(&gw, &gc) != 0 || collector_init(&col, &cc) != 0 ||
	    scheduler_init(&sched, &sc) != 0) {
		log_error("shiplogd", "out of memory");
		goto err_after_init;
	}
	/* raft gets time to close its log cleanly; h2o keeps timers of open
	 * connections that only exit ends, so the gateway gets little. */
	struct node_actor actors[N_ACTORS] = {
		[ACTOR_RAFT] = {.name = "raft", .self = repl, .start = repl_start, .stop = repl_stop, .grace_ms = 5000},
		[ACTOR_COLLECTOR] = {.name = "collector", .self = col, .start = collector_start, .stop = collector_stop,
		                     .grace_ms = 500},
		[ACTOR_SCHEDULER] = {.name = "scheduler", .self = sched, .start = scheduler_start, .stop = scheduler_stop,
		                     .grace_ms = 200},
		[ACTOR_GATEWAY] = {.name = "gateway", .self = gw, .start = gw_start, .stop = gw_stop, .grace_ms = 200},
	};
	if (start_actors(actors) == 0) {
		int joined = join != NULL ? node_join(&cfg, self, join, &sigs) : 0;
		status = joined < 0 ? 1 : 0;
		if (joined == 0) {
			int sig = 0;
			sigwait(&sigs, &sig);
			log_info("shiplogd", "%s: stopping", strsignal(sig));
		}
	}
	for (int i = N_ACTORS - 1; i >= 0; i--) {
		node_actor_stop(&actors[i]); /* a no-op for one never started */
	}
err_after_init:
	if (sched != NULL) {
		scheduler_free(sched);
	}
	if (col != NULL) {
		collector_free(col);
	}
	if (gw != NULL) {
		gw_free(gw);
	}
	if (repl != NULL) {
		repl_free(repl);
	}
err_after_store:
	store_close(st);
err_after_cfg:
	cfg_free(&cfg);
	log_info("shiplogd", "stopped");
	return status;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *node_name = NULL, *join = NULL, *restore = NULL;
	int agent = 0;
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"node", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
		{"agent", no_argument, NULL, 'a'},       {"join", required_argument, NULL, 'j'},
		{"restore", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int c;
	/* Memory freed after a big request body, batch or snapshot goes back to
	 * the system: large blocks are mapped on their own, free heap tops are
	 * trimmed, and the actors' threads share two arenas. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	mallopt(M_ARENA_MAX, 2);
	while ((c = getopt_long(argc, argv, "c:n:j:r:ahV", opts, NULL)) != -1) {
		switch (c) {
		case 'r': restore = optarg; break;
		case 'j': join = optarg; break;
		case 'a': agent = 1; break;
		case 'c': config_path = optarg; break;
		case 'n': node_name = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("shiplogd %s\n", SHIPLOG_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (agent && config_path != NULL && node_name == NULL && optind == argc) {
		struct cfg_agent ac;
		char aerr[2048];
		if (cfg_load_agent(config_path, &ac, aerr, sizeof(aerr)) != 0) {
			log_error("shiplogd", "%s", aerr); /* before log_setup: text at info */
			return 1;
		}
		log_setup(ac.log_level, ac.log_format, "agent");
		http_global_init();
		return agent_run(&ac);
	}
	if (agent || config_path == NULL || node_name == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	return run_node(config_path, node_name, join, restore);
}
