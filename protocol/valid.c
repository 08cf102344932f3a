/* Value checks shared by the writers (valid.h). */
#include "protocol/valid.h"

#include <string.h>

bool proto_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PROTO_MAX_NAME) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.')) {
			return false;
		}
	}
	return true;
}

bool proto_valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			return false;
		}
	}
	return true;
}

bool proto_valid_component(const struct proto_observation *o)
{
	return strlen(o->client) + strlen(o->env) + strlen(o->ns) + strlen(o->kind) + strlen(o->workload) +
	               strlen(o->container) <= PROTO_MAX_COMPONENT_NAMES;
}

static bool opt_text(const char *s, size_t max)
{
	return s != NULL && (s[0] == '\0' || proto_valid_text(s, max));
}

const char *proto_observation_invalid(const struct proto_observation *o)
{
	const char *names[] = {o->client, o->env, o->ns, o->kind, o->workload, o->container};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i] == NULL || !proto_valid_name(names[i])) {
			return "namespace, the workload kind, workload_name and container_name (and the client and "
			       "environment) must be names of 1-253 letters, digits, '-', '_', '.'";
		}
	}
	if (!proto_valid_component(o)) {
		_Static_assert(PROTO_MAX_COMPONENT_NAMES == 497, "the message below says 497");
		return "client, environment, namespace, kind, workload and container names together exceed 497 characters";
	}
	if (!opt_text(o->image_repo, PROTO_MAX_IMAGE_PART) || !opt_text(o->image_name, PROTO_MAX_IMAGE_PART) ||
	    o->image_tag == NULL || !proto_valid_text(o->image_tag, PROTO_MAX_IMAGE_TAG) ||
	    !opt_text(o->image_sha, PROTO_MAX_IMAGE_TAG)) {
		return "image_tag and image_sha are required text (at most 256 characters); image_repo and image_name "
		       "optional (at most 512)";
	}
	return NULL;
}
