/* k8s/kubeconfig.c: any bytes as a kubeconfig (libyaml), with its current
 * context and with a named one. */
#include <stdint.h>
#include <string.h>

#include "k8s/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kubeconfig k;
	char err[256];
	if (kubeconfig_parse((const char *)data, size, &k, err, sizeof(err)) == 0) {
		kubeconfig_free(&k);
	}
	if (kubeconfig_parse_context((const char *)data, size, "production", &k, err, sizeof(err)) == 0) {
		kubeconfig_free(&k);
	}
	return 0;
}
