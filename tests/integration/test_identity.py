"""Identity on real nodes: the bootstrap admin, users and roles, JWT logins
that work on every node, logout and refresh-token rotation replicated
through Raft, managed API keys with scopes (read, client, badge), keys of
cluster.toml written as hashes, the audit log, and no secret in clear on
disk or in the logs."""
import datetime as _dt
import hashlib
import time

import pytest

import harness as H
from conftest import module_cluster

PW = "correct-horse-battery"


def configure(c):
    hashed = "sha256:" + hashlib.sha256(b"hashed-dev-key").hexdigest()
    c.client_keys = dict(H.CLIENT_KEYS, **{H.DEV_CLIENT: [H.DEV_KEY, hashed]})
    c.auth = {"last_used_flush": "1s"}
    c.api["cors_origins"] = ["https://dash.example.com"]


@pytest.fixture(scope="module")
def idc(tmp_path_factory):
    yield from module_cluster(tmp_path_factory, "identity", configure)


def login(c, node, username, password, form=False, expect=200):
    kw = {"data": {"username": username, "password": password}} if form else \
        {"json": {"username": username, "password": password}}
    r = c.post(node, "/api/v1/auth/login", key=None, **kw)
    assert r.status_code == expect, H.show(r)
    return r.json()


def wait_login(c, node, username, password):
    """Logs in once the user (made through Raft, maybe on another node) is here."""
    out = {}

    def ok():
        r = c.post(node, "/api/v1/auth/login", key=None, json={"username": username, "password": password})
        out["r"] = r
        return r.status_code == 200
    H.wait_until(ok, 15, what="login of " + username)
    return out["r"].json()


def make_user(c, node, username, role, client=None, password=PW):
    body = {"username": username, "password": password, "role": role, "email": f"{username}@example.com"}
    if client:
        body["client_name"] = client
    r = c.post(node, "/api/v1/users", json=body)
    assert r.status_code == 201, H.show(r)
    assert "password" not in r.text and "argon2" not in r.text
    return r.json()


def make_key(c, node, scope, key=H.ADMIN_KEY, **extra):
    r = c.post(node, "/api/v1/api-keys", key=key, json=dict({"name": f"k-{scope}", "scope": scope}, **extra))
    assert r.status_code == 201, H.show(r)
    k = r.json()
    H.wait_until(lambda: all(c.get(n, "/api/v1/auth/me", key=k["key"]).status_code != 401 for n in c.names), 10,
                 what="the key known on every node")
    return k


COMP = ("web", "Deployment", "shop", "app")
BADGE_PATH = "{client}/prod/Deployment/shop/app"


def write(c, node, key, client, tag):
    """PUT /api/collect of one release of COMP; the response."""
    return c.collect(node, *COMP, H.release_body(tag, client=client, env="prod"), key=key)


def test_bootstrap_admin_logs_in_and_the_token_works_on_every_node(idc):
    t = wait_login(idc, "n1", "admin", H.ADMIN_PASSWORD)
    assert t["token_type"] == "bearer" and t["expires_in"] == 1800
    assert t["user"]["role"] == "admin" and t["user"]["username"] == "admin"
    for n in idc.names:
        r = idc.get(n, "/api/v1/auth/me", key=t["access_token"])
        assert r.status_code == 200, H.show(r)
        assert r.json()["role"] == "admin" and r.json()["auth"] == "token"
    # form-encoded, as OAuth2 password forms send it; by email too
    f = login(idc, "n2", "admin", H.ADMIN_PASSWORD, form=True)
    assert f["access_token"] != t["access_token"]
    H.assert_error(idc.post("n1", "/api/v1/auth/login", key=None, json={"username": "admin", "password": "nope-nope"}),
                   401, "UNAUTHORIZED")
    H.assert_error(idc.post("n1", "/api/v1/auth/login", key=None, json={"username": "ghost", "password": "whatever1"}),
                   401, "UNAUTHORIZED")
    H.assert_error(idc.post("n1", "/api/v1/auth/login", key=None, json={"username": "admin"}), 400, "VALIDATION_ERROR")
    H.assert_error(idc.post("n1", "/api/v1/auth/login", key=None, data="username=%zz&password=x",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "VALIDATION_ERROR")
    H.assert_error(idc.get("n1", "/api/v1/auth/me", key=t["access_token"][:-3] + "abc"), 401, "UNAUTHORIZED")


def test_roles_decide_what_a_user_may_do(idc):
    make_user(idc, "n1", "vera", "viewer")
    make_user(idc, "n1", "otto", "operator")
    make_user(idc, "n1", "pia", "viewer", client=H.PROD_CLIENT)
    viewer = wait_login(idc, "n2", "vera", PW)["access_token"]
    operator = wait_login(idc, "n3", "otto", PW)["access_token"]
    scoped = wait_login(idc, "n1", "pia", PW)["access_token"]
    # the operator writes, the viewer reads but does not write
    assert write(idc, "n1", operator, H.PROD_CLIENT, "v1").status_code == 200
    H.assert_error(write(idc, "n1", viewer, H.PROD_CLIENT, "v1"), 403, "FORBIDDEN")
    assert idc.get("n1", "/api/releases/current", key=viewer,
                   params={"client_name": H.PROD_CLIENT, "env_name": "prod"}).status_code == 200
    # users are an admin's; topology is not for a client-scoped user
    H.assert_error(idc.get("n1", "/api/v1/users", key=operator), 403, "FORBIDDEN")
    H.assert_error(idc.get("n1", "/api/v1/cluster", key=scoped), 403, "FORBIDDEN")
    assert idc.get("n1", "/api/v1/cluster", key=viewer).status_code == 200
    # a user limited to one client reads it, and not another
    assert idc.get("n2", "/api/releases/current", key=scoped,
                   params={"client_name": H.PROD_CLIENT, "env_name": "prod"}).status_code == 200
    H.assert_error(idc.get("n2", "/api/releases/current", key=scoped,
                           params={"client_name": H.DEV_CLIENT, "env_name": "prod"}), 403, "FORBIDDEN")
    # a role change applies at once to tokens already issued
    uid = [u for u in idc.get("n1", "/api/v1/users").json()["users"] if u["username"] == "vera"][0]["id"]
    r = idc.put("n1", f"/api/v1/users/{uid}", json={"role": "operator"})
    assert r.status_code == 200 and r.json()["role"] == "operator", H.show(r)
    H.wait_until(lambda: write(idc, "n2", viewer, H.PROD_CLIENT, "v2").status_code == 200, 10,
                 what="the promoted user writes")
    # a disabled user's tokens stop working
    assert idc.put("n1", f"/api/v1/users/{uid}", json={"is_active": False}).status_code == 200
    H.wait_until(lambda: idc.get("n3", "/api/v1/auth/me", key=viewer).status_code == 401, 10, what="disabled")
    # duplicates and bad input
    H.assert_error(idc.post("n1", "/api/v1/users", json={"username": "otto", "password": PW, "role": "viewer"}),
                   409, "CONFLICT")
    H.assert_error(idc.post("n1", "/api/v1/users", json={"username": "x", "password": "short", "role": "viewer"}),
                   400, "VALIDATION_ERROR")
    H.assert_error(idc.post("n1", "/api/v1/users", json={"username": "y", "password": PW, "role": "god"}),
                   400, "VALIDATION_ERROR")


def test_own_profile_and_password(idc):
    make_user(idc, "n1", "sam", "viewer")
    t = wait_login(idc, "n1", "sam", PW)["access_token"]
    r = idc.put("n2", "/api/v1/users/me", key=t, json={"full_name": "Sam Doe"})
    assert r.status_code == 200 and r.json()["full_name"] == "Sam Doe", H.show(r)
    H.assert_error(idc.put("n2", "/api/v1/users/me", key=t, json={"role": "admin"}), 403, "FORBIDDEN")
    H.assert_error(idc.put("n2", "/api/v1/users/me", json={"full_name": "x"}), 403, "FORBIDDEN")  # an API key
    H.assert_error(idc.post("n1", "/api/v1/users/me/password", key=t,
                            json={"current_password": "wrong-one!", "new_password": "another-password"}),
                   401, "UNAUTHORIZED")
    r = idc.post("n1", "/api/v1/users/me/password", key=t,
                 json={"current_password": PW, "new_password": "another-password"})
    assert r.status_code == 200, H.show(r)
    for n in idc.names:  # a new password ends the sessions signed in with the old one
        H.wait_until(lambda: idc.get(n, "/api/v1/auth/me", key=t).status_code == 401, 10, what=f"old session on {n}")
    H.wait_until(lambda: idc.post("n3", "/api/v1/auth/login", key=None,
                                  json={"username": "sam", "password": "another-password"}).status_code == 200,
                 10, what="the new password")
    H.assert_error(idc.post("n3", "/api/v1/auth/login", key=None, json={"username": "sam", "password": PW}),
                   401, "UNAUTHORIZED")


def test_logout_on_one_node_ends_the_token_on_all(idc):
    t = wait_login(idc, "n1", "admin", H.ADMIN_PASSWORD)
    tok = t["access_token"]
    assert all(idc.get(n, "/api/v1/auth/me", key=tok).status_code == 200 for n in idc.names)
    r = idc.post("n2", "/api/v1/auth/logout", key=tok)
    assert r.status_code == 200, H.show(r)
    index = r.headers["X-Shiplog-Index"]
    for n in idc.names:  # a read that waits for the logout's index is refused on every node
        r = idc.get(n, "/api/v1/clusters", key=tok, params={"index": index, "wait": "5s"})
        H.assert_error(r, 401, "UNAUTHORIZED")
        H.assert_error(idc.get(n, "/api/v1/auth/me", key=tok), 401, "UNAUTHORIZED")
    H.assert_error(idc.post("n3", "/api/v1/auth/refresh", key=None, json={"refresh_token": t["refresh_token"]}),
                   401, "UNAUTHORIZED")
    # an API key has no session to end
    H.assert_error(idc.post("n1", "/api/v1/auth/logout"), 403, "FORBIDDEN")


def test_refresh_rotates_and_a_reused_token_revokes_the_family(idc):
    t1 = wait_login(idc, "n1", "admin", H.ADMIN_PASSWORD)
    r = idc.post("n2", "/api/v1/auth/refresh", key=None, json={"refresh_token": t1["refresh_token"]})
    assert r.status_code == 200, H.show(r)
    t2 = r.json()
    assert t2["refresh_token"] != t1["refresh_token"]
    assert idc.get("n3", "/api/v1/auth/me", key=t2["access_token"]).status_code == 200
    # the leader dies; rotation goes on through the new one
    idc.kill9(idc.leader())
    idc.wait_leader()
    live = [n for n in idc.names if idc.nodes[n].running()]

    def rotate(token):
        out = {}

        def ok():
            out["r"] = idc.post(live[0], "/api/v1/auth/refresh", key=None, json={"refresh_token": token})
            return out["r"].status_code != 503
        H.wait_until(ok, 15, what="refresh after failover")
        return out["r"]
    r = rotate(t2["refresh_token"])
    assert r.status_code == 200, H.show(r)
    t3 = r.json()
    # t2's refresh token again: reuse, and the whole family is revoked
    H.assert_error(rotate(t2["refresh_token"]), 401, "UNAUTHORIZED")
    H.assert_error(rotate(t3["refresh_token"]), 401, "UNAUTHORIZED")
    H.wait_until(lambda: idc.get(live[-1], "/api/v1/auth/me", key=t3["access_token"]).status_code == 401, 10,
                 what="the family's access token refused")
    for n in idc.names:
        if not idc.nodes[n].running():
            idc.start(n)
    H.assert_error(idc.post("n1", "/api/v1/auth/refresh", key=None, json={"refresh_token": t1["access_token"]}),
                   401, "UNAUTHORIZED")  # an access token is no refresh token


def test_api_keys_scopes_and_lifecycle(idc):
    read = make_key(idc, "n1", "read")
    wkey = make_key(idc, "n1", f"client:{H.PROD_CLIENT}")
    badge = make_key(idc, "n1", f"badge:{H.PROD_CLIENT}")
    for k in (read, wkey, badge):
        assert k["key"].startswith("shp_") and k["key_prefix"] == k["key"][:12]
    H.wait_until(lambda: write(idc, "n2", wkey["key"], H.PROD_CLIENT, "v7").status_code == 200, 10,
                 what="the client key writes")
    H.assert_error(write(idc, "n2", wkey["key"], H.DEV_CLIENT, "v7"), 403, "FORBIDDEN")
    H.assert_error(write(idc, "n3", read["key"], H.PROD_CLIENT, "v7"), 403, "FORBIDDEN")
    assert idc.get("n3", "/api/clients-environments", key=read["key"]).status_code == 200
    # a badge key works on badges only, and a bad key gets the same red badge as a forbidden one
    path = f"/badges/{badge['key']}/" + BADGE_PATH.format(client=H.PROD_CLIENT)
    H.wait_until(lambda: "v7" in idc.get("n1", path, key=None).text, 10, what="the badge shows the release")
    H.assert_error(idc.get("n1", "/api/clients-environments", key=badge["key"]), 403, "FORBIDDEN")
    wrong = idc.get("n1", path.replace(badge["key"], "shp_wrong"), key=None)
    other = idc.get("n1", path.replace(H.PROD_CLIENT, H.DEV_CLIENT), key=None)
    assert wrong.status_code == other.status_code == 200
    assert wrong.text == other.text
    # no escalation: a read key mints no write key; a client key nothing beyond its client
    H.assert_error(idc.post("n1", "/api/v1/api-keys", key=read["key"], json={"name": "x", "scope": "operator"}),
                   403, "FORBIDDEN")
    H.assert_error(idc.post("n1", "/api/v1/api-keys", key=wkey["key"],
                            json={"name": "x", "scope": f"read:{H.DEV_CLIENT}"}), 403, "FORBIDDEN")
    own = make_key(idc, "n1", f"badge:{H.PROD_CLIENT}", key=wkey["key"])
    # lists: paginated, the key never shown again, "last used" batched
    r = idc.get("n2", "/api/v1/api-keys", params={"limit": 2, "page": 1})
    assert r.status_code == 200, H.show(r)
    doc = r.json()
    assert doc["pagination"]["limit"] == 2 and doc["pagination"]["total"] >= 4
    assert doc["pagination"]["total_pages"] == (doc["pagination"]["total"] + 1) // 2
    assert all("key" not in k for k in doc["api_keys"])
    mine = idc.get("n2", "/api/v1/api-keys", key=wkey["key"]).json()["api_keys"]
    assert [k["id"] for k in mine] == [own["id"]]

    def used():
        for p in range(1, 10):
            for k in idc.get("n3", "/api/v1/api-keys", params={"limit": 100, "page": p}).json()["api_keys"]:
                if k["id"] == wkey["id"] and k["last_used"]:
                    return True
        return False
    H.wait_until(used, 15, what="last_used recorded")
    # revocation and expiry
    r = idc.request("n1", "DELETE", f"/api/v1/api-keys/{read['id']}")
    assert r.status_code == 200, H.show(r)
    H.wait_until(lambda: idc.get("n3", "/api/clients-environments", key=read["key"]).status_code == 401, 10,
                 what="revoked key refused")
    H.assert_error(idc.request("n1", "DELETE", f"/api/v1/api-keys/{read['id']}"), 404, "NOT_FOUND")
    H.assert_error(idc.request("n1", "DELETE", f"/api/v1/api-keys/{wkey['id']}", key=badge["key"]),
                   403, "FORBIDDEN")
    soon = make_key(idc, "n1", "read", expires_at=H.iso(_dt.datetime.fromtimestamp(time.time() + 3, _dt.timezone.utc)))
    H.wait_until(lambda: idc.get("n1", "/api/clients-environments", key=soon["key"]).status_code == 200, 5, what="fresh")
    H.wait_until(lambda: idc.get("n1", "/api/clients-environments", key=soon["key"]).status_code == 401, 10,
                 what="expired key refused")
    H.assert_error(idc.post("n1", "/api/v1/api-keys", json={"name": "x", "scope": "root"}), 400, "VALIDATION_ERROR")
    H.assert_error(idc.post("n1", "/api/v1/api-keys", json={"name": "x", "scope": "read",
                                                           "expires_at": "2001-01-01T00:00:00Z"}),
                   400, "VALIDATION_ERROR")


def test_idempotency_keys_belong_to_a_credential_and_a_request(idc):
    key = "idem-" + H.uid()
    body = H.release_body("i1", client=H.PROD_CLIENT, env="prod")
    first = idc.collect("n1", *COMP, body, idem=key)
    assert first.status_code == 200, H.show(first)
    again = idc.collect("n2", *COMP, body, idem=key)  # the same request: the first answer
    assert H.idx(again) == H.idx(first)
    idc.wait_all_applied(H.idx(first))
    other = dict(body, image_tag="i2")
    H.assert_error(idc.collect("n3", *COMP, other, idem=key), 422, "IDEMPOTENCY_KEY_REUSED")
    # another credential's key of the same name is its own
    theirs = idc.collect("n1", *COMP, body, idem=key, key=H.PROD_KEY)
    assert theirs.status_code == 200 and H.idx(theirs) != H.idx(first), H.show(theirs)


def test_a_key_lives_only_as_long_as_its_maker(idc):
    make_user(idc, "n1", "minter", "operator")
    t = wait_login(idc, "n1", "minter", PW)["access_token"]
    k = make_key(idc, "n1", "read", key=t)
    child = make_key(idc, "n1", f"badge:{H.PROD_CLIENT}", key=k["key"])  # made by a key made by the user
    # no scope: the caller's own reach, as the Container Engine seed sends it
    r = idc.post("n1", "/api/v1/api-keys", key=t, json={"name": "seed-style"})
    assert r.status_code == 201 and r.json()["scope"] == "operator", H.show(r)
    # a replay of a request that made a key cannot show that key again
    body = {"name": "once", "scope": "read"}
    first = idc.post("n1", "/api/v1/api-keys", json=body, headers={"Idempotency-Key": "mint-1"})
    assert first.status_code == 201
    H.assert_error(idc.post("n1", "/api/v1/api-keys", json=body, headers={"Idempotency-Key": "mint-1"}),
                   409, "CONFLICT")
    uid = idc.get("n1", "/api/v1/auth/me", key=t).json()["id"]
    assert idc.put("n1", f"/api/v1/users/{uid}", json={"is_active": False}).status_code == 200
    H.wait_until(lambda: idc.get("n2", "/api/clients-environments", key=k["key"]).status_code == 401, 10,
                 what="the disabled user's key refused")
    badge = f"/badges/{child['key']}/" + BADGE_PATH.format(client=H.PROD_CLIENT)
    assert "invalid" in idc.get("n2", badge, key=None).text


def test_config_keys_may_be_written_as_hashes(idc):
    assert idc.get("n1", "/api/clients-environments", key="hashed-dev-key").status_code == 200
    me = idc.get("n1", "/api/v1/auth/me", key="hashed-dev-key").json()
    assert me["client_name"] == H.DEV_CLIENT and me["role"] == "operator"
    H.assert_error(idc.get("n1", "/api/clients-environments", key="hashed-dev-key-not"), 401, "UNAUTHORIZED")
    H.assert_error(idc.get("n1", "/api/clients-environments",
                           key=hashlib.sha256(b"hashed-dev-key").hexdigest()), 401, "UNAUTHORIZED")


def test_audit_log_records_who_did_what_where(idc):
    t = wait_login(idc, "n3", "admin", H.ADMIN_PASSWORD)["access_token"]
    r = idc.post("n3", "/api/v1/users", key=t, json={"username": "audited", "password": PW, "role": "viewer"},
                 headers={"X-Request-Id": "audit-test-1"})
    assert r.status_code == 201, H.show(r)
    uid = r.json()["id"]

    def row():
        rows = idc.get("n1", "/api/v1/audit-logs", params={"type": "user.", "limit": 50}).json()["audit_logs"]
        return [x for x in rows if uid in x["target"]]
    H.wait_until(row, 10, what="the audit row")
    x = row()[0]
    assert x["type"] == "user.put" and x["node"] == "n3" and x["address"] == "127.0.0.1"
    assert x["actor"].startswith("user:") and x["result"] == "ok"
    me = idc.get("n3", "/api/v1/auth/me", key=t).json()
    assert x["actor"] == "user:" + me["id"]
    by_actor = idc.get("n1", "/api/v1/audit-logs", params={"actor": x["actor"]}).json()["audit_logs"]
    assert by_actor and all(y["actor"] == x["actor"] for y in by_actor)
    # a refused write is recorded too
    idc.post("n1", "/api/v1/users", json={"username": "audited", "password": PW, "role": "viewer"})
    H.wait_until(lambda: any(y["result"] != "ok" for y in row()) or
                 any(y["result"] != "ok" for y in idc.get("n1", "/api/v1/audit-logs",
                                                          params={"actor": "config:admin", "type": "user."}
                                                          ).json()["audit_logs"]), 10, what="the refused write")
    page = idc.get("n1", "/api/v1/audit-logs", params={"limit": 2}).json()
    assert len(page["audit_logs"]) == 2 and page["next"]
    page2 = idc.get("n1", "/api/v1/audit-logs", params={"limit": 2, "before": page["next"]}).json()
    assert page2["audit_logs"][0]["id"] != page["audit_logs"][0]["id"]
    H.assert_error(idc.get("n1", "/api/v1/audit-logs", key=H.PROD_KEY), 403, "FORBIDDEN")
    H.assert_error(idc.get("n1", "/api/v1/audit-logs", params={"before": "x"}), 400, "VALIDATION_ERROR")


def test_cors_answers_only_the_configured_origins(idc):
    ok = idc.request("n1", "OPTIONS", "/api/v1/auth/login", key=None, headers={"Origin": "https://dash.example.com"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://dash.example.com" and ok.headers["Vary"] == "Origin"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    other = idc.get("n1", "/api/clients-environments", headers={"Origin": "https://evil.example.com"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    badge = idc.get("n1", "/badges/x/y/z/Deployment/a/b", key=None, headers={"Origin": "https://evil.example.com"})
    assert badge.headers["Access-Control-Allow-Origin"] == "*"  # badges are for everyone


def test_routes_list_every_rule(idc):
    r = idc.get("n1", "/api/v1/routes", key=None)
    assert r.status_code == 200
    routes = r.json()["routes"]
    assert {"method": "POST", "path": "/api/v1/auth/login", "least_role": "none", "unscoped_only": False,
            "users_only": False} in routes
    assert all(x["least_role"] in ("none", "viewer", "operator", "admin") for x in routes)


def test_key_rotation_keeps_old_tokens_through_the_overlap_only(idc):
    old = wait_login(idc, "n1", "admin", H.ADMIN_PASSWORD)["access_token"]
    H.assert_error(idc.post("n1", "/api/v1/auth/rotate-key", key=H.PROD_KEY), 403, "FORBIDDEN")
    H.assert_error(idc.post("n1", "/api/v1/auth/rotate-key", params={"overlap": "forever"}), 400, "VALIDATION_ERROR")
    r = idc.post("n2", "/api/v1/auth/rotate-key", params={"overlap": "4s"})
    assert r.status_code == 200, H.show(r)
    kid = r.json()["kid"]
    index = r.headers["X-Shiplog-Index"]
    for n in idc.names:
        idc.get(n, "/api/v1/clusters", params={"index": index, "wait": "5s"})  # the rotation is applied here
    new = login(idc, "n3", "admin", H.ADMIN_PASSWORD)["access_token"]
    import base64
    import json as _json
    header = _json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))
    assert header["kid"] == kid and header["alg"] == "HS256"
    for n in idc.names:  # within the overlap both verify
        assert idc.get(n, "/api/v1/auth/me", key=old).status_code == 200
        assert idc.get(n, "/api/v1/auth/me", key=new).status_code == 200
    H.wait_until(lambda: idc.get("n1", "/api/v1/auth/me", key=old).status_code == 401, 10,
                 what="the old key retired")
    for n in idc.names:  # a node that verified it lately may honour it up to 5 s more (tokens.c's cache)
        H.wait_until(lambda: idc.get(n, "/api/v1/auth/me", key=old).status_code == 401, 10, what=f"retired on {n}")
        assert idc.get(n, "/api/v1/auth/me", key=new).status_code == 200


def test_audit_log_is_bounded_by_retention(cluster_factory):
    c = cluster_factory(n=1, start=False)
    c.extra_tables = {"retention": {"audit_keep": 3, "interval": "1s"}}
    c.write_config()
    c.start_all()
    for i in range(6):
        r = c.post("n1", "/api/v1/users", json={"username": f"r{i}", "password": PW, "role": "viewer"})
        assert r.status_code == 201, H.show(r)
    H.wait_until(lambda: len(c.get("n1", "/api/v1/audit-logs").json()["audit_logs"]) == 3, 15,
                 what="the audit log cut to [retention] audit_keep")
    rows = c.get("n1", "/api/v1/audit-logs").json()["audit_logs"]
    assert [x["target"].split(" ")[1] for x in rows] == ["(r5)", "(r4)", "(r3)"], rows  # the newest stay


def test_no_secret_in_clear_on_disk_or_in_logs(idc):
    """Last in the module: everything above created passwords, keys and tokens."""
    make_user(idc, "n1", "secretive", "viewer", password="s3cret-password-needle")
    t = wait_login(idc, "n2", "secretive", "s3cret-password-needle")
    k = make_key(idc, "n1", "read")
    idc.request("n1", "GET", "/api/v1/auth/me", key=k["key"])
    time.sleep(1.5)  # the last_used flush
    needles = [b"s3cret-password-needle", PW.encode(), H.ADMIN_PASSWORD.encode(), k["key"].encode(),
               t["access_token"].encode(), t["refresh_token"].encode(), b"hashed-dev-key"]
    backup = idc.get("n1", "/api/v1/cluster/snapshot", timeout=30)
    assert backup.status_code == 200
    assert not any(n in backup.content for n in needles)
    roots = [idc.nodes[n].data_dir for n in idc.names] + [idc.nodes[n].log_path for n in idc.names]
    assert H.files_holding(roots, needles) == []
