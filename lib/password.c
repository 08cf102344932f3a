/* Argon2id password hashes (lib/password.h). */
#include <sodium.h>
#include <string.h>

#include "lib/password.h"
#include "lib/secret.h"

int password_hash(const char *pw, const struct password_cost *cost, char out[PASSWORD_HASH_MAX])
{
	if (secret_init() != 0 || cost->ops < crypto_pwhash_OPSLIMIT_MIN || cost->mem_bytes < crypto_pwhash_MEMLIMIT_MIN) {
		return -1;
	}
	return crypto_pwhash_str(out, pw, strlen(pw), cost->ops, cost->mem_bytes) == 0 ? 0 : -1;
}

int password_verify(const char *hash, const char *pw)
{
	if (secret_init() != 0 || strncmp(hash, "$argon2id$", 10) != 0) {
		return -1; /* "!" (no password) and anything else never match */
	}
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 ? 0 : -1;
}
