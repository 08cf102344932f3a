/* Image reference parsing, after the grammar of distribution/reference:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := domain-component ( "." domain-component )* [ ":" port ]
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" 64 hex | "sha512:" 128 hex   (lower case)
 *
 * The string is split from the right: digest at '@', then the tag at the last
 * ':' after the last '/', then the domain if the first component looks like a
 * host. Each piece is validated, then normalized (docker.io, library/). */
#include "k8s/imageref.h"

#include <stdio.h>
#include <string.h>

#define IMAGE_REF_NAME_MAX 255 /* distribution/reference NameTotalLengthMax */
#define IMAGE_REF_TAG_MAX 128

/* A span of the input: not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

static int isLowerAlnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int isAlnum(char c)
{
	return isLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}

static int isLowerHex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether s is printable ASCII without blanks (0x21..0x7e). */
static int textIsVisibleAscii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
			return 0;
		}
	}
	return 1;
}

/* Whether s is "sha256:<64 hex>" or "sha512:<128 hex>", lower case. */
static int digestIsValid(struct span s)
{
	size_t hex_len;
	if (s.n > 7 && memcmp(s.p, "sha256:", 7) == 0) {
		hex_len = 64;
	} else if (s.n > 7 && memcmp(s.p, "sha512:", 7) == 0) {
		hex_len = 128;
	} else {
		return 0;
	}
	if (s.n - 7 != hex_len) {
		return 0;
	}
	for (size_t i = 7; i < s.n; i++) {
		if (!isLowerHex(s.p[i])) {
			return 0;
		}
	}
	return 1;
}

/* Whether s is a tag: a word character, then up to 127 of [A-Za-z0-9_.-]. */
static int tagIsValid(struct span s)
{
	if (s.n == 0 || s.n > IMAGE_REF_TAG_MAX || !(isAlnum(s.p[0]) || s.p[0] == '_')) {
		return 0;
	}
	for (size_t i = 1; i < s.n; i++) {
		char c = s.p[i];
		if (!(isAlnum(c) || c == '_' || c == '.' || c == '-')) {
			return 0;
		}
	}
	return 1;
}

/* Whether s is a path component: lower-case alphanumeric runs joined by
 * ".", "_", "__" or any number of "-". */
static int componentIsValid(struct span s)
{
	size_t i = 0;
	if (s.n == 0 || !isLowerAlnum(s.p[0]) || !isLowerAlnum(s.p[s.n - 1])) {
		return 0;
	}
	while (i < s.n) {
		if (isLowerAlnum(s.p[i])) {
			i++;
			continue;
		}
		/* A separator; the ends are alphanumeric, so one follows. */
		size_t start = i;
		while (i < s.n && !isLowerAlnum(s.p[i])) {
			i++;
		}
		struct span sep = {s.p + start, i - start};
		int dashes = strspn(sep.p, "-") >= sep.n;
		if (!(dashes || (sep.n == 1 && (sep.p[0] == '.' || sep.p[0] == '_')) ||
		      (sep.n == 2 && sep.p[0] == '_' && sep.p[1] == '_'))) {
			return 0;
		}
	}
	return 1;
}

/* Whether s is a host name label list with an optional ":port". */
static int domainIsValid(struct span s)
{
	const char *colon = memchr(s.p, ':', s.n);
	size_t host_len = colon != NULL ? (size_t)(colon - s.p) : s.n;
	if (colon != NULL) {
		size_t port_len = s.n - host_len - 1;
		if (port_len == 0 || port_len > 5 || strspn(colon + 1, "0123456789") < port_len) {
			return 0;
		}
	}
	/* Labels: alphanumeric at both ends, '-' allowed inside. */
	size_t label = 0;
	for (size_t i = 0; i <= host_len; i++) {
		if (i == host_len || s.p[i] == '.') {
			if (label == 0 || s.p[i - 1] == '-' || s.p[i - label] == '-') {
				return 0;
			}
			label = 0;
		} else if (isAlnum(s.p[i]) || s.p[i] == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Copies a span into dst as a string; -1 if it does not fit. */
static int spanCopy(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap) {
		return -1;
	}
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

/* Whether the first component of a name is a registry host. */
static int spanIsRegistry(struct span first)
{
	return memchr(first.p, '.', first.n) != NULL || memchr(first.p, ':', first.n) != NULL ||
	       (first.n == 9 && memcmp(first.p, "localhost", 9) == 0);
}

/* Splits name into registry and path, validates both and fills registry,
 * repository, repo and name of out. */
static int imageRefFillName(struct span name, struct image_ref *out)
{
	struct span path = name;
	const char *slash = memchr(name.p, '/', name.n);
	struct span first = {name.p, slash != NULL ? (size_t)(slash - name.p) : 0};

	if (slash != NULL && spanIsRegistry(first)) {
		if (!domainIsValid(first)) {
			return -1;
		}
		path = (struct span){slash + 1, name.n - first.n - 1};
		if (first.n == 15 && memcmp(first.p, "index.docker.io", 15) == 0) {
			first = (struct span){IMAGE_REF_DEFAULT_REGISTRY, strlen(IMAGE_REF_DEFAULT_REGISTRY)};
		}
	} else {
		first = (struct span){IMAGE_REF_DEFAULT_REGISTRY, strlen(IMAGE_REF_DEFAULT_REGISTRY)};
	}
	if (spanCopy(out->registry, sizeof(out->registry), first) != 0) {
		return -1;
	}

	/* Validate each component; remember where the last one starts. */
	const char *last = path.p;
	for (size_t i = 0; i <= path.n; i++) {
		if (i == path.n || path.p[i] == '/') {
			if (!componentIsValid((struct span){last, (size_t)(path.p + i - last)})) {
				return -1;
			}
			if (i < path.n) {
				last = path.p + i + 1;
			}
		}
	}
	struct span base = {last, (size_t)(path.p + path.n - last)};
	struct span parent = {path.p, base.p == path.p ? 0 : (size_t)(base.p - path.p - 1)};
	int docker_hub = strcmp(out->registry, IMAGE_REF_DEFAULT_REGISTRY) == 0;
	int official = docker_hub && (parent.n == 0 || (parent.n == 7 && memcmp(parent.p, "library", 7) == 0));

	int n = snprintf(out->repository, sizeof(out->repository), "%s%.*s", docker_hub && parent.n == 0 ? "library/" : "",
	                 (int)path.n, path.p);
	if (n < 0 || (size_t)n >= sizeof(out->repository)) {
		return -1;
	}
	if (official || parent.n == 0) {
		n = snprintf(out->repo, sizeof(out->repo), "%s", out->registry);
	} else {
		n = snprintf(out->repo, sizeof(out->repo), "%s/%.*s", out->registry, (int)parent.n, parent.p);
	}
	if (n < 0 || (size_t)n >= sizeof(out->repo)) {
		return -1;
	}
	return spanCopy(out->name, sizeof(out->name), base);
}

/* Parses after out was zeroed; out may be partly filled on failure. */
static int imageRefParse(const char *image, struct image_ref *out)
{
	size_t len = strlen(image);
	if (len == 0 || !textIsVisibleAscii(image)) {
		return -1;
	}
	struct span name = {image, len};

	const char *at = strchr(image, '@');
	if (at != NULL) {
		struct span digest = {at + 1, len - (size_t)(at + 1 - image)};
		if (strchr(at + 1, '@') != NULL || !digestIsValid(digest) ||
		    spanCopy(out->digest, sizeof(out->digest), digest) != 0) {
			return -1;
		}
		name.n = (size_t)(at - image);
	}

	/* The tag is after the last ':' that follows the last '/'. */
	const char *tail = name.p;
	for (size_t i = 0; i < name.n; i++) {
		if (name.p[i] == '/') {
			tail = name.p + i + 1;
		}
	}
	const char *colon = memchr(tail, ':', (size_t)(name.p + name.n - tail));
	if (colon != NULL) {
		struct span tag = {colon + 1, (size_t)(name.p + name.n - colon - 1)};
		if (!tagIsValid(tag) || spanCopy(out->tag, sizeof(out->tag), tag) != 0) {
			return -1;
		}
		name.n = (size_t)(colon - name.p);
	} else if (at == NULL) {
		snprintf(out->tag, sizeof(out->tag), "%s", IMAGE_REF_DEFAULT_TAG);
	}

	if (name.n == 0 || name.n > IMAGE_REF_NAME_MAX) {
		return -1;
	}
	return imageRefFillName(name, out);
}

int image_ref_parse(const char *image, struct image_ref *out)
{
	memset(out, 0, sizeof(*out));
	if (image == NULL || imageRefParse(image, out) != 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int image_ref_digest_of_image_id(const char *image_id, char *out, size_t cap)
{
	if (cap > 0) {
		out[0] = '\0';
	}
	if (image_id == NULL) {
		return -1;
	}
	const char *s = strrchr(image_id, '@');
	if (s != NULL) {
		s++;
	} else {
		/* A bare id, possibly as "docker://sha256:..." */
		const char *scheme = strstr(image_id, "://");
		s = scheme != NULL ? scheme + 3 : image_id;
	}
	struct span digest = {s, strlen(s)};
	if (!digestIsValid(digest)) {
		return -1;
	}
	return spanCopy(out, cap, digest);
}
