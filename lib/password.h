/* Password hashes: Argon2id through libsodium's crypto_pwhash_str, with the
 * cost in the hash string itself (so raising it later keeps old hashes
 * verifiable). Both calls are slow on purpose (tens of ms, tens of MiB):
 * run them on a worker thread, never on an event loop. */
#ifndef SHIPLOG_LIB_PASSWORD_H
#define SHIPLOG_LIB_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

struct password_cost {
	unsigned long long ops; /* passes (libsodium's opslimit), at least 1 */
	size_t mem_bytes;       /* memory per hash (memlimit), at least 8 KiB */
};

/* Hashes pw into out; 0, or -1 (out of memory, cost out of range). */
int password_hash(const char *pw, const struct password_cost *cost, char out[PASSWORD_HASH_MAX]);

/* 0 if pw matches hash (made by password_hash), else -1. */
int password_verify(const char *hash, const char *pw);

#endif
