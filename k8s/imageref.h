/* Container image references ("nginx:1.21", "gcr.io/p/app@sha256:...") parsed
 * and normalized the way Docker and Kubernetes do (distribution/reference). */
#ifndef SHIPLOG_K8S_IMAGEREF_H
#define SHIPLOG_K8S_IMAGEREF_H

#include <stddef.h>

#define IMAGE_REF_DEFAULT_REGISTRY "docker.io"
#define IMAGE_REF_DEFAULT_TAG "latest"

struct image_ref {
	char registry[256];   /* "docker.io" when none is given; "host:5000" keeps its port */
	char repository[512]; /* path after the registry, e.g. "library/nginx", "team/api" */
	char repo[768];       /* Release Tracker image_repo: registry + path minus the last component;
	                         "docker.io" alone for official (library/) images */
	char name[256];       /* last path component, e.g. "nginx", "api" */
	char tag[129];        /* up to 128 chars; "latest" when neither tag nor digest; "" with a digest only */
	char digest[136];     /* "sha256:<64 hex>", "sha512:<128 hex>" or "" */
};

/* Parses an image reference as written in a pod spec into out (zeroed first).
 *
 * The first path component is a registry if it contains '.' or ':' or is
 * "localhost"; otherwise the registry is "docker.io", and a one-component
 * path gets the "library/" prefix ("nginx" -> "library/nginx").
 * "index.docker.io" is normalized to "docker.io". A tag follows the last ':'
 * after the last '/'; a digest follows '@'; both may be present.
 *
 * Returns 0, or -1 (out zeroed) if image is malformed: empty, blanks or
 * control characters, an upper-case or otherwise invalid path component, an
 * empty or invalid tag, a digest that is not sha256:<64 lower-case hex> or
 * sha512:<128 lower-case hex>, more than one '@', or fields too long. */
int image_ref_parse(const char *image, struct image_ref *out);

/* Extracts the digest of a containerStatuses[].imageID into out: accepts
 * "docker-pullable://nginx@sha256:<hex>", "docker.io/library/nginx@sha256:<hex>",
 * and a bare image id "sha256:<hex>" (optionally with a "scheme://" prefix, as
 * containerd and docker sometimes report it).
 *
 * Returns 0, or -1 with out set to "" (when cap > 0) if image_id holds no
 * valid digest or out is shorter than the digest plus its NUL. */
int image_ref_digest_of_image_id(const char *image_id, char *out, size_t cap);

#endif
