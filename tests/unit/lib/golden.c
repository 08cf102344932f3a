/* Helpers of the golden wire-bytes tests (see golden.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/lib/golden.h"

/* ---- bytes vs hex ---- */

/* Parses hex digits (whitespace ignored) into a malloc'd buffer (never NULL). */
unsigned char *hex_decode(const char *hex, size_t *len)
{
	unsigned char *p = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi = -1;
	assert_non_null(p);
	for (const char *c = hex; *c != '\0'; c++) {
		int v = 0;
		if (*c == ' ' || *c == '\n' || *c == '\t') {
			continue;
		}
		if (*c >= '0' && *c <= '9') {
			v = *c - '0';
		} else if (*c >= 'a' && *c <= 'f') {
			v = *c - 'a' + 10;
		} else {
			free(p);
			fail_msg("bad hex digit '%c' in a golden string", *c);
		}
		if (hi < 0) {
			hi = v;
		} else {
			p[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(p);
		fail_msg("odd number of hex digits in a golden string");
	}
	*len = n;
	return p;
}

/* Prints up to 32 bytes of p from offset at, as spaced hex. */
static void print_window(const char *label, const unsigned char *p, size_t len, size_t at)
{
	char line[32 * 3 + 1];
	size_t k = 0;
	for (size_t i = at; i < len && i < at + 32; i++) {
		k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x ", p[i]);
	}
	line[k] = '\0';
	print_error("  %s @%zu: %s\n", label, at, line);
}

/* Compares got with the golden hex; on a difference prints the first
 * differing offset, both sides around it, and got as a C literal. A golden
 * changes only with the format itself, and then with PROTO_VERSION. */
bool bytes_match_hex(const char *what, const void *got_, size_t got_len, const char *hex)
{
	const unsigned char *got = got_;
	size_t want_len;
	unsigned char *want = hex_decode(hex, &want_len);
	size_t off = 0;
	while (off < want_len && off < got_len && want[off] == got[off]) {
		off++;
	}
	bool same = want_len == got_len && off == want_len;
	if (!same) {
		size_t at = off & ~(size_t)15;
		print_error("%s: golden mismatch: expected %zu bytes, got %zu; first difference at offset %zu\n", what,
		            want_len, got_len, off);
		print_window("expected", want, want_len, at);
		print_window("got     ", got, got_len, at);
		print_error("  got, as a literal:\n");
		for (size_t i = 0; i < got_len; i += 32) {
			char line[64 + 1];
			size_t k = 0;
			for (size_t j = i; j < got_len && j < i + 32; j++) {
				k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x", got[j]);
			}
			line[k] = '\0';
			print_error("\t\"%s\"\n", line);
		}
	}
	free(want);
	return same;
}


/* ---- field by field equality of decoded values ---- */

/* An encoder packs a NULL string as "", so "" is what decodes. */
void str_eq(const char *want, const char *got, const char *field)
{
	if (want == NULL) {
		want = "";
	}
	if (got == NULL || strcmp(want, got) != 0) {
		fail_msg("decoded %s: expected \"%s\", got %s%s%s", field, want, got != NULL ? "\"" : "",
		         got != NULL ? got : "NULL", got != NULL ? "\"" : "");
	}
}


void assert_strs_eq(const char *const *want, uint32_t n_want, const char *const *got, uint32_t n_got)
{
	assert_int_equal(n_got, n_want);
	for (uint32_t i = 0; i < n_want; i++) {
		assert_str_eq(want[i], got[i]);
	}
}

/* ---- what a case allocates, released by its teardown even when an assertion fails ---- */

struct golden_held held;

int release_held(void **state)
{
	(void)state;
	proto_buf_free(&held.enc);
	free(held.golden);
	for (size_t i = 0; i < N(held.payload); i++) {
		free(held.payload[i]);
	}
	proto_cmd_free(&held.cmd);
	proto_msg_free(&held.msg);
	proto_batch_free(&held.batch);
	memset(&held, 0, sizeof(held));
	return 0;
}

/* ---- one cmocka test per case ---- */

static struct CMUnitTest tests[GOLDEN_MAX_CASES];
static char names[GOLDEN_MAX_CASES][64];
static size_t n_tests;

void golden_add(const char *kind, const char *name, CMUnitTestFunction f, const void *k)
{
	assert_true(n_tests < GOLDEN_MAX_CASES);
	snprintf(names[n_tests], sizeof(names[n_tests]), "%s %s", kind, name);
	tests[n_tests] = (struct CMUnitTest){
		.name = names[n_tests], .test_func = f, .teardown_func = release_held, .initial_state = (void *)k};
	n_tests++;
}

int golden_run(void)
{
	return _cmocka_run_group_tests("golden", tests, n_tests, NULL, NULL);
}
