/* Credentials at rest: libsodium secretbox (XSalsa20-Poly1305) under a key
 * from configuration, as text "v1:" + base64(nonce || ciphertext). */
#ifndef SHIPLOG_LIB_SECRET_H
#define SHIPLOG_LIB_SECRET_H

#include <stddef.h>

#define SECRET_KEY_BYTES 32
#define SECRET_PREFIX "v1:"                   /* format version of sealed strings */
#define SECRET_KEY_CONTEXT "shiplog-secret-v1" /* BLAKE2b key for passphrases */

/* Calls sodium_init once (thread-safe); 0, or -1 if libsodium cannot start.
 * The other functions call it themselves, so calling it early is optional. */
int secret_init(void);

/* Derives key from a configuration string, used byte for byte:
 * - 44 characters of standard padded base64 decoding to 32 bytes: those bytes;
 * - 64 hex characters (either case): those 32 bytes;
 * - any other non-empty string is a passphrase: key = BLAKE2b-256 of it,
 *   keyed with SECRET_KEY_CONTEXT (crypto_generichash). This is a fast hash,
 *   not a password KDF: use a long random passphrase.
 * Returns 0, or -1 for NULL or "" (or if libsodium cannot start). */
int secret_key_from_config(const char *text, unsigned char key[SECRET_KEY_BYTES]);

/* Encrypts plain[0..len) under key with a fresh random nonce. On success *out
 * is a malloc'd NUL-terminated "v1:<base64>" string the caller frees; returns
 * 0, or -1 (out of memory, len too large, libsodium not starting) with *out
 * set to NULL. */
int secret_seal(const unsigned char key[SECRET_KEY_BYTES], const void *plain, size_t len, char **out);

/* Decrypts a string made by secret_seal. On success *plain is malloc'd (the
 * caller frees it; it is NUL-terminated past *len bytes) and 0 is returned.
 * Returns -1 with *plain = NULL and *len = 0 on a wrong key, tampering,
 * truncation, a missing "v1:" prefix or invalid base64. */
int secret_open(const unsigned char key[SECRET_KEY_BYTES], const char *sealed, void **plain, size_t *len);

/* Decodes standard base64 (whitespace ignored) into malloc'd memory, NUL
 * terminated (len excludes it); -1 if malformed or out of memory. */
int secret_base64_decode(const char *b64, void **out, size_t *len);

/* HMAC-SHA256 of msg under key, as 64 lowercase hex characters + NUL. */
void secret_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len, char out[65]);

/* n random bytes from the system's generator (libsodium's randombytes). */
void secret_random(void *buf, size_t n);
/* n_bytes random bytes as unpadded base64url into out (cap bytes, at least
 * 4 * n_bytes / 3 + 2): tokens, ids, API keys. */
void secret_random_text(char *out, size_t cap, size_t n_bytes);
/* SHA-256 of p[0..n) as 64 lowercase hex characters + NUL. */
void secret_sha256_hex(const void *p, size_t n, char out[65]);
/* Bytes encoded as unpadded base64url into out (cap bytes); -1 if too small. */
int secret_base64url(const void *p, size_t n, char *out, size_t cap);
/* 1 if a[0..n) equals b[0..n), in time that does not depend on where they differ. */
int secret_equal(const void *a, const void *b, size_t n);
/* Overwrites n bytes at p with zeros in a way the compiler keeps (secrets
 * leaving memory). */
void secret_wipe(void *p, size_t n);

#endif
