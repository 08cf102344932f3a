/* Reads of the replicated identity state: users, managed API keys, JWT
 * signing keys, login sessions and the audit log (DESIGN.md
 * "Authentication"). Same rules as store.h: callbacks run inside the read
 * transaction and the strings they get are valid only during the call. */
#ifndef SHIPLOG_STORE_IDENTITY_H
#define SHIPLOG_STORE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct store_user {
	const struct proto_user *u; /* as last put; pw_hash is the stored hash */
	int64_t created_ms, updated_ms;
	uint64_t pw_index; /* Raft index of its last password set: sessions started before it are over */
};
typedef int (*store_user_cb)(void *data, const struct store_user *u);
/* One user by id; PROTO_ENOTFOUND if absent. */
int store_user_get(struct store_read *rd, const char *id, store_user_cb cb, void *data);
/* One user by username or email (case-insensitive); PROTO_ENOTFOUND. */
int store_user_find(struct store_read *rd, const char *name, store_user_cb cb, void *data);
/* Every user, by id. */
int store_users_each(struct store_read *rd, store_user_cb cb, void *data);
/* True once any user was ever created (the bootstrap admin is made once). */
bool store_users_made(struct store_read *rd);
/* Number of users. */
uint64_t store_users_count(struct store_read *rd);

struct store_apikey {
	const struct proto_apikey *k;
	int64_t created_ms;
	int64_t last_used_ms; /* 0: never (as batched by KEYS_USED) */
};
typedef int (*store_apikey_cb)(void *data, const struct store_apikey *k);
int store_apikey_get(struct store_read *rd, const char *id, store_apikey_cb cb, void *data);
/* The key whose SHA-256 is hash_hex (64 lower-case hex); PROTO_ENOTFOUND. */
int store_apikey_by_hash(struct store_read *rd, const char *hash_hex, store_apikey_cb cb, void *data);
/* Every key, by id (ids are time-ordered). */
int store_apikeys_each(struct store_read *rd, store_apikey_cb cb, void *data);

struct store_signing_key {
	const char *kid;
	const char *sealed;
	int64_t created_ms;
	int64_t retire_ms; /* 0: the key that signs; else it verifies until then */
};
typedef int (*store_signing_key_cb)(void *data, const struct store_signing_key *k);
int store_signing_keys_each(struct store_read *rd, store_signing_key_cb cb, void *data);

#define STORE_ID_MAX 128
struct store_session {
	char user_id[STORE_ID_MAX];
	char jti[STORE_ID_MAX];    /* its current refresh token */
	int64_t expires_ms;        /* of that refresh token */
	int64_t created_ms;
	uint64_t started_index;    /* the Raft index of its START */
	bool revoked;
};
/* The session family; PROTO_ENOTFOUND if none. */
int store_session_get(struct store_read *rd, const char *family, struct store_session *out);

struct store_audit {
	uint64_t index, seq; /* where it sits (the cursor of the next page) */
	int64_t ts_ms;
	const char *type;    /* the command type's name, e.g. "user.put" */
	const char *target;  /* what it acted on (an id, a client/env) */
	const char *actor, *node, *addr, *request_id;
	int32_t code;        /* PROTO_OK, or why the state machine refused it */
};
typedef int (*store_audit_cb)(void *data, const struct store_audit *e);
/* Audit rows newest first, strictly before (before_index, before_seq)
 * (UINT64_MAX, 0 for the newest). */
int store_audit_each(struct store_read *rd, uint64_t before_index, uint64_t before_seq, store_audit_cb cb, void *data);
/* True if PRUNE_IDENTITY with these bounds would delete something (so the
 * retention duty proposes it only then). */
bool store_identity_prunable(struct store_read *rd, const struct proto_prune_identity *p);
/* The name audit rows give a command type ("" if none). */
const char *store_cmd_name(uint32_t type);

#endif
