/* shiplog: the operator's command-line client of the REST API.
 *
 *   shiplog [--server URL] [--key KEY] [--json] COMMAND ...
 *   shiplog status
 *   shiplog release put NAMESPACE KIND WORKLOAD CONTAINER --tag T --sha S
 *          [--repo R] [--image NAME] [--client C] [--env E] [--released-at TIME]
 *   shiplog release current --client C --env E
 *   shiplog release history CLIENT ENV NAMESPACE WORKLOAD CONTAINER
 *   shiplog import release-tracker FILE.db [--batch N] [--dry-run]
 *
 * SHIPLOG_SERVER and SHIPLOG_API_KEY provide defaults for --server and --key. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/import_rt.h"
#include "lib/http.h"

static char *escape_path(const char *s)
{
	char *e = http_escape(s);
	if (e == NULL) {
		fprintf(stderr, "shiplog: out of memory\n");
		exit(1);
	}
	return e;
}

static int cmd_status(const struct client *c)
{
	json_t *health, *config;
	long st = cli_request(c, "GET", "/health", NULL, NULL, &health);
	bool unready = st == 503 && json_object_get(health, "raft") != NULL; /* answering, but not ready: show why */
	if (!unready && cli_report(c, st, health) != 0) {
		return 1;
	}
	st = cli_request(c, "GET", "/api/config", NULL, NULL, &config);
	if (cli_report(c, st, config) != 0) {
		json_decref(health);
		return 1;
	}
	if (!c->json) {
		json_t *raft = json_object_get(health, "raft");
		printf("node     %s (%s)\n", json_string_value(json_object_get(health, "node")),
		       json_string_value(json_object_get(raft, "state")));
		printf("ready    %s%s\n", unready ? "no: " : "yes",
		       unready ? json_string_value(json_object_get(health, "reason")) : "");
		printf("cluster  %s\n", json_string_value(json_object_get(config, "cluster")));
		printf("leader   %s\n", json_string_value(json_object_get(raft, "leader")));
		printf("term     %lld\n", (long long)json_integer_value(json_object_get(raft, "term")));
		printf("applied  %lld\n", (long long)json_integer_value(json_object_get(raft, "applied_index")));
		printf("\n%-4s %-12s %-10s %-22s %s\n", "ID", "NAME", "REGION", "RAFT", "HTTP");
		size_t i;
		json_t *m;
		json_array_foreach(json_object_get(config, "members"), i, m)
		{
			printf("%-4lld %-12s %-10s %-22s %s\n", (long long)json_integer_value(json_object_get(m, "id")),
			       json_string_value(json_object_get(m, "name")), json_string_value(json_object_get(m, "region")),
			       json_string_value(json_object_get(m, "raft")), json_string_value(json_object_get(m, "http")));
		}
	}
	json_decref(health);
	json_decref(config);
	return unready ? 1 : 0; /* scripts may wait on it */
}

static int cmd_put(const struct client *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"tag", required_argument, NULL, 't'},    {"sha", required_argument, NULL, 's'},
		{"repo", required_argument, NULL, 'r'},   {"image", required_argument, NULL, 'i'},
		{"client", required_argument, NULL, 'c'}, {"env", required_argument, NULL, 'e'},
		{"released-at", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0},
	};
	json_t *body = json_object();
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "t:s:r:i:c:e:a:", opts, NULL)) != -1) {
		const char *key = o == 't' ? "image_tag" : o == 's' ? "image_sha" : o == 'r' ? "image_repo"
		                : o == 'i' ? "image_name" : o == 'c' ? "client_name" : o == 'e' ? "env_name"
		                : o == 'a' ? "released_at" : NULL;
		if (key == NULL) {
			json_decref(body);
			return 2;
		}
		json_object_set_new(body, key, json_string(optarg));
	}
	if (argc - optind != 4) {
		fprintf(stderr, "usage: shiplog release put NAMESPACE KIND WORKLOAD CONTAINER --tag T --sha S [...]\n");
		json_decref(body);
		return 2;
	}
	char path[2048];
	char *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = escape_path(argv[optind + i]);
	}
	snprintf(path, sizeof(path), "/api/collect/%s/%s/%s/%s", p[0], p[1], p[2], p[3]);
	for (int i = 0; i < 4; i++) {
		free(p[i]);
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *resp;
	long st = cli_request(c, "PUT", path, text, NULL, &resp);
	free(text);
	json_decref(body);
	if (cli_report(c, st, resp) != 0) {
		return 1;
	}
	if (!c->json) {
		json_t *r = json_object_get(resp, "release");
		printf("recorded %s@%s\n", json_string_value(json_object_get(r, "image_tag")),
		       json_string_value(json_object_get(r, "image_sha")));
	}
	json_decref(resp);
	return 0;
}

static int cmd_current(const struct client *c, int argc, char **argv)
{
	const char *client = NULL, *env = NULL;
	static const struct option opts[] = {
		{"client", required_argument, NULL, 'c'}, {"env", required_argument, NULL, 'e'}, {NULL, 0, NULL, 0}};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:e:", opts, NULL)) != -1) {
		if (o == 'c') {
			client = optarg;
		} else if (o == 'e') {
			env = optarg;
		} else {
			return 2;
		}
	}
	if (client == NULL || env == NULL) {
		fprintf(stderr, "usage: shiplog release current --client C --env E\n");
		return 2;
	}
	char path[2048];
	char *ec = escape_path(client), *ee = escape_path(env);
	snprintf(path, sizeof(path), "/api/releases/current?client_name=%s&env_name=%s", ec, ee);
	free(ec);
	free(ee);
	json_t *resp;
	long st = cli_request(c, "GET", path, NULL, NULL, &resp);
	if (cli_report(c, st, resp) != 0) {
		return 1;
	}
	if (!c->json) {
		printf("%-20s %-12s %-24s %-16s %-20s %s\n", "NAMESPACE", "KIND", "WORKLOAD", "CONTAINER", "TAG", "SINCE");
		size_t i, j;
		json_t *ns, *row;
		json_array_foreach(json_object_get(resp, "ordered_namespaces"), i, ns)
		{
			json_array_foreach(json_object_get(ns, "releases"), j, row)
			{
				printf("%-20s %-12s %-24s %-16s %-20s %s\n", json_string_value(json_object_get(ns, "name")),
				       json_string_value(json_object_get(row, "workload_type")),
				       json_string_value(json_object_get(row, "workload_name")),
				       json_string_value(json_object_get(row, "container_name")),
				       json_string_value(json_object_get(row, "image_tag")),
				       json_string_value(json_object_get(row, "first_seen")));
			}
		}
	}
	json_decref(resp);
	return 0;
}

static int cmd_history(const struct client *c, int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: shiplog release history CLIENT ENV NAMESPACE WORKLOAD CONTAINER\n");
		return 2;
	}
	char path[4096];
	size_t n = (size_t)snprintf(path, sizeof(path), "/api/releases/history");
	for (int i = 1; i < 6; i++) {
		char *e = escape_path(argv[i]);
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/%s", e);
		free(e);
	}
	json_t *resp;
	long st = cli_request(c, "GET", path, NULL, NULL, &resp);
	if (cli_report(c, st, resp) != 0) {
		return 1;
	}
	if (!c->json) {
		printf("%-24s %-22s %-22s %s\n", "TAG", "FIRST SEEN", "LAST SEEN", "SHA");
		size_t i;
		json_t *row;
		json_array_foreach(json_object_get(resp, "releases"), i, row)
		{
			printf("%-24s %-22s %-22s %s\n", json_string_value(json_object_get(row, "image_tag")),
			       json_string_value(json_object_get(row, "first_seen")),
			       json_string_value(json_object_get(row, "last_seen")),
			       json_string_value(json_object_get(row, "image_sha")));
		}
	}
	json_decref(resp);
	return 0;
}

/* Downloads GET /api/v1/cluster/snapshot into path. */
static int cmd_backup(const struct client *c, const char *path)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		fprintf(stderr, "shiplog: cannot write %s\n", path);
		return 1;
	}
	char url[4096];
	snprintf(url, sizeof(url), "%s/api/v1/cluster/snapshot", c->server);
	struct http_request rq = {
		.url = url, .bearer = c->key != NULL ? c->key : "", .timeout_ms = CLI_BACKUP_TIMEOUT_MS, .sink = f};
	struct http_response rs;
	int rc = http_perform(&rq, &rs);
	long status = rs.status;
	http_response_free(&rs);
	long size = ftell(f);
	fclose(f);
	if (rc != 0 || status != 200) {
		fprintf(stderr, "shiplog: backup failed: %s (HTTP %ld)\n", rc != 0 ? rs.error : "refused", status);
		remove(path);
		return 1;
	}
	printf("backup written to %s (%ld bytes); restore with: shiplogd --config FILE --node NAME --restore %s\n", path,
	       size, path);
	return 0;
}

static int cmd_cluster(const struct client *c, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "backup") == 0) {
		return cmd_backup(c, argv[1]);
	}
	if (argc >= 1 && strcmp(argv[0], "restore") == 0) {
		fprintf(stderr, "restore starts a new cluster on the machine that will run it:\n"
		                "  shiplogd --config FILE --node NAME --restore BACKUP\n"
		                "with FILE holding that one node; grow it with shiplogd --join.\n");
		return 2;
	}
	json_t *resp = NULL;
	long st;
	char path[256];
	if (argc >= 1 && strcmp(argv[0], "status") == 0) {
		st = cli_request(c, "GET", "/api/v1/cluster", NULL, NULL, &resp);
		if (cli_report(c, st, resp) != 0) {
			return 1;
		}
		if (!c->json) {
			json_t *leader = json_object_get(resp, "leader");
			printf("cluster %s, term %lld, leader %s\n\n", json_string_value(json_object_get(resp, "cluster")),
			       (long long)json_integer_value(json_object_get(resp, "term")),
			       leader ? json_string_value(json_object_get(leader, "name")) : "(none)");
			printf("%-4s %-10s %-8s %-10s %-22s %-22s %-10s %-10s %-10s %s\n", "ID", "NAME", "ROLE", "REGION", "RAFT",
			       "HTTP", "REACHABLE", "MATCH", "APPLIED", "CONTACT");
			size_t i;
			json_t *m;
			json_array_foreach(json_object_get(resp, "members"), i, m)
			{
				json_t *reach = json_object_get(m, "reachable"), *match = json_object_get(m, "match_index");
				json_t *applied = json_object_get(m, "applied_index"), *contact = json_object_get(m, "last_contact_ms");
				char a[24] = "?", ct[24] = "?";
				if (json_is_integer(applied)) {
					snprintf(a, sizeof(a), "%lld", (long long)json_integer_value(applied));
				}
				if (json_is_integer(contact)) {
					snprintf(ct, sizeof(ct), "%lldms", (long long)json_integer_value(contact));
				}
				printf("%-4lld %-10s %-8s %-10s %-22s %-22s %-10s %-10lld %-10s %s\n",
				       (long long)json_integer_value(json_object_get(m, "id")),
				       json_string_value(json_object_get(m, "name")), json_string_value(json_object_get(m, "role")),
				       json_string_value(json_object_get(m, "region")), json_string_value(json_object_get(m, "raft")),
				       json_string_value(json_object_get(m, "http")),
				       json_is_null(reach) ? "?" : json_is_true(reach) ? "yes" : "no",
				       (long long)json_integer_value(match), a, ct);
			}
		}
		json_decref(resp);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[0], "add") == 0) {
		/* add NAME RAFT RPC HTTP [--id N] [--role voter|standby|spare] [--region R] */
		json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "name", argv[1], "raft", argv[2], "rpc", argv[3], "http", argv[4]);
		for (int i = 5; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--id") == 0) {
				json_object_set_new(body, "id", json_integer(atoll(argv[i + 1])));
			} else if (strcmp(argv[i], "--role") == 0 || strcmp(argv[i], "--region") == 0) {
				json_object_set_new(body, argv[i] + 2, json_string(argv[i + 1]));
			}
		}
		char *text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		st = cli_request(c, "POST", "/api/v1/cluster/nodes", text, NULL, &resp);
		free(text);
	} else if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		snprintf(path, sizeof(path), "/api/v1/cluster/nodes/%s", argv[1]);
		st = cli_request(c, "DELETE", path, NULL, NULL, &resp);
	} else if (argc >= 1 && argc <= 2 && strcmp(argv[0], "transfer") == 0) {
		char body[64];
		snprintf(body, sizeof(body), argc == 2 ? "{\"id\":%s}" : "{}", argc == 2 ? argv[1] : "");
		st = cli_request(c, "POST", "/api/v1/cluster/transfer", body, NULL, &resp);
	} else {
		fprintf(stderr, "usage: shiplog cluster status | add NAME RAFT RPC HTTP [--id N] [--role R] [--region R]\n"
		                "                      | remove ID | transfer [ID] | backup FILE | restore\n");
		return 2;
	}
	if (cli_report(c, st, resp) != 0) {
		return 1;
	}
	if (!c->json) {
		printf("ok; leader %s\n", json_string_value(json_object_get(resp, "leader")));
	}
	json_decref(resp);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shiplog [--server URL] [--key KEY] [--json] COMMAND\n"
	           "  status                                      this node, the leader, the members\n"
	           "  release put NS KIND WORKLOAD CONTAINER --tag T --sha S [--repo R] [--image N]\n"
	           "              [--client C] [--env E] [--released-at TIME]\n"
	           "  release current --client C --env E          what runs now\n"
	           "  release history CLIENT ENV NS WORKLOAD CONTAINER   what ran before\n"
	           "  cluster status | add NAME RAFT RPC HTTP [--id N] [--role R] | remove ID | transfer [ID]\n"
	           "          | backup FILE | restore\n"
	           "  import release-tracker FILE.db [--batch N] [--dry-run]   a Release Tracker database\n"
	           "Defaults: SHIPLOG_SERVER (http://127.0.0.1:8001), SHIPLOG_API_KEY.\n");
}

int main(int argc, char **argv)
{
	struct client c = {getenv("SHIPLOG_SERVER"), getenv("SHIPLOG_API_KEY"), false};
	int i = 1;
	if (c.server == NULL) {
		c.server = "http://127.0.0.1:8001";
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
			c.server = argv[++i];
		} else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
			c.key = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	http_global_init();
	int rc = 2;
	if (strcmp(argv[i], "status") == 0 && i + 1 == argc) {
		rc = cmd_status(&c);
	} else if (strcmp(argv[i], "cluster") == 0 && i + 1 < argc) {
		rc = cmd_cluster(&c, argc - i - 1, argv + i + 1);
	} else if (strcmp(argv[i], "release") == 0 && i + 1 < argc) {
		const char *sub = argv[i + 1];
		if (strcmp(sub, "put") == 0) {
			rc = cmd_put(&c, argc - i - 1, argv + i + 1);
		} else if (strcmp(sub, "current") == 0) {
			rc = cmd_current(&c, argc - i - 1, argv + i + 1);
		} else if (strcmp(sub, "history") == 0) {
			rc = cmd_history(&c, argc - i - 1, argv + i + 1);
		} else {
			usage(stderr);
		}
	} else if (strcmp(argv[i], "import") == 0 && i + 1 < argc && strcmp(argv[i + 1], "release-tracker") == 0) {
		rc = cmd_import_release_tracker(&c, argc - i - 1, argv + i + 1);
	} else {
		usage(stderr);
	}
	return rc;
}
