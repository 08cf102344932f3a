/* The import, oldest release first so that each component's newest release
 * is written last and becomes current. Each batch goes under an
 * Idempotency-Key derived from its rows alone, so a rerun after an
 * interruption sends the same batches with the same keys (and the store
 * recognises rows it already holds even once the keys have expired). */
#include "cli/import_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/rt_db.h"
#include "lib/clock.h"
#include "lib/secret.h"
#include "lib/timefmt.h"

#define IMPORT_DEFAULT_BATCH 500
#define IMPORT_MAX_BATCH 5000 /* the server's limit per request */
#define IMPORT_RETRIES 20
#define IMPORT_MAX_REASONS 32
#define IMPORT_KEY_LABEL "shiplog release-tracker import"

struct reason {
	char *why;
	size_t n;
};

struct summary {
	size_t read, created, updated, unchanged;
	size_t pings_read, pings_written;
	size_t pending;
	struct reason skipped[IMPORT_MAX_REASONS];
	size_t n_reasons;
	size_t done, total; /* progress */
	int64_t started_ms;
};

static void skip(struct summary *s, const char *why)
{
	for (size_t i = 0; i < s->n_reasons; i++) {
		if (strcmp(s->skipped[i].why, why) == 0) {
			s->skipped[i].n++;
			return;
		}
	}
	size_t i = s->n_reasons < IMPORT_MAX_REASONS ? s->n_reasons++ : IMPORT_MAX_REASONS - 1;
	if (s->skipped[i].why == NULL) {
		s->skipped[i].why = strdup(why);
	}
	s->skipped[i].n++;
}

static json_t *json_time(int64_t ms)
{
	char buf[40];
	timefmt_format(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *release_json(const struct rt_release *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "client_name", r->client, "env_name", r->env,
	                 "namespace", r->ns, "workload_type", r->kind, "workload_name", r->workload, "container_name",
	                 r->container, "image_repo", r->image_repo, "image_name", r->image_name, "image_tag", r->image_tag,
	                 "image_sha", r->image_sha, "first_seen", json_time(r->first_seen_ms), "last_seen",
	                 json_time(r->last_seen_ms));
}

static json_t *ping_json(const struct rt_ping *p)
{
	return json_pack("{s:s,s:s,s:s,s:o}", "client_name", p->client, "env_name", p->env, "slave_version", p->version,
	                 "last_ping", json_time(p->last_ping_ms));
}

static int by_time(const void *a, const void *b)
{
	const struct rt_release *x = *(const struct rt_release *const *)a, *y = *(const struct rt_release *const *)b;
	if (x->last_seen_ms != y->last_seen_ms) {
		return x->last_seen_ms < y->last_seen_ms ? -1 : 1;
	}
	if (x->first_seen_ms != y->first_seen_ms) {
		return x->first_seen_ms < y->first_seen_ms ? -1 : 1;
	}
	return x->id < y->id ? -1 : x->id > y->id;
}

static void progress(const struct summary *s)
{
	if (!isatty(STDERR_FILENO) || s->total == 0) {
		return;
	}
	int width = 30, fill = (int)((double)s->done / (double)s->total * width);
	double secs = (double)(wall_now_ms() - s->started_ms) / 1000.0;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu releases  %.0f/s", fill, "##############################", width - fill, "",
	        s->done, s->total, secs > 0 ? (double)s->done / secs : 0.0);
	if (s->done == s->total) {
		fputc('\n', stderr);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One batch: items[0..n) as JSON under list (releases or pings). Removes and
 * counts items the server refuses; 0 when the rest is written, 1 on a
 * failure that stops the import. */
static int send_batch(const struct client *c, const char *list, json_t *items, struct summary *s, bool pings)
{
	while (json_array_size(items) > 0) {
		json_t *body = json_pack("{s:O}", list, items);
		char *text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (text == NULL) {
			fprintf(stderr, "shiplog: out of memory\n");
			return 1;
		}
		char mac[65], header[128];
		secret_hmac_sha256_hex(IMPORT_KEY_LABEL, strlen(IMPORT_KEY_LABEL), text, strlen(text), mac);
		snprintf(header, sizeof(header), "Idempotency-Key: rt-import-%.40s", mac);
		const char *extra[] = {header, NULL};
		json_t *resp = NULL;
		long st = 0;
		unsigned wait = 200;
		for (int attempt = 0; attempt <= IMPORT_RETRIES; attempt++) {
			json_decref(resp);
			st = cli_request(c, "POST", "/api/v1/import/release-tracker", text, extra, &resp);
			if (st != 0 && st != 429 && st < 500) {
				break;
			}
			sleep_ms(wait);
			wait = wait * 2 > 3000 ? 3000 : wait * 2;
		}
		free(text);
		json_t *detail = json_array_get(json_object_get(json_object_get(resp, "error"), "details"), 0);
		json_t *index = json_object_get(detail, "index");
		if (st == 400 && json_is_integer(index) && (size_t)json_integer_value(index) < json_array_size(items)) {
			skip(s, json_string_value(json_object_get(detail, "message")) ? json_string_value(json_object_get(detail, "message"))
			                                                             : "refused by the server");
			json_array_remove(items, (size_t)json_integer_value(index));
			if (!pings) {
				s->done++;
			}
			json_decref(resp);
			continue;
		}
		if (st != 200) {
			cli_report(c, st != 0 ? st : 0, resp);
			if (st == 0) {
				fprintf(stderr, "shiplog: the cluster did not answer after %d attempts; run the import again "
				                "to resume\n", IMPORT_RETRIES + 1);
			}
			return 1;
		}
		size_t n = json_array_size(items);
		if (pings) {
			s->pings_written += n;
		} else if (json_is_true(json_object_get(resp, "replayed"))) {
			s->unchanged += n; /* written by an earlier, interrupted run */
			s->done += n;
		} else {
			s->created += (size_t)json_integer_value(json_object_get(resp, "created"));
			s->updated += (size_t)json_integer_value(json_object_get(resp, "updated"));
			s->unchanged += (size_t)json_integer_value(json_object_get(resp, "unchanged"));
			s->done += n;
		}
		json_decref(resp);
		break;
	}
	return 0;
}

static void print_summary(const struct client *c, const struct summary *s, bool dry, size_t would, size_t would_pings)
{
	double secs = (double)(wall_now_ms() - s->started_ms) / 1000.0;
	double rate = secs > 0 ? (double)(s->created + s->updated + s->unchanged) / secs : 0.0;
	size_t skipped = 0;
	for (size_t i = 0; i < s->n_reasons; i++) {
		skipped += s->skipped[i].n;
	}
	if (c->json) {
		json_t *why = json_object();
		for (size_t i = 0; i < s->n_reasons; i++) {
			json_object_set_new(why, s->skipped[i].why, json_integer((json_int_t)s->skipped[i].n));
		}
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:f,s:f,s:b}", "releases_read", (json_int_t)s->read,
		                      "created", (json_int_t)s->created, "updated", (json_int_t)s->updated, "unchanged",
		                      (json_int_t)s->unchanged, "skipped", why, "pings_read", (json_int_t)s->pings_read,
		                      "pings_written", (json_int_t)s->pings_written, "pending_skipped", (json_int_t)s->pending,
		                      "seconds", secs, "rows_per_second", rate, "dry_run", dry);
		if (dry) {
			json_object_set_new(o, "would_write_releases", json_integer((json_int_t)would));
			json_object_set_new(o, "would_write_pings", json_integer((json_int_t)would_pings));
		}
		char *text = json_dumps(o, JSON_COMPACT);
		puts(text != NULL ? text : "{}");
		free(text);
		json_decref(o);
		return;
	}
	if (dry) {
		printf("dry run: would write %zu releases, %zu pings\n", would, would_pings);
	}
	printf("releases read      %zu\n", s->read);
	printf("written            %zu (%zu new entries, %zu extended)\n", s->created + s->updated, s->created, s->updated);
	printf("already there      %zu\n", s->unchanged);
	printf("skipped            %zu\n", skipped);
	for (size_t i = 0; i < s->n_reasons; i++) {
		printf("  %6zu  %s\n", s->skipped[i].n, s->skipped[i].why);
	}
	printf("pings read         %zu, written %zu\n", s->pings_read, s->pings_written);
	if (s->pending > 0) {
		printf("pending_releases   %zu not imported: a slave's queue; its rows reach the master by sync\n", s->pending);
	}
	printf("time               %.1f s, %.0f releases/s\n", secs, rate);
}

static int usage(void)
{
	fprintf(stderr, "usage: shiplog import release-tracker FILE.db [--batch N (1-%d, default %d)] [--dry-run]\n",
	        IMPORT_MAX_BATCH, IMPORT_DEFAULT_BATCH);
	return 2;
}

int cmd_import_release_tracker(const struct client *c, int argc, char **argv)
{
	const char *path = NULL;
	long batch = IMPORT_DEFAULT_BATCH;
	bool dry = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			dry = true;
		} else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			char *end;
			batch = strtol(argv[++i], &end, 10);
			if (*end != '\0' || batch < 1 || batch > IMPORT_MAX_BATCH) {
				return usage();
			}
		} else if (path == NULL && argv[i][0] != '-') {
			path = argv[i];
		} else {
			return usage();
		}
	}
	if (path == NULL) {
		return usage();
	}
	struct rt_db db;
	char why[512];
	if (rt_db_read(path, &db, why, sizeof(why)) != 0) {
		fprintf(stderr, "shiplog: %s\n", why);
		return 1;
	}
	struct summary s = {.read = db.n_releases, .pings_read = db.n_pings, .pending = db.n_pending,
	                    .started_ms = wall_now_ms()};
	struct rt_release **order = calloc(db.n_releases + 1, sizeof(*order));
	if (order == NULL) {
		rt_db_free(&db);
		return 1;
	}
	size_t n = 0, n_pings = 0;
	for (size_t i = 0; i < db.n_releases; i++) {
		if (db.releases[i].skip != NULL) {
			skip(&s, db.releases[i].skip);
		} else {
			order[n++] = &db.releases[i];
		}
	}
	qsort(order, n, sizeof(*order), by_time);
	s.total = n;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += (size_t)batch) {
		json_t *items = json_array();
		for (size_t k = i; k < n && k < i + (size_t)batch; k++) {
			json_t *row = release_json(order[k]);
			if (row == NULL) {
				skip(&s, "text that is not UTF-8"); /* a JSON body cannot carry it */
				s.total--;
			} else if (dry) {
				const struct rt_release *r = order[k];
				char f[40], l[40];
				timefmt_format(r->first_seen_ms, f, sizeof(f));
				timefmt_format(r->last_seen_ms, l, sizeof(l));
				printf("release %s/%s %s %s/%s/%s %s %s %s..%s\n", r->client, r->env, r->ns, r->kind, r->workload,
				       r->container, r->image_tag, r->image_sha, f, l);
				json_decref(row);
			} else {
				json_array_append_new(items, row);
			}
		}
		if (!dry) {
			rc = send_batch(c, "releases", items, &s, false);
			progress(&s);
		}
		json_decref(items);
	}
	json_t *pings = json_array();
	for (size_t i = 0; i < db.n_pings && rc == 0; i++) {
		const struct rt_ping *p = &db.pings[i];
		if (p->skip != NULL) {
			skip(&s, p->skip);
			continue;
		}
		json_t *pj = ping_json(p);
		if (pj == NULL) {
			skip(&s, "text that is not UTF-8");
			continue;
		}
		n_pings++;
		if (dry) {
			char t[40];
			timefmt_format(p->last_ping_ms, t, sizeof(t));
			printf("ping %s/%s %s %s\n", p->client, p->env, p->version[0] != '\0' ? p->version : "-", t);
			json_decref(pj);
			continue;
		}
		json_array_append_new(pings, pj);
		if (json_array_size(pings) == (size_t)batch) {
			rc = send_batch(c, "pings", pings, &s, true);
			json_array_clear(pings);
		}
	}
	if (rc == 0 && !dry && json_array_size(pings) > 0) {
		rc = send_batch(c, "pings", pings, &s, true);
	}
	json_decref(pings);
	if (rc == 0) {
		print_summary(c, &s, dry, s.total, n_pings);
	}
	for (size_t i = 0; i < s.n_reasons; i++) {
		free(s.skipped[i].why);
	}
	free(order);
	rt_db_free(&db);
	return rc;
}
