/* Private to gateway/: a user as the handlers copy it out of the store
 * (users.c), for login.c and users.c. */
#ifndef SHIPLOG_GATEWAY_USERS_H
#define SHIPLOG_GATEWAY_USERS_H

#include "gateway/internal.h"
#include "lib/password.h"

struct gw_user {
	char id[GW_ID_MAX];
	char username[65];
	char email[255];
	char full_name[201];
	char role[16];
	char client[PROTO_MAX_STR + 1];
	char pw_hash[PASSWORD_HASH_MAX];
	bool active;
	int64_t created_ms, updated_ms;
	bool found;
};

/* Copies the user with id key (by_name: username or email key) into out;
 * PROTO_ENOTFOUND if there is none. */
int gw_user_load(struct gw *g, const char *key, bool by_name, struct gw_user *out);
/* The user as the API shows it (never its hash). */
json_t *gw_user_json(const struct gw_user *u);
/* Answers 400 and returns false unless pw is an acceptable password. */
bool gw_password_ok(struct gw_req *gr, const char *field, const char *pw);

#endif
