/* The CLI's connection to a node: which server, which key, and one request
 * at a time over lib/http. */
#ifndef SHIPLOG_CLI_CLIENT_H
#define SHIPLOG_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

struct client {
	const char *server; /* base URL, e.g. http://127.0.0.1:8001 */
	const char *key;    /* API key, NULL for none */
	bool json;          /* print answers as JSON instead of tables */
};

#define CLI_TIMEOUT_MS 15000u
#define CLI_BACKUP_TIMEOUT_MS 600000u
#define CLI_MAX_ANSWER (64u << 20) /* a JSON answer larger than this is refused */

/* Performs one request (body: JSON text or NULL; extra: further "Name: value"
 * header lines, NULL-terminated, or NULL). Returns the HTTP status (0 if
 * unreachable, with the reason on stderr) and the parsed JSON body in *out
 * (NULL if not JSON); the caller decrefs it. */
long cli_request(const struct client *c, const char *method, const char *path, const char *body,
                 const char *const *extra, json_t **out);

/* For a finished request: on an error status prints the error (and frees
 * body) and returns 1; otherwise prints body with --json and returns 0,
 * leaving body to the caller. */
int cli_report(const struct client *c, long status, json_t *body);

#endif
