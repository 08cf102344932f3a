/* node/imageref: image references parsed and normalized as Docker and
 * Kubernetes do, and digests taken from containerStatuses[].imageID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "k8s/imageref.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX128 HEX64 HEX64

/* Parses image and checks every field of the result. */
#define PARSE_OK(image, registry_, repository_, repo_, name_, tag_, digest_) \
	do {                                                                  \
		struct image_ref r_;                                          \
		assert_int_equal(image_ref_parse(image, &r_), 0);            \
		assert_string_equal(r_.registry, registry_);                  \
		assert_string_equal(r_.repository, repository_);              \
		assert_string_equal(r_.repo, repo_);                          \
		assert_string_equal(r_.name, name_);                          \
		assert_string_equal(r_.tag, tag_);                            \
		assert_string_equal(r_.digest, digest_);                      \
	} while (0)

/* Checks that image is refused and out is left zeroed. */
#define PARSE_FAILS(image)                                      \
	do {                                                     \
		struct image_ref r_;                             \
		assert_int_equal(image_ref_parse(image, &r_), -1); \
		assert_string_equal(r_.registry, "");            \
		assert_string_equal(r_.tag, "");                 \
	} while (0)

static void test_docker_hub_short_names(void **state)
{
	(void)state;
	PARSE_OK("nginx", "docker.io", "library/nginx", "docker.io", "nginx", "latest", "");
	PARSE_OK("nginx:1.21.0", "docker.io", "library/nginx", "docker.io", "nginx", "1.21.0", "");
	PARSE_OK("library/nginx:1.21", "docker.io", "library/nginx", "docker.io", "nginx", "1.21", "");
	PARSE_OK("bitnami/redis:7", "docker.io", "bitnami/redis", "docker.io/bitnami", "redis", "7", "");
	PARSE_OK("docker.io/library/nginx:latest", "docker.io", "library/nginx", "docker.io", "nginx", "latest", "");
	PARSE_OK("docker.io/nginx", "docker.io", "library/nginx", "docker.io", "nginx", "latest", "");
	PARSE_OK("index.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "docker.io/bitnami", "redis", "7", "");
}

static void test_registries(void **state)
{
	(void)state;
	PARSE_OK("gcr.io/myproject/app:v1.2.3", "gcr.io", "myproject/app", "gcr.io/myproject", "app", "v1.2.3", "");
	PARSE_OK("registry.local:5000/team/api:2.3.1", "registry.local:5000", "team/api", "registry.local:5000/team",
	         "api", "2.3.1", "");
	PARSE_OK("localhost:5000/app", "localhost:5000", "app", "localhost:5000", "app", "latest", "");
	PARSE_OK("localhost/app:1", "localhost", "app", "localhost", "app", "1", "");
	PARSE_OK("quay.io/a/b/c:tag", "quay.io", "a/b/c", "quay.io/a/b", "c", "tag", "");
	PARSE_OK("my-registry.example.com/x_y/a.b-c__d:V1_rc-2", "my-registry.example.com", "x_y/a.b-c__d",
	         "my-registry.example.com/x_y", "a.b-c__d", "V1_rc-2", "");
}

static void test_digests(void **state)
{
	(void)state;
	PARSE_OK("ghcr.io/org/worker@sha256:" HEX64, "ghcr.io", "org/worker", "ghcr.io/org", "worker", "",
	         "sha256:" HEX64);
	PARSE_OK("app:1.0@sha256:" HEX64, "docker.io", "library/app", "docker.io", "app", "1.0", "sha256:" HEX64);
	PARSE_OK("nginx:1.21@sha256:" HEX64, "docker.io", "library/nginx", "docker.io", "nginx", "1.21",
	         "sha256:" HEX64);
	PARSE_OK("registry.local:5000/api@sha512:" HEX128, "registry.local:5000", "api", "registry.local:5000", "api",
	         "", "sha512:" HEX128);
}

static void test_rejections(void **state)
{
	(void)state;
	PARSE_FAILS("");
	PARSE_FAILS("UPPER/app");
	PARSE_FAILS("Nginx");
	PARSE_FAILS("app@sha256:short");
	PARSE_FAILS("app:");
	PARSE_FAILS("a b");
	PARSE_FAILS("app@@x");
	PARSE_FAILS("app@sha256:" HEX64 "@sha256:" HEX64);
	PARSE_FAILS("app@sha256:" HEX64 "0");                     /* 65 hex */
	PARSE_FAILS("app@md5:0123456789abcdef0123456789abcdef"); /* unknown algorithm */
	PARSE_FAILS("app@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
	PARSE_FAILS("app@sha512:" HEX64);
	PARSE_FAILS(":1.0");
	PARSE_FAILS("/app");
	PARSE_FAILS("gcr.io/");
	PARSE_FAILS("gcr.io//app");
	PARSE_FAILS("gcr.io:/app");
	PARSE_FAILS("gcr.io:port/app");
	PARSE_FAILS("-bad.io/app");
	PARSE_FAILS("team/-api");
	PARSE_FAILS("team/api.");
	PARSE_FAILS("team/a..b");
	PARSE_FAILS("app:-tag");
	PARSE_FAILS("app:a/b");
	PARSE_FAILS("app\t");
	PARSE_FAILS("app\n");
	PARSE_FAILS("caf\xc3\xa9");
	PARSE_FAILS(NULL);
}

static void test_length_limits(void **state)
{
	(void)state;
	char image[400];
	/* A 129-character tag is one too long. */
	snprintf(image, sizeof(image), "app:%0129d", 0);
	PARSE_FAILS(image);
	snprintf(image, sizeof(image), "app:%0128d", 0);
	struct image_ref r;
	assert_int_equal(image_ref_parse(image, &r), 0);
	assert_int_equal(strlen(r.tag), 128);
	/* A name over 255 characters is refused. */
	memset(image, 'a', 256);
	image[256] = '\0';
	PARSE_FAILS(image);
	image[255] = '\0';
	assert_int_equal(image_ref_parse(image, &r), 0);
	assert_int_equal(strlen(r.name), 255);
}

static void test_digest_of_image_id(void **state)
{
	(void)state;
	char out[160];
	assert_int_equal(image_ref_digest_of_image_id("docker-pullable://nginx@sha256:" HEX64, out, sizeof(out)), 0);
	assert_string_equal(out, "sha256:" HEX64);
	assert_int_equal(image_ref_digest_of_image_id("docker.io/library/nginx@sha256:" HEX64, out, sizeof(out)), 0);
	assert_string_equal(out, "sha256:" HEX64);
	assert_int_equal(image_ref_digest_of_image_id("sha256:" HEX64, out, sizeof(out)), 0);
	assert_string_equal(out, "sha256:" HEX64);
	assert_int_equal(image_ref_digest_of_image_id("docker://sha256:" HEX64, out, sizeof(out)), 0);
	assert_string_equal(out, "sha256:" HEX64);
	assert_int_equal(image_ref_digest_of_image_id("quay.io/a/b@sha512:" HEX128, out, sizeof(out)), 0);
	assert_string_equal(out, "sha512:" HEX128);

	assert_int_equal(image_ref_digest_of_image_id("", out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(image_ref_digest_of_image_id("nginx:1.21", out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(image_ref_digest_of_image_id("nginx@sha256:abc", out, sizeof(out)), -1);
	assert_int_equal(image_ref_digest_of_image_id(NULL, out, sizeof(out)), -1);
	/* Too small a buffer: refused, left empty. */
	char small[71];
	assert_int_equal(image_ref_digest_of_image_id("sha256:" HEX64, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	char exact[72];
	assert_int_equal(image_ref_digest_of_image_id("sha256:" HEX64, exact, sizeof(exact)), 0);
	assert_string_equal(exact, "sha256:" HEX64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_hub_short_names), cmocka_unit_test(test_registries),
		cmocka_unit_test(test_digests),               cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_length_limits),         cmocka_unit_test(test_digest_of_image_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
