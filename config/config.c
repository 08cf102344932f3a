#include "config/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const struct cfg_node *cfg_find_node(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (strcmp(c->nodes[i].name, name) == 0) {
			return &c->nodes[i];
		}
	}
	return NULL;
}

const struct cfg_node *cfg_find_node_id(const struct cfg *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (c->nodes[i].id == id) {
			return &c->nodes[i];
		}
	}
	return NULL;
}

long long cfg_parse_duration_ms(const char *s, long long default_unit_ms)
{
	char *end;
	if (s == NULL || !isdigit((unsigned char)s[0])) {
		return -1;
	}
	double v = strtod(s, &end);
	long long unit;
	if (*end == '\0') {
		unit = default_unit_ms;
	} else if (strcmp(end, "ms") == 0) {
		unit = 1;
	} else if (strcmp(end, "s") == 0) {
		unit = 1000;
	} else if (strcmp(end, "m") == 0) {
		unit = 60000;
	} else if (strcmp(end, "h") == 0) {
		unit = 3600000;
	} else if (strcmp(end, "d") == 0) {
		unit = 86400000;
	} else {
		return -1;
	}
	if (v < 0 || v * (double)unit > 9e15) {
		return -1;
	}
	return (long long)(v * (double)unit);
}
