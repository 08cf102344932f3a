/* secretbox sealing of credentials. A sealed string is
 *
 *   "v1:" base64_original( nonce[24] || MAC[16] || ciphertext[len] )
 *
 * The nonce is random per seal (XSalsa20's 192-bit nonce makes collisions
 * negligible), so sealing the same value twice gives different strings. */
#include "lib/secret.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_B64_VARIANT sodium_base64_VARIANT_ORIGINAL
#define SECRET_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

static pthread_once_t secret_once = PTHREAD_ONCE_INIT;
static int secret_init_rc = -1;

/* Runs once: sodium_init returns 1 when already initialized elsewhere. */
static void secretInitOnce(void)
{
	secret_init_rc = sodium_init() < 0 ? -1 : 0;
}

int secret_init(void)
{
	if (pthread_once(&secret_once, secretInitOnce) != 0) {
		return -1;
	}
	return secret_init_rc;
}

/* Tries text as exactly 32 bytes in base64 (44 chars) or hex (64 chars). */
static int secretKeyDecode(const char *text, size_t n, unsigned char key[SECRET_KEY_BYTES])
{
	size_t bin_len = 0;
	if (n == sodium_base64_ENCODED_LEN(SECRET_KEY_BYTES, SECRET_B64_VARIANT) - 1 &&
	    sodium_base642bin(key, SECRET_KEY_BYTES, text, n, NULL, &bin_len, NULL, SECRET_B64_VARIANT) == 0 &&
	    bin_len == SECRET_KEY_BYTES) {
		return 0;
	}
	if (n == 2 * SECRET_KEY_BYTES && sodium_hex2bin(key, SECRET_KEY_BYTES, text, n, NULL, &bin_len, NULL) == 0 &&
	    bin_len == SECRET_KEY_BYTES) {
		return 0;
	}
	return -1;
}

int secret_key_from_config(const char *text, unsigned char key[SECRET_KEY_BYTES])
{
	if (text == NULL || text[0] == '\0' || secret_init() != 0) {
		return -1;
	}
	size_t n = strlen(text);
	if (secretKeyDecode(text, n, key) == 0) {
		return 0;
	}
	/* A passphrase. */
	crypto_generichash(key, SECRET_KEY_BYTES, (const unsigned char *)text, n,
	                   (const unsigned char *)SECRET_KEY_CONTEXT, strlen(SECRET_KEY_CONTEXT));
	return 0;
}

int secret_seal(const unsigned char key[SECRET_KEY_BYTES], const void *plain, size_t len, char **out)
{
	*out = NULL;
	if (secret_init() != 0 || len > (SIZE_MAX / 4 * 3) - SECRET_OVERHEAD - 64) {
		return -1;
	}
	size_t box_len = SECRET_OVERHEAD + len;
	unsigned char *box = malloc(box_len);
	if (box == NULL) {
		return -1;
	}
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, len, box, key);

	size_t prefix = strlen(SECRET_PREFIX);
	size_t b64_cap = sodium_base64_ENCODED_LEN(box_len, SECRET_B64_VARIANT);
	char *text = malloc(prefix + b64_cap);
	if (text != NULL) {
		memcpy(text, SECRET_PREFIX, prefix);
		sodium_bin2base64(text + prefix, b64_cap, box, box_len, SECRET_B64_VARIANT);
	}
	free(box);
	*out = text;
	return text != NULL ? 0 : -1;
}

/* Decodes the base64 after the prefix into *box / *box_len (malloc'd). */
static int secretBoxDecode(const char *b64, unsigned char **box, size_t *box_len)
{
	size_t b64_len = strlen(b64);
	size_t cap = b64_len / 4 * 3 + 3;
	*box = malloc(cap);
	if (*box == NULL) {
		return -1;
	}
	if (sodium_base642bin(*box, cap, b64, b64_len, NULL, box_len, NULL, SECRET_B64_VARIANT) != 0 ||
	    *box_len < SECRET_OVERHEAD) {
		free(*box);
		*box = NULL;
		return -1;
	}
	return 0;
}

int secret_open(const unsigned char key[SECRET_KEY_BYTES], const char *sealed, void **plain, size_t *len)
{
	unsigned char *box;
	size_t box_len;
	size_t prefix = strlen(SECRET_PREFIX);

	*plain = NULL;
	*len = 0;
	if (secret_init() != 0 || sealed == NULL || strncmp(sealed, SECRET_PREFIX, prefix) != 0 ||
	    secretBoxDecode(sealed + prefix, &box, &box_len) != 0) {
		return -1;
	}
	size_t plain_len = box_len - SECRET_OVERHEAD;
	unsigned char *text = malloc(plain_len + 1);
	if (text == NULL ||
	    crypto_secretbox_open_easy(text, box + crypto_secretbox_NONCEBYTES, box_len - crypto_secretbox_NONCEBYTES,
	                               box, key) != 0) {
		free(text);
		free(box);
		return -1;
	}
	free(box);
	text[plain_len] = '\0';
	*plain = text;
	*len = plain_len;
	return 0;
}

int secret_base64_decode(const char *b64, void **out, size_t *len)
{
	size_t b64_len = strlen(b64);
	size_t cap = b64_len / 4 * 3 + 3;
	unsigned char *bin = malloc(cap + 1);
	if (bin == NULL) {
		return -1;
	}
	if (sodium_base642bin(bin, cap, b64, b64_len, "\n\r \t", len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(bin);
		return -1;
	}
	bin[*len] = '\0';
	*out = bin;
	return 0;
}

void secret_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len, char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	secret_init();
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

void secret_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

void secret_random(void *buf, size_t n)
{
	secret_init();
	randombytes_buf(buf, n);
}

int secret_base64url(const void *p, size_t n, char *out, size_t cap)
{
	if (secret_init() != 0 || cap < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
		return -1;
	}
	sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

void secret_random_text(char *out, size_t cap, size_t n_bytes)
{
	unsigned char buf[64];
	if (n_bytes > sizeof(buf)) {
		n_bytes = sizeof(buf);
	}
	secret_random(buf, n_bytes);
	if (secret_base64url(buf, n_bytes, out, cap) != 0 && cap > 0) {
		out[0] = '\0';
	}
	secret_wipe(buf, sizeof(buf));
}

void secret_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	secret_init();
	crypto_hash_sha256(h, p, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

int secret_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}
