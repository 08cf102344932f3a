/* Checks of the values commands carry, shared by every writer (the
 * gateway's handlers, the collector's runs), so that what one accepts the
 * others accept too. */
#ifndef SHIPLOG_PROTOCOL_VALID_H
#define SHIPLOG_PROTOCOL_VALID_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/proto.h"

#define PROTO_MAX_NAME 253       /* a Kubernetes-style name */
#define PROTO_MAX_IMAGE_PART 512 /* image_repo, image_name */
#define PROTO_MAX_IMAGE_TAG 256  /* image_tag, image_sha */

/* A Kubernetes-style name: 1..253 of [A-Za-z0-9._-]. */
bool proto_valid_name(const char *s);
/* Printable text without control characters, 1..max bytes. */
bool proto_valid_text(const char *s, size_t max);
/* The six names of o's component fit together (PROTO_MAX_COMPONENT_NAMES). */
bool proto_valid_component(const struct proto_observation *o);
/* NULL if o may be written, else why not (a static message). Names are
 * proto_valid_name; image_tag is required text; image_repo, image_name and
 * image_sha may be "" (NULL is refused). seen_at_ms is the writer's to check. */
const char *proto_observation_invalid(const struct proto_observation *o);

#endif
