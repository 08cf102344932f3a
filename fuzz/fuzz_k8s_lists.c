/* k8s/k8s.c: the answers of a Kubernetes API server, as one JSON object
 * {"pods", "replicasets", "deployments", "statefulsets", "daemonsets"} of
 * item arrays, turned into observations; every observation it makes is
 * either valid or dropped by k8s_result_drop_invalid. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "k8s/k8s.h"
#include "protocol/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	if (doc == NULL) {
		return 0;
	}
	static const char *const names[] = {"pods", "replicasets", "deployments", "statefulsets", "daemonsets"};
	json_t *lists[5];
	for (int i = 0; i < 5; i++) {
		lists[i] = json_object_get(doc, names[i]);
		if (!json_is_array(lists[i])) {
			lists[i] = json_array();
		} else {
			json_incref(lists[i]);
		}
	}
	struct k8s_target t = {.server = "https://fuzz", .client = "fuzz-client", .env = "fuzz-env"};
	struct k8s_result res = {0};
	json_t *const workloads[K8S_WORKLOAD_KINDS] = {lists[2], lists[3], lists[4]};
	if (k8s_extract(&t, lists[0], lists[1], workloads, 1700000000000, &res) == 0) {
		char why[512];
		k8s_result_drop_invalid(&res, why, sizeof(why));
		for (size_t i = 0; i < res.n; i++) {
			if (proto_observation_invalid(&res.obs[i]) != NULL) {
				abort(); /* kept, yet no writer may write it */
			}
		}
	}
	k8s_result_free(&res);
	for (int i = 0; i < 5; i++) {
		json_decref(lists[i]);
	}
	json_decref(doc);
	return 0;
}
