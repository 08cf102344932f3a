/* node/kubeconfig: context selection, cluster and user extraction, base64
 * PEM decoding, and the errors for what the collector does not support. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/kubeconfig.h"

/* Fake PEM blocks and their base64 (as kubectl stores them). */
#define CA_PEM                                                            \
	"-----BEGIN CERTIFICATE-----\n"                                   \
	"MIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\n" \
	"-----END CERTIFICATE-----\n"
#define CA_B64                                                                                                    \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZR" \
	"UUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIIClientCert\n-----END CERTIFICATE-----\n"
#define CERT_B64 \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENDQVRlZ0F3SUJBZ0lJQ2xpZW50Q2VydAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define KEY_PEM "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIClientKey\n-----END EC PRIVATE KEY-----\n"
#define KEY_B64 \
	"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUNsaWVudEtleQotLS0tLUVORCBFQyBQUklWQVRFIEtFWS0tLS0tCg=="
#define TOKEN "eyJhbGciOiJSUzI1NiIsImtpZCI6IkRmX3MifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl"

struct fixture {
	struct kubeconfig k;
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kubeconfig_free(&f->k);
	free(f);
	return 0;
}

/* Parses yaml into f->k and returns the result. */
#define PARSE(f, yaml) kubeconfig_parse(yaml, strlen(yaml), &(f)->k, (f)->err, sizeof((f)->err))

/* Checks that yaml is refused with an error containing msg and out left empty. */
#define PARSE_FAILS(f, yaml, msg)                                         \
	do {                                                              \
		assert_int_equal(PARSE(f, yaml), -1);                     \
		if (strstr((f)->err, msg) == NULL) {                      \
			fail_msg("error \"%s\" lacks \"%s\"", (f)->err, msg); \
		}                                                         \
		assert_null((f)->k.ca_pem);                               \
		assert_null((f)->k.token);                                \
		assert_string_equal((f)->k.server, "");                   \
	} while (0)

/* A kubeconfig with one cluster, one context and the given users: body. */
#define ONE_CONTEXT(user_body)                                    \
	"apiVersion: v1\n"                                        \
	"kind: Config\n"                                          \
	"clusters:\n"                                             \
	"- cluster:\n"                                            \
	"    certificate-authority-data: " CA_B64 "\n"            \
	"    server: https://10.0.0.1:6443\n"                     \
	"  name: prod\n"                                          \
	"contexts:\n"                                             \
	"- context:\n"                                            \
	"    cluster: prod\n"                                     \
	"    user: collector\n"                                   \
	"  name: prod\n"                                          \
	"current-context: prod\n"                                 \
	"preferences: {}\n"                                       \
	"users:\n"                                                \
	"- name: collector\n"                                     \
	"  user:\n" user_body

static void test_token_user(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(PARSE(f, ONE_CONTEXT("    token: " TOKEN "\n")), 0);
	assert_string_equal(f->k.server, "https://10.0.0.1:6443");
	assert_string_equal(f->k.ca_pem, CA_PEM);
	assert_string_equal(f->k.token, TOKEN);
	assert_null(f->k.client_cert_pem);
	assert_null(f->k.client_key_pem);
	assert_int_equal(f->k.insecure_skip_tls_verify, 0);
	assert_string_equal(f->k.namespace_, "");
}

static void test_client_cert_user(void **state)
{
	struct fixture *f = *state;
	const char *yaml =
		"apiVersion: v1\n"
		"clusters:\n"
		"- cluster:\n"
		"    certificate-authority-data: |\n"
		"      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1J\n"
		"      SUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pP\n"
		"      UFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMy\n"
		"      VnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\n"
		"    server: \"https://kind-control-plane:6443\"\n"
		"  name: kind-kind\n"
		"contexts:\n"
		"- context:\n"
		"    cluster: kind-kind\n"
		"    namespace: shop\n"
		"    user: kind-kind\n"
		"  name: kind-kind\n"
		"current-context: kind-kind\n"
		"kind: Config\n"
		"users:\n"
		"- name: kind-kind\n"
		"  user:\n"
		"    client-certificate-data: " CERT_B64 "\n"
		"    client-key-data: " KEY_B64 "\n";
	assert_int_equal(PARSE(f, yaml), 0);
	assert_string_equal(f->k.server, "https://kind-control-plane:6443");
	assert_string_equal(f->k.ca_pem, CA_PEM); /* line-wrapped base64 */
	assert_null(f->k.token);
	assert_string_equal(f->k.client_cert_pem, CERT_PEM);
	assert_string_equal(f->k.client_key_pem, KEY_PEM);
	assert_string_equal(f->k.namespace_, "shop");
}

static const char two_contexts[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"clusters:\n"
	"- name: staging\n"
	"  cluster:\n"
	"    server: https://staging.example.com\n"
	"    certificate-authority-data: " CA_B64 "\n"
	"- name: prod\n"
	"  cluster:\n"
	"    server: https://prod.example.com:443\n"
	"    insecure-skip-tls-verify: true\n"
	"contexts:\n"
	"- name: staging\n"
	"  context: {cluster: staging, user: stage-user, namespace: staging}\n"
	"- name: prod-admin\n"
	"  context:\n"
	"    cluster: prod\n"
	"    user: prod-user\n"
	"    namespace: payments\n"
	"current-context: prod-admin\n"
	"users:\n"
	"- name: stage-user\n"
	"  user:\n"
	"    token: staging-token\n"
	"- name: prod-user\n"
	"  user:\n"
	"    token: prod-token\n";

static void test_current_context_selects_second(void **state)
{
	struct fixture *f = *state;
	const char *yaml = two_contexts;
	assert_int_equal(PARSE(f, yaml), 0);
	assert_string_equal(f->k.server, "https://prod.example.com:443");
	assert_null(f->k.ca_pem);
	assert_string_equal(f->k.token, "prod-token");
	assert_int_equal(f->k.insecure_skip_tls_verify, 1);
	assert_string_equal(f->k.namespace_, "payments");
}

/* A context named by the caller wins over current-context; an unknown one
 * is refused with the names the file has. */
static void test_named_context(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(kubeconfig_parse_context(two_contexts, strlen(two_contexts), "staging", &f->k, f->err,
	                                          sizeof(f->err)),
	                 0);
	assert_string_equal(f->k.server, "https://staging.example.com");
	assert_string_equal(f->k.ca_pem, CA_PEM);
	assert_string_equal(f->k.token, "staging-token");
	assert_int_equal(f->k.insecure_skip_tls_verify, 0);
	assert_string_equal(f->k.namespace_, "staging");
	kubeconfig_free(&f->k);
	assert_int_equal(kubeconfig_parse_context(two_contexts, strlen(two_contexts), "qa", &f->k, f->err,
	                                          sizeof(f->err)),
	                 -1);
	assert_string_equal(f->err, "context \"qa\" is not in contexts (staging, prod-admin)");
	assert_null(f->k.token);
}

static void test_missing_current_context_one_context(void **state)
{
	struct fixture *f = *state;
	const char *yaml =
		"apiVersion: v1\n"
		"kind: Config\n"
		"current-context: \"\"\n"
		"clusters:\n"
		"- name: only\n"
		"  cluster:\n"
		"    server: https://only:6443\n"
		"contexts:\n"
		"- name: only\n"
		"  context:\n"
		"    cluster: only\n"
		"    user: only\n"
		"users:\n"
		"- name: only\n"
		"  user:\n"
		"    token: t0\n";
	assert_int_equal(PARSE(f, yaml), 0);
	assert_string_equal(f->k.server, "https://only:6443");
	assert_string_equal(f->k.token, "t0");
}

static void test_anonymous_user_and_anchors(void **state)
{
	struct fixture *f = *state;
	/* No user in the context; the cluster comes through an alias. */
	const char *yaml =
		"clusters:\n"
		"- name: c\n"
		"  cluster: &c\n"
		"    server: https://c\n"
		"    insecure-skip-tls-verify: false\n"
		"- name: d\n"
		"  cluster: *c\n"
		"contexts:\n"
		"- name: x\n"
		"  context: {cluster: d}\n";
	assert_int_equal(PARSE(f, yaml), 0);
	assert_string_equal(f->k.server, "https://c");
	assert_null(f->k.token);
	kubeconfig_free(&f->k);
	/* "user: {}" as kubectl writes an empty user. */
	assert_int_equal(PARSE(f, ONE_CONTEXT("    {}\n")), 0);
	assert_null(f->k.token);
	assert_null(f->k.client_cert_pem);
}

static void test_malformed_yaml(void **state)
{
	struct fixture *f = *state;
	PARSE_FAILS(f, "clusters:\n- name: a\n  cluster: [unclosed\n", "YAML error at line");
	PARSE_FAILS(f, "a: b\n  c: d\n", "YAML error at line 2");
	PARSE_FAILS(f, "", "empty kubeconfig");
	PARSE_FAILS(f, "- a\n- b\n", "not a YAML mapping");
	const char bad_utf8[] = "a: \xff\xfe\n";
	PARSE_FAILS(f, bad_utf8, "YAML error");
}

static void test_missing_keys(void **state)
{
	struct fixture *f = *state;
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster:\n    certificate-authority-data: " CA_B64 "\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\n",
	            "cluster \"c\" has no server");
	PARSE_FAILS(f, "clusters: []\ncontexts:\n- name: x\n  context: {cluster: c}\n",
	            "cluster \"c\" (of the context) is not in clusters");
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster: {server: https://c}\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: y\n",
	            "current-context \"y\" is not in contexts");
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster: {server: https://c}\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\n- name: y\n  context: {cluster: c}\n",
	            "current-context is missing and there are 2 contexts");
	PARSE_FAILS(f, "apiVersion: v1\nkind: Config\n", "no contexts");
	PARSE_FAILS(f, "contexts:\n- name: x\n  context: {user: u}\n", "context \"x\" has no cluster");
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster: {server: https://c}\n"
	            "contexts:\n- name: x\n  context: {cluster: c, user: ghost}\n",
	            "user \"ghost\" (of the context) is not in users");
}

static void test_exec_plugin_refused(void **state)
{
	struct fixture *f = *state;
	PARSE_FAILS(f,
	            ONE_CONTEXT("    exec:\n"
	                        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
	                        "      command: aws\n"
	                        "      args: [eks, get-token, --cluster-name, prod]\n"
	                        "      interactiveMode: IfAvailable\n"),
	            "exec credential plugins are not supported");
	PARSE_FAILS(f, ONE_CONTEXT("    auth-provider:\n      name: gcp\n"), "auth-provider plugins are not supported");
	PARSE_FAILS(f, ONE_CONTEXT("    username: admin\n    password: secret\n"), "username/password");
}

static void test_file_paths_refused(void **state)
{
	struct fixture *f = *state;
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster:\n    server: https://c\n"
	            "    certificate-authority: /etc/kubernetes/pki/ca.crt\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\n",
	            "only *-data fields are supported");
	PARSE_FAILS(f,
	            ONE_CONTEXT("    client-certificate: /home/me/.minikube/client.crt\n"
	                        "    client-key: /home/me/.minikube/client.key\n"),
	            "client-certificate is a file path; only *-data fields are supported");
	PARSE_FAILS(f, ONE_CONTEXT("    tokenFile: /var/run/secrets/token\n"), "only *-data fields are supported");
}

static void test_bad_data_fields(void **state)
{
	struct fixture *f = *state;
	PARSE_FAILS(f, ONE_CONTEXT("    client-certificate-data: " CERT_B64 "\n"),
	            "has client-certificate-data without client-key-data");
	PARSE_FAILS(f,
	            ONE_CONTEXT("    client-certificate-data: " CERT_B64 "\n"
	                        "    client-key-data: not*base64\n"),
	            "user \"collector\": client-key-data is not valid base64");
	PARSE_FAILS(f,
	            ONE_CONTEXT("    client-certificate-data: YQBi\n"
	                        "    client-key-data: " KEY_B64 "\n"),
	            "client-certificate-data does not decode to PEM text");
	PARSE_FAILS(f,
	            "clusters:\n- name: c\n  cluster: {server: https://c, insecure-skip-tls-verify: maybe}\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\n",
	            "insecure-skip-tls-verify is not a boolean");
}

static void test_free_is_idempotent(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(PARSE(f, ONE_CONTEXT("    client-certificate-data: " CERT_B64 "\n"
	                                      "    client-key-data: " KEY_B64 "\n")),
	                 0);
	kubeconfig_free(&f->k);
	kubeconfig_free(&f->k);
	assert_null(f->k.client_key_pem);
	assert_string_equal(f->k.server, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cert_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_current_context_selects_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_current_context_one_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anonymous_user_and_anchors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_plugin_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_paths_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_data_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_is_idempotent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
