"""The access matrix: every route of the router (read from GET /api/v1/routes,
so a new route without a rule fails here) x every kind of credential gives
the status its rule says, and no denied request wrote anything (it left no
audit row under its request id, while allowed writes do leave one).

Credentials: none, a malformed token, an expired JWT, a revoked JWT, a
wrong API key, a badge key, a read key, viewer / operator / admin users, a
key of another client and a key of this client."""
import time

import pytest

import harness as H
from conftest import module_cluster

PW = "matrix-password-1"
THIS, OTHER = H.PROD_CLIENT, H.DEV_CLIENT
DENIED = (401, 403)
# A route's "*" segments, by the segment before them: resources of THIS client, or ids that do not
# exist where acting on a real one would break the cluster under test (nodes, users).
IDS = {"users": "u-none", "api-keys": "k-none", "nodes": "999", "webhooks": "WEBHOOK", "clusters": "CLUSTER",
       "alerts": "ALERT", "jobs": "JOB"}


def configure(c):
    c.auth = {"access_token_ttl": "3s"}


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    yield from module_cluster(tmp_path_factory, "access_matrix", configure)


def login(c, user, password=PW):
    out = {}

    def ok():
        out["r"] = c.post("n1", "/api/v1/auth/login", key=None, json={"username": user, "password": password})
        return out["r"].status_code == 200
    H.wait_until(ok, 15, what=f"login of {user}")
    return out["r"].json()


def concrete(path, ids):
    if path.startswith("/api/releases/history/"):
        return f"/api/releases/history/{THIS}/prod/web/shop/app"
    segs = path.strip("/").split("/")
    out = []
    for i, s in enumerate(segs):
        if s == "*":
            prev = segs[i - 1] if i > 0 else ""
            out.append(ids.get(prev, "x"))
        elif s == "**":
            out.append("KEY/" + THIS + "/prod/Deployment/shop/app")
        else:
            out.append(s)
    return "/" + "/".join(out)


def body_for(method, path):
    if method in ("GET", "DELETE"):
        return None
    if path.startswith("/api/collect/"):
        return H.release_body("m1", client=THIS, env="prod")
    if path == "/api/v1/auth/login":
        return {"username": "mx-viewer", "password": PW}
    if path == "/api/v1/cluster/transfer":
        return {"id": 999}
    return {}


def expected(route, cred):
    """'allow' (any status but 401/403; 'scoped' also allows 404), or the denial status."""
    least, unscoped, users = route["least_role"], route["unscoped_only"], route["users_only"]
    if least == "none":
        return "allow"
    if cred in ("none", "malformed", "expired", "revoked", "wrong"):
        return 401
    rank = {"badge": 1, "viewer": 2, "operator": 3, "admin": 4}
    role = {"badge": "badge", "read": "viewer", "viewer": "viewer", "operator": "operator", "admin": "admin",
            "other_client": "operator", "this_client": "operator"}[cred]
    is_user = cred in ("viewer", "operator", "admin")
    scoped = cred in ("other_client", "this_client", "badge")
    if users and not is_user:
        return 403
    if rank[role] < rank[least]:
        return 403
    if unscoped and scoped:
        return 403
    return "scoped" if cred == "other_client" else "allow"


def test_every_route_for_every_credential(mc):
    c = mc
    for name, role, client in (("mx-viewer", "viewer", None), ("mx-operator", "operator", None),
                               ("mx-admin", "admin", None)):
        body = {"username": name, "password": PW, "role": role}
        assert c.post("n1", "/api/v1/users", json=body).status_code == 201
    keys = {}
    for cred, scope in (("badge", f"badge:{THIS}"), ("read", "read"), ("other_client", f"client:{OTHER}"),
                        ("this_client", f"client:{THIS}")):
        r = c.post("n1", "/api/v1/api-keys", json={"name": cred, "scope": scope})
        assert r.status_code == 201, H.show(r)
        keys[cred] = r.json()["key"]
    # resources of THIS client for the routes that name one
    ids = dict(IDS)
    w = c.post("n1", "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "secret": "s"}, key=H.PROD_KEY)
    assert w.status_code == 201, H.show(w)
    ids["webhooks"] = w.json()["id"]
    assert c.collect("n1", "web", "Deployment", "shop", "app", H.release_body("m0", client=THIS, env="prod"),
                     key=H.PROD_KEY).status_code == 200
    expired = login(c, "mx-viewer")["access_token"]
    revoked = login(c, "mx-viewer")["access_token"]
    assert c.post("n1", "/api/v1/auth/logout", key=revoked).status_code == 200
    time.sleep(3.5)  # expired's 3 s are over
    fixed = {"none": None, "malformed": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad-signature",
             "expired": expired, "revoked": revoked, "wrong": "shp_wrong-key-of-nobody", **keys}
    routes = c.get("n1", "/api/v1/routes", key=None).json()["routes"]
    assert len(routes) >= 50, routes
    H.wait_until(lambda: all(c.get(n, "/api/v1/auth/me", key=keys["read"]).status_code == 200 for n in c.names),
                 10, what="the keys on every node")
    failures, denied_ids, allowed_write_ids = [], [], []
    seq = 0
    for route in routes:
        method, path = route["method"], concrete(route["path"], ids)
        # other_client before those allowed to act on THIS client's resources (a DELETE by them
        # would leave nothing for it to be refused)
        for cred in ("none", "malformed", "expired", "revoked", "wrong", "badge", "read", "other_client", "viewer",
                     "operator", "this_client", "admin"):
            if cred in ("viewer", "operator", "admin"):
                key = login(c, "mx-" + cred)["access_token"]  # fresh: tokens live 3 s here
            else:
                key = fixed[cred]
            if route["path"].startswith("/badges"):
                path = concrete(route["path"], ids).replace("KEY", key or "none", 1)
            seq += 1
            rid = f"matrix-{seq}"
            node = c.names[seq % 3]
            kw = {"headers": {"X-Request-Id": rid}, "key": key, "timeout": 30}
            b = body_for(method, route["path"])
            if b is not None:
                kw["json"] = b
            r = c.request(node, method, path, **kw)
            want = expected(route, cred)
            got = r.status_code
            if want == "allow":
                ok = got not in DENIED
            elif want == "scoped":  # past the route's rule; the handler refuses THIS client's data
                ok = got != 401 and not (ids["webhooks"] in path and got < 300)
            else:
                ok = got == want
            if not ok:
                failures.append(f"{cred:12} {method:6} {path}: got {got}, want {want}: {r.text[:160]}")
            if got in DENIED:
                denied_ids.append(rid)
            elif method != "GET" and 200 <= got < 300 and not path.startswith("/api/v1/auth/login"):
                allowed_write_ids.append(rid)
    assert not failures, "\n".join(failures)
    # the denied requests wrote nothing; the allowed writes did (so this check can fail)
    rows, before = [], None
    while True:
        params = {"limit": 1000}
        if before:
            params["before"] = before
        page = c.get("n1", "/api/v1/audit-logs", params=params).json()
        rows += page["audit_logs"]
        before = page["next"]
        if not before:
            break
    seen = {x["request_id"] for x in rows}
    assert not seen & set(denied_ids), sorted(seen & set(denied_ids))[:10]
    assert allowed_write_ids and seen & set(allowed_write_ids), "no allowed write left an audit row"
