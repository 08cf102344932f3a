"""Bad requests get their 4xx and error code, and change nothing.

"Nothing changed" is checked by reading back the baseline component's
history, the client's current releases, clients-environments, and the
leader's X-Shiplog-Index before and after the bad request. A background
Raft entry could move the index by itself, so the index check allows up to
three tries; a request that writes moves it on every try."""

import json

import pytest

import harness as H
from harness import ADMIN_KEY, Component

CLIENT = "bad-client"
ENV = "bad-env"
BASE = Component(CLIENT, ENV, "ns", "w", "c")
BASE_PATH = f"/api/collect/{BASE.ns}/{BASE.kind}/{BASE.workload}/{BASE.container}"


@pytest.fixture(scope="module")
def base(cluster):
    i = cluster.write("n1", BASE, "1.0.0", released_at="2024-01-01T00:00:00Z")
    cluster.wait_all_applied(i)
    r = cluster.post("n1", "/api/ping", json={"client_name": CLIENT, "env_name": ENV})
    assert r.status_code == 200, H.show(r)
    cluster.wait_all_applied(H.idx(r))
    return cluster


def state(c, ldr):
    """What a bad request must not change, as seen by the leader."""
    h = c.history(ldr, BASE)
    assert h.status_code == 200, H.show(h)
    cur = c.current(ldr, CLIENT, ENV)
    assert cur.status_code == 200, H.show(cur)
    ce = c.get(ldr, "/api/clients-environments")
    assert ce.status_code == 200, H.show(ce)
    ce_body = ce.json()
    ce_body.pop("timestamp", None)
    for per_env in ce_body.get("ping_statuses", {}).values():
        for st in per_env.values():
            st.pop("age", None)
    return {
        "index": H.idx(ce),
        "history": h.json()["releases"],
        "current": cur.json()["namespaces"],
        "clients_environments": ce_body,
    }


def check_bad(c, send, status, code, tries=3):
    """send() the bad request (to any node); it must answer status/code and
    leave the leader's state unchanged."""
    ldr = c.leader()
    moved = []
    for attempt in range(tries):
        before = state(c, ldr)
        r = send()
        H.assert_error(r, status, code)
        H.check_headers(r)
        after = state(c, ldr)
        assert after["history"] == before["history"], (
            f"history changed by {H.show(r)}:\n{before['history']}\n->\n{after['history']}")
        assert after["current"] == before["current"], f"current changed by {H.show(r)}"
        assert after["clients_environments"] == before["clients_environments"], (
            f"clients-environments changed by {H.show(r)}")
        if after["index"] == before["index"]:
            return r
        moved.append((before["index"], after["index"]))
    pytest.fail(f"leader X-Shiplog-Index advanced on every try {moved}: {H.show(r)}")


def body(**over):
    b = H.release_body("9.9.9-bad", client=CLIENT, env=ENV)
    b.update(over)
    return b


def without(key):
    b = body()
    del b[key]
    return b


BIG_TAG = "big-" + "x" * (2 * 1024 * 1024)

RAW_BODIES = {
    "malformed_json": '{"image_tag": "9.9.9-bad", "image_sha": ',
    "trailing_garbage": json.dumps(body()) + " xyz",
    "empty_body": "",
    "body_is_array": json.dumps([body()]),
    "body_is_string": '"9.9.9-bad"',
    "body_is_number": "42",
    "body_is_null": "null",
    "missing_image_tag": json.dumps(without("image_tag")),
    "missing_image_sha": json.dumps(without("image_sha")),
    "image_tag_number": json.dumps(body(image_tag=999)),
    "image_sha_number": json.dumps(body(image_sha=12345)),
    "image_tag_null": json.dumps(body(image_tag=None)),
    "image_tag_list": json.dumps(body(image_tag=["9.9.9-bad"])),
    "image_tag_object": json.dumps(body(image_tag={"v": "9.9.9-bad"})),
    "image_repo_number": json.dumps(body(image_repo=5)),
    "client_name_number": json.dumps(body(client_name=5)),
    "released_at_number": json.dumps(body(released_at=1700000000)),
    "released_at_word": json.dumps(body(released_at="yesterday")),
    "released_at_out_of_range": json.dumps(body(released_at="2023-13-45T25:61:00Z")),
    "released_at_us_format": json.dumps(body(released_at="12/01/2023 10:30")),
}


@pytest.mark.parametrize("target", ["leader", "follower"])
@pytest.mark.parametrize("case", sorted(RAW_BODIES))
def test_bad_collect_body(base, case, target):
    c = base
    node = c.leader() if target == "leader" else c.followers()[0]
    data = RAW_BODIES[case].encode()
    check_bad(c, lambda: c.put(node, BASE_PATH, data=data,
                               headers={"Content-Type": "application/json"}),
              400, "VALIDATION_ERROR")


@pytest.mark.parametrize("target", ["leader", "follower"])
def test_body_too_large(base, target):
    c = base
    node = c.leader() if target == "leader" else c.followers()[0]
    data = json.dumps(body(image_tag=BIG_TAG)).encode()
    assert len(data) > 2 * 1024 * 1024

    def send():
        # a raw socket, so that a server answering 413 before it has read the
        # whole body (and closing) is still seen answering 413
        return H.raw_request(c.nodes[node].http_port, "PUT", BASE_PATH, data,
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {ADMIN_KEY}"}, timeout=15)
    check_bad(c, send, 413, "PAYLOAD_TOO_LARGE", tries=2)


LONG = "n" * 200  # each name valid (<= 253), together past LMDB's 511-byte keys


@pytest.mark.parametrize("target", ["leader", "follower"])
def test_names_too_long_together_400(base, target):
    """Found by hand: such a release stopped every node (LMDB refused its
    key while applying the entry). Now it is refused before Raft, and the
    cluster keeps serving."""
    c = base
    node = c.leader() if target == "leader" else c.followers()[0]
    path = f"/api/collect/{LONG}/Deployment/{LONG}/c"
    r = check_bad(c, lambda: c.put(node, path, json=body(env_name=LONG)), 400, "VALIDATION_ERROR")
    assert "together exceed" in r.json()["error"]["message"], H.show(r)
    obs = {"namespace": LONG, "workload_kind": "Deployment", "workload_name": LONG,
           "container_name": "c", "image_tag": "1", "image_sha": "s"}
    check_bad(c, lambda: c.post(node, "/api/v1/observations",
                                json={"client_name": CLIENT, "env_name": LONG, "observations": [obs]}),
              400, "VALIDATION_ERROR")
    i = c.write(node, Component("long-names-after", "e", "ns", "w", "c"), "1.0.0")
    c.wait_all_applied(i)


BAD_PATHS = {
    "empty_kind": "/api/collect/ns//w/c",
    "empty_namespace": "/api/collect//Deployment/w/c",
    "empty_container": "/api/collect/ns/Deployment/w/",
    "extra_segment": "/api/collect/ns/Deployment/w/c/extra",
    "five_segments": "/api/collect/a/b/c/d/e",
    "three_segments": "/api/collect/ns/Deployment/w",
    "unknown_prefix": "/api/collectx/ns/Deployment/w/c",
    "unknown_api_route": "/api/nope",
}


@pytest.mark.parametrize("case", sorted(BAD_PATHS))
def test_bad_collect_path_404(base, case):
    c = base
    path = BAD_PATHS[case]
    check_bad(c, lambda: c.put("n2", path, json=body()), 404, "NOT_FOUND")


BAD_GET_PATHS = {
    "unknown_root": "/nope",
    "unknown_api": "/api/nope",
    "history_too_few": f"/api/releases/history/{CLIENT}/{ENV}/ns/w",
    "history_too_many": f"/api/releases/history/{CLIENT}/{ENV}/ns/w/c/extra",
    "history_empty_segment": f"/api/releases/history/{CLIENT}//ns/w/c",
    "history_missing_component": f"/api/releases/history/{CLIENT}/{ENV}/ns/w/no-such-container",
    "releases_unknown": "/api/releases/latest",
}


@pytest.mark.parametrize("case", sorted(BAD_GET_PATHS))
def test_unknown_routes_404(base, case):
    c = base
    path = BAD_GET_PATHS[case]
    check_bad(c, lambda: c.get("n3", path), 404, "NOT_FOUND")


WRONG_METHODS = [
    ("DELETE", BASE_PATH),
    ("GET", BASE_PATH),
    ("POST", BASE_PATH),
    ("PATCH", BASE_PATH),
    ("POST", "/api/releases/current"),
    ("DELETE", BASE.history_path),
    ("PUT", BASE.history_path),
    ("GET", "/api/ping"),
    ("PUT", "/api/config"),
    ("PUT", "/api/clients-environments"),
    ("POST", "/health"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS, ids=[f"{m} {p}" for m, p in WRONG_METHODS])
def test_wrong_method_405(base, method, path):
    c = base
    kw = {} if method in ("GET", "DELETE") else {"json": body()}
    check_bad(c, lambda: c.request("n1", method, path, **kw), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("params", [
    {},
    {"client_name": CLIENT},
    {"env_name": ENV},
    {"client_name": CLIENT, "env_name": ENV, "consistency": "strong"},
], ids=["none", "no_env", "no_client", "bad_consistency"])
def test_current_bad_query_400(base, params):
    c = base
    check_bad(c, lambda: c.get("n2", "/api/releases/current", params=params),
              400, "VALIDATION_ERROR")


def test_history_bad_consistency_400(base):
    c = base
    check_bad(c, lambda: c.get("n3", BASE.history_path, params={"consistency": "sometimes"}),
              400, "VALIDATION_ERROR")


PING_BAD = {
    "missing_client": json.dumps({"env_name": ENV}),
    "missing_env": json.dumps({"client_name": CLIENT}),
    "client_number": json.dumps({"client_name": 3, "env_name": ENV}),
    "malformed": '{"client_name": ',
    "array": "[]",
    "empty": "",
}


@pytest.mark.parametrize("case", sorted(PING_BAD))
def test_bad_ping_400(base, case):
    c = base
    data = PING_BAD[case].encode()
    check_bad(c, lambda: c.post("n2", "/api/ping", data=data,
                                headers={"Content-Type": "application/json"}),
              400, "VALIDATION_ERROR")


@pytest.mark.parametrize("key", [None, "not-a-key"], ids=["no_key", "bad_key"])
def test_unauthenticated_write_401(base, key):
    c = base
    check_bad(c, lambda: c.put("n1", BASE_PATH, key=key, json=body()), 401, "UNAUTHORIZED")
    check_bad(c, lambda: c.post("n3", "/api/ping", key=key,
                                json={"client_name": CLIENT, "env_name": "x"}),
              401, "UNAUTHORIZED")


def test_client_key_write_for_other_client_403(base):
    c = base
    check_bad(c, lambda: c.put("n2", BASE_PATH, key=H.DEV_KEY, json=body()), 403, "FORBIDDEN")


def test_baseline_still_intact(base):
    """After all the bad requests, every node still has exactly the baseline."""
    c = base
    for node in H.NODE_NAMES:
        rels = c.releases(node, BASE, consistency="linearizable")
        assert [(e["image_tag"]) for e in rels] == ["1.0.0"], rels
        assert H.same_instant(rels[0]["last_seen"], "2024-01-01T00:00:00Z"), rels
    r = c.put("n1", BASE_PATH, json=H.release_body("1.0.1", client=CLIENT, env=ENV))
    assert r.status_code == 200, H.show(r)
