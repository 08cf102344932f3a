/* node/secret: secretbox sealing of credentials and keys from configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/secret.h"

/* 32 bytes 0x00..0x1f, as hex and as base64. */
#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

struct fixture {
	unsigned char key[SECRET_KEY_BYTES];
	unsigned char other[SECRET_KEY_BYTES];
	char *sealed;
	void *plain;
	size_t len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(secret_init(), 0);
	assert_int_equal(secret_key_from_config(KEY_HEX, f->key), 0);
	assert_int_equal(secret_key_from_config("another passphrase", f->other), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->sealed);
	free(f->plain);
	free(f);
	return 0;
}

/* Seals text with f->key into f->sealed. */
static void seal(struct fixture *f, const char *text)
{
	free(f->sealed);
	assert_int_equal(secret_seal(f->key, text, strlen(text), &f->sealed), 0);
	assert_non_null(f->sealed);
}

/* Opens sealed with key; on failure checks that nothing is returned. */
static int open_with(struct fixture *f, const unsigned char *key, const char *sealed)
{
	free(f->plain);
	int rv = secret_open(key, sealed, &f->plain, &f->len);
	if (rv != 0) {
		assert_null(f->plain);
		assert_int_equal(f->len, 0);
	}
	return rv;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *token = "eyJhbGciOiJSUzI1NiJ9.payload.signature";
	seal(f, token);
	assert_memory_equal(f->sealed, "v1:", 3);
	/* nonce 24 + MAC 16 + text, in base64 */
	assert_int_equal(strlen(f->sealed), 3 + sodium_base64_ENCODED_LEN(40 + strlen(token),
	                                                                  sodium_base64_VARIANT_ORIGINAL) - 1);
	assert_int_equal(open_with(f, f->key, f->sealed), 0);
	assert_int_equal(f->len, strlen(token));
	assert_string_equal(f->plain, token);

	/* Empty and binary values too. */
	free(f->sealed);
	assert_int_equal(secret_seal(f->key, "", 0, &f->sealed), 0);
	assert_int_equal(open_with(f, f->key, f->sealed), 0);
	assert_int_equal(f->len, 0);
	assert_string_equal(f->plain, "");
	const unsigned char bin[] = {0, 1, 0xff, 0, 7};
	free(f->sealed);
	assert_int_equal(secret_seal(f->key, bin, sizeof(bin), &f->sealed), 0);
	assert_int_equal(open_with(f, f->key, f->sealed), 0);
	assert_int_equal(f->len, sizeof(bin));
	assert_memory_equal(f->plain, bin, sizeof(bin));
	assert_int_equal(((char *)f->plain)[sizeof(bin)], '\0');
}

static void test_wrong_key_fails(void **state)
{
	struct fixture *f = *state;
	seal(f, "client-key-pem");
	assert_int_equal(open_with(f, f->other, f->sealed), -1);
	assert_int_equal(open_with(f, f->key, f->sealed), 0);
}

static void test_flipped_byte_fails(void **state)
{
	struct fixture *f = *state;
	seal(f, "a credential of some length");
	/* Flip one bit of every byte of the payload in turn: nonce, MAC, ciphertext. */
	unsigned char box[128];
	size_t box_len;
	assert_int_equal(sodium_base642bin(box, sizeof(box), f->sealed + 3, strlen(f->sealed + 3), NULL, &box_len, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	for (size_t i = 0; i < box_len; i++) {
		char text[256];
		box[i] ^= 0x01;
		memcpy(text, "v1:", 3);
		sodium_bin2base64(text + 3, sizeof(text) - 3, box, box_len, sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(open_with(f, f->key, text), -1);
		box[i] ^= 0x01;
	}
	/* A changed base64 character. */
	char *copy = strdup(f->sealed);
	copy[10] = copy[10] == 'A' ? 'B' : 'A';
	assert_int_equal(open_with(f, f->key, copy), -1);
	free(copy);
}

static void test_truncated_and_malformed_fail(void **state)
{
	struct fixture *f = *state;
	seal(f, "token");
	char *copy = strdup(f->sealed);
	for (size_t n = strlen(copy); n-- > 0;) {
		copy[n] = '\0';
		assert_int_equal(open_with(f, f->key, copy), -1);
	}
	free(copy);
	/* Whole base64 groups but shorter than nonce + MAC. */
	assert_int_equal(open_with(f, f->key, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), -1);
	assert_int_equal(open_with(f, f->key, f->sealed + 3), -1); /* no prefix */
	assert_int_equal(open_with(f, f->key, "v2:AAAA"), -1);
	assert_int_equal(open_with(f, f->key, "v1:!!!!"), -1);
	assert_int_equal(open_with(f, f->key, NULL), -1);
	char with_newline[512];
	snprintf(with_newline, sizeof(with_newline), "%s\n", f->sealed);
	assert_int_equal(open_with(f, f->key, with_newline), -1);
}

static void test_random_nonce(void **state)
{
	struct fixture *f = *state;
	char *first;
	seal(f, "same value");
	first = f->sealed;
	f->sealed = NULL;
	seal(f, "same value");
	assert_string_not_equal(first, f->sealed);
	assert_memory_not_equal(first + 3, f->sealed + 3, 32); /* the nonce (first 24 bytes) */
	assert_int_equal(open_with(f, f->key, first), 0);
	assert_string_equal(f->plain, "same value");
	free(first);
}

static void test_key_forms(void **state)
{
	(void)state;
	unsigned char expect[SECRET_KEY_BYTES], key[SECRET_KEY_BYTES];
	for (int i = 0; i < SECRET_KEY_BYTES; i++) {
		expect[i] = (unsigned char)i;
	}
	assert_int_equal(secret_key_from_config(KEY_HEX, key), 0);
	assert_memory_equal(key, expect, sizeof(key));
	assert_int_equal(secret_key_from_config(KEY_B64, key), 0);
	assert_memory_equal(key, expect, sizeof(key));
	assert_int_equal(
		secret_key_from_config("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", key), 0);
	assert_memory_equal(key, expect, sizeof(key));

	/* A passphrase is BLAKE2b-256 keyed with the context string. */
	unsigned char hashed[SECRET_KEY_BYTES];
	const char *pass = "correct horse battery staple";
	crypto_generichash(hashed, sizeof(hashed), (const unsigned char *)pass, strlen(pass),
	                   (const unsigned char *)"shiplog-secret-v1", 17);
	assert_int_equal(secret_key_from_config(pass, key), 0);
	assert_memory_equal(key, hashed, sizeof(key));

	/* Near misses of the raw forms are passphrases, not errors. */
	const char *near[] = {
		KEY_HEX "0",                                                        /* 65 hex */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", /* not hex */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",                      /* 43 chars */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_=",                     /* url-safe alphabet */
		" " KEY_HEX,
	};
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
		assert_int_equal(secret_key_from_config(near[i], key), 0);
		crypto_generichash(hashed, sizeof(hashed), (const unsigned char *)near[i], strlen(near[i]),
		                   (const unsigned char *)"shiplog-secret-v1", 17);
		assert_memory_equal(key, hashed, sizeof(key));
	}
	assert_memory_not_equal(key, expect, sizeof(key));

	assert_int_equal(secret_key_from_config("", key), -1);
	assert_int_equal(secret_key_from_config(NULL, key), -1);
}

static void test_init_twice(void **state)
{
	(void)state;
	assert_int_equal(secret_init(), 0);
	assert_int_equal(secret_init(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_malformed_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_nonce, setup, teardown),
		cmocka_unit_test(test_key_forms),
		cmocka_unit_test(test_init_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
