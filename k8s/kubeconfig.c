/* kubeconfig parsing: libyaml loads the whole document into a node tree
 * (aliases resolved), then we walk
 *
 *   current-context -> contexts[name].context -> {cluster, user, namespace}
 *   clusters[name].cluster -> server, certificate-authority-data, insecure-skip-tls-verify
 *   users[name].user       -> token | client-certificate-data + client-key-data
 *
 * Every failure leaves a message naming the key and the entry it was looked
 * for in. Scalars of the document are wiped before it is freed, since they
 * hold tokens and private keys. */
#include "k8s/kubeconfig.h"
#include "lib/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define KUBECONFIG_PATH_ERR "only *-data fields are supported"

/* Writes a message into err and returns -1. */
__attribute__((format(printf, 3, 4))) static int kubeconfigFail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (errlen == 0) {
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The string of a scalar node, or NULL for a non-scalar, an empty value or
 * a plain YAML null ("~", "null"). */
static const char *yamlScalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0) {
		return NULL;
	}
	const char *s = (const char *)n->data.scalar.value;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)) {
		return NULL;
	}
	return s;
}

/* The value of key in a mapping node, or NULL (also for a non-mapping). */
static yaml_node_t *yamlMapGet(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		return NULL;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = yamlScalar(yaml_document_get_node(doc, p->key));
		if (k != NULL && strcmp(k, key) == 0) {
			return yaml_document_get_node(doc, p->value);
		}
	}
	return NULL;
}

/* The string value of key in map, or NULL. */
static const char *yamlMapString(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	return yamlScalar(yamlMapGet(doc, map, key));
}

/* Number of items of a sequence node (0 for anything else). */
static size_t yamlSeqCount(const yaml_node_t *seq)
{
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE) {
		return 0;
	}
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* The i-th item of a sequence node (i < yamlSeqCount). */
static yaml_node_t *yamlSeqItem(yaml_document_t *doc, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
}

/* In a list like clusters:, the first item whose name is name; NULL if none. */
static yaml_node_t *yamlFindNamed(yaml_document_t *doc, const yaml_node_t *seq, const char *name)
{
	for (size_t i = 0; i < yamlSeqCount(seq); i++) {
		yaml_node_t *item = yamlSeqItem(doc, seq, i);
		const char *item_name = yamlMapString(doc, item, "name");
		if (item_name != NULL && strcmp(item_name, name) == 0) {
			return item;
		}
	}
	return NULL;
}

/* Overwrites every scalar of doc, which may hold secrets. */
static void yamlWipe(yaml_document_t *doc)
{
	for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
		if (n->type == YAML_SCALAR_NODE) {
			secret_wipe(n->data.scalar.value, n->data.scalar.length);
		}
	}
}

/* Decodes the base64 of field (of the entry what) into a malloc'd,
 * NUL-terminated string in *out. */
static int kubeconfigDecode(const char *b64, const char *field, const char *what, char **out, char *err, size_t errlen)
{
	size_t bin_len = 0;
	unsigned char *bin;
	if (secret_base64_decode(b64, (void **)&bin, &bin_len) != 0) {
		return kubeconfigFail(err, errlen, "%s: %s is not valid base64", what, field);
	}
	if (bin_len == 0 || memchr(bin, '\0', bin_len) != NULL) {
		secret_wipe(bin, bin_len);
		free(bin);
		return kubeconfigFail(err, errlen, "%s: %s does not decode to PEM text", what, field);
	}
	*out = (char *)bin;
	return 0;
}

/* Parses a YAML 1.1 boolean (true/false, yes/no, on/off, any case). */
static int kubeconfigBool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "y"};
	static const char *const no[] = {"false", "no", "off", "n"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Finds the context to use (current-context, or the only one) and returns
 * its "context" mapping in *ctx and its name in *name. */
/* The names of the contexts, comma-separated, into out (for messages). */
static void kubeconfigContextNames(yaml_document_t *doc, yaml_node_t *contexts, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < yamlSeqCount(contexts) && n < cap; i++) {
		const char *name = yamlMapString(doc, yamlSeqItem(doc, contexts, i), "name");
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", name != NULL ? name : "?");
	}
}

static int kubeconfigSelectContext(yaml_document_t *doc, yaml_node_t *root, const char *want, yaml_node_t **ctx,
                                   const char **name, char *err, size_t errlen)
{
	yaml_node_t *contexts = yamlMapGet(doc, root, "contexts");
	const char *current = yamlMapString(doc, root, "current-context");
	yaml_node_t *entry;

	if (want != NULL) {
		entry = yamlFindNamed(doc, contexts, want);
		if (entry == NULL) {
			char names[200];
			kubeconfigContextNames(doc, contexts, names, sizeof(names));
			return kubeconfigFail(err, errlen, "context \"%s\" is not in contexts (%s)", want, names);
		}
	} else if (current != NULL) {
		entry = yamlFindNamed(doc, contexts, current);
		if (entry == NULL) {
			return kubeconfigFail(err, errlen, "current-context \"%s\" is not in contexts", current);
		}
	} else if (yamlSeqCount(contexts) == 1) {
		entry = yamlSeqItem(doc, contexts, 0);
	} else if (yamlSeqCount(contexts) == 0) {
		return kubeconfigFail(err, errlen, "no contexts (and no current-context)");
	} else {
		return kubeconfigFail(err, errlen, "current-context is missing and there are %zu contexts",
		                      yamlSeqCount(contexts));
	}
	*name = yamlMapString(doc, entry, "name");
	if (*name == NULL) {
		*name = "";
	}
	*ctx = yamlMapGet(doc, entry, "context");
	if (*ctx == NULL || (*ctx)->type != YAML_MAPPING_NODE) {
		return kubeconfigFail(err, errlen, "context \"%s\" has no context mapping", *name);
	}
	return 0;
}

/* Fills server, ca_pem and insecure_skip_tls_verify from the named cluster. */
static int kubeconfigFillCluster(yaml_document_t *doc, yaml_node_t *root, const char *name, struct kubeconfig *out,
                                 char *err, size_t errlen)
{
	char what[300];
	yaml_node_t *entry = yamlFindNamed(doc, yamlMapGet(doc, root, "clusters"), name);
	yaml_node_t *cluster = yamlMapGet(doc, entry, "cluster");
	snprintf(what, sizeof(what), "cluster \"%s\"", name);
	if (entry == NULL) {
		return kubeconfigFail(err, errlen, "%s (of the context) is not in clusters", what);
	}
	if (cluster == NULL || cluster->type != YAML_MAPPING_NODE) {
		return kubeconfigFail(err, errlen, "%s has no cluster mapping", what);
	}

	const char *server = yamlMapString(doc, cluster, "server");
	if (server == NULL) {
		return kubeconfigFail(err, errlen, "%s has no server", what);
	}
	if (strlen(server) >= sizeof(out->server)) {
		return kubeconfigFail(err, errlen, "%s: server is longer than %zu bytes", what, sizeof(out->server) - 1);
	}
	snprintf(out->server, sizeof(out->server), "%s", server);

	if (yamlMapString(doc, cluster, "certificate-authority") != NULL) {
		return kubeconfigFail(err, errlen, "%s: certificate-authority is a file path; " KUBECONFIG_PATH_ERR, what);
	}
	const char *ca = yamlMapString(doc, cluster, "certificate-authority-data");
	if (ca != NULL && kubeconfigDecode(ca, "certificate-authority-data", what, &out->ca_pem, err, errlen) != 0) {
		return -1;
	}
	const char *insecure = yamlMapString(doc, cluster, "insecure-skip-tls-verify");
	if (insecure != NULL && kubeconfigBool(insecure, &out->insecure_skip_tls_verify) != 0) {
		return kubeconfigFail(err, errlen, "%s: insecure-skip-tls-verify is not a boolean: \"%s\"", what,
		                      insecure);
	}
	return 0;
}

/* Refuses the user fields we do not support; what names the user. */
static int kubeconfigCheckUser(yaml_document_t *doc, yaml_node_t *user, const char *what, char *err, size_t errlen)
{
	static const char *const paths[] = {"client-certificate", "client-key", "tokenFile"};
	if (yamlMapGet(doc, user, "exec") != NULL) {
		return kubeconfigFail(err, errlen, "%s: exec credential plugins are not supported", what);
	}
	if (yamlMapGet(doc, user, "auth-provider") != NULL) {
		return kubeconfigFail(err, errlen, "%s: auth-provider plugins are not supported", what);
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (yamlMapString(doc, user, paths[i]) != NULL) {
			return kubeconfigFail(err, errlen, "%s: %s is a file path; " KUBECONFIG_PATH_ERR, what,
			                      paths[i]);
		}
	}
	if (yamlMapString(doc, user, "username") != NULL || yamlMapString(doc, user, "password") != NULL) {
		return kubeconfigFail(err, errlen, "%s: username/password authentication is not supported", what);
	}
	return 0;
}

/* Fills token and the client certificate and key from the named user. */
static int kubeconfigFillUser(yaml_document_t *doc, yaml_node_t *root, const char *name, struct kubeconfig *out,
                              char *err, size_t errlen)
{
	char what[300];
	yaml_node_t *entry = yamlFindNamed(doc, yamlMapGet(doc, root, "users"), name);
	yaml_node_t *user = yamlMapGet(doc, entry, "user");
	snprintf(what, sizeof(what), "user \"%s\"", name);
	if (entry == NULL) {
		return kubeconfigFail(err, errlen, "%s (of the context) is not in users", what);
	}
	if (user == NULL || user->type != YAML_MAPPING_NODE) {
		return 0; /* "user: {}" or "user: null": anonymous */
	}
	if (kubeconfigCheckUser(doc, user, what, err, errlen) != 0) {
		return -1;
	}

	const char *token = yamlMapString(doc, user, "token");
	if (token != NULL && (out->token = strdup(token)) == NULL) {
		return kubeconfigFail(err, errlen, "%s: out of memory", what);
	}
	const char *cert = yamlMapString(doc, user, "client-certificate-data");
	const char *key = yamlMapString(doc, user, "client-key-data");
	if ((cert == NULL) != (key == NULL)) {
		return kubeconfigFail(err, errlen, "%s has %s without %s", what,
		                      cert != NULL ? "client-certificate-data" : "client-key-data",
		                      cert != NULL ? "client-key-data" : "client-certificate-data");
	}
	if (cert != NULL &&
	    (kubeconfigDecode(cert, "client-certificate-data", what, &out->client_cert_pem, err, errlen) != 0 ||
	     kubeconfigDecode(key, "client-key-data", what, &out->client_key_pem, err, errlen) != 0)) {
		return -1;
	}
	return 0;
}

/* Walks the loaded document into out. */
static int kubeconfigFill(yaml_document_t *doc, const char *want, struct kubeconfig *out, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_t *ctx = NULL;
	const char *ctx_name = "";

	if (root == NULL) {
		return kubeconfigFail(err, errlen, "empty kubeconfig");
	}
	if (root->type != YAML_MAPPING_NODE) {
		return kubeconfigFail(err, errlen, "kubeconfig is not a YAML mapping");
	}
	if (kubeconfigSelectContext(doc, root, want, &ctx, &ctx_name, err, errlen) != 0) {
		return -1;
	}

	const char *cluster = yamlMapString(doc, ctx, "cluster");
	const char *user = yamlMapString(doc, ctx, "user");
	const char *ns = yamlMapString(doc, ctx, "namespace");
	if (cluster == NULL) {
		return kubeconfigFail(err, errlen, "context \"%s\" has no cluster", ctx_name);
	}
	if (ns != NULL && strlen(ns) >= sizeof(out->namespace_)) {
		return kubeconfigFail(err, errlen, "context \"%s\": namespace is too long", ctx_name);
	}
	snprintf(out->namespace_, sizeof(out->namespace_), "%s", ns != NULL ? ns : "");

	if (kubeconfigFillCluster(doc, root, cluster, out, err, errlen) != 0) {
		return -1;
	}
	return user != NULL ? kubeconfigFillUser(doc, root, user, out, err, errlen) : 0;
}

/* Formats the parser's error with its line and column (1-based). */
static int kubeconfigYamlError(const yaml_parser_t *parser, char *err, size_t errlen)
{
	const char *problem = parser->problem != NULL ? parser->problem : "unknown error";
	if (parser->error == YAML_MEMORY_ERROR) {
		return kubeconfigFail(err, errlen, "YAML error: out of memory");
	}
	if (parser->error == YAML_READER_ERROR) {
		return kubeconfigFail(err, errlen, "YAML error at byte %zu: %s", parser->problem_offset, problem);
	}
	if (parser->context == NULL) {
		return kubeconfigFail(err, errlen, "YAML error at line %zu, column %zu: %s", parser->problem_mark.line + 1,
		                      parser->problem_mark.column + 1, problem);
	}
	return kubeconfigFail(err, errlen, "YAML error at line %zu, column %zu: %s (%s started at line %zu)",
	                      parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem, parser->context,
	                      parser->context_mark.line + 1);
}

int kubeconfig_parse(const char *yaml, size_t len, struct kubeconfig *out, char *err, size_t errlen)
{
	return kubeconfig_parse_context(yaml, len, NULL, out, err, errlen);
}

int kubeconfig_parse_context(const char *yaml, size_t len, const char *context, struct kubeconfig *out, char *err,
                             size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rv;

	memset(out, 0, sizeof(*out));
	if (errlen > 0) {
		err[0] = '\0';
	}
	if (!yaml_parser_initialize(&parser)) {
		return kubeconfigFail(err, errlen, "YAML error: out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rv = kubeconfigYamlError(&parser, err, errlen);
		goto err_after_parser_init;
	}
	rv = kubeconfigFill(&doc, context, out, err, errlen);
	yamlWipe(&doc);
	yaml_document_delete(&doc);
	if (rv != 0) {
		kubeconfig_free(out);
	}

err_after_parser_init:
	yaml_parser_delete(&parser);
	return rv;
}

/* Wipes and frees one owned string. */
static void kubeconfigFreeString(char **s)
{
	if (*s != NULL) {
		secret_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void kubeconfig_free(struct kubeconfig *k)
{
	kubeconfigFreeString(&k->ca_pem);
	kubeconfigFreeString(&k->token);
	kubeconfigFreeString(&k->client_cert_pem);
	kubeconfigFreeString(&k->client_key_pem);
	memset(k, 0, sizeof(*k));
}
