"""The Release Tracker endpoints (seeds/release-tracker-api.md) on every node
of a 3-node cluster: status codes, JSON shapes, history semantics,
clients-environments, ping, config, health, badges and authentication."""

import time

import pytest

import harness as H
from harness import ADMIN_KEY, DEV_CLIENT, DEV_KEY, PROD_CLIENT, PROD_KEY, Component

NODES = H.NODE_NAMES

SEED_SHA = "sha256:abc123def456789012345678901234567890123456789012345678901234567890"
SEED_COLLECT_PATH = "/api/collect/production/Deployment/web-app/nginx"
SEED_COLLECT_BODY = {
    "image_tag": "1.21.0",
    "image_sha": SEED_SHA,
    "image_repo": "docker.io",
    "image_name": "nginx",
    "released_at": "2023-12-01T10:30:00Z",
}
SEED_PING_BODY = {
    "client_name": PROD_CLIENT,
    "env_name": "prod",
    "slave_version": "v1.0.0",
    "timestamp": "2023-12-01T15:45:00Z",
}
CURRENT_ENTRY_KEYS = {
    "namespace", "workload_name", "workload_type", "container_name", "image_repo",
    "image_name", "image_tag", "image_sha", "client_name", "env_name",
    "first_seen", "last_seen",
}
HISTORY_ENTRY_KEYS = {"image_tag", "image_sha", "first_seen", "last_seen"}
T0 = "2024-03-01T08:00:00Z"


def assert_str(d, *keys):
    for k in keys:
        assert isinstance(d.get(k), str), f"{k!r} should be a string in {d!r}"


def assert_int(d, *keys):
    for k in keys:
        v = d.get(k)
        assert isinstance(v, int) and not isinstance(v, bool), f"{k!r} should be an int in {d!r}"


def check_history_shape(b, comp):
    assert set(b) >= {"component", "releases", "total", "timestamp"}, b
    assert b["component"] == {
        "client_name": comp.client, "env_name": comp.env, "namespace": comp.ns,
        "workload_name": comp.workload, "container_name": comp.container,
    }, b["component"]
    assert isinstance(b["releases"], list)
    assert_int(b, "total")
    assert b["total"] == len(b["releases"]), b
    H.parse_ts(b["timestamp"])
    for e in b["releases"]:
        assert set(e) >= HISTORY_ENTRY_KEYS, e
        assert_str(e, *HISTORY_ENTRY_KEYS)
        H.parse_ts(e["first_seen"])
        H.parse_ts(e["last_seen"])


def check_current_shape(b):
    assert set(b) >= {"namespaces", "ordered_namespaces", "total", "timestamp"}, b
    assert isinstance(b["namespaces"], dict), b
    assert isinstance(b["ordered_namespaces"], list), b
    assert_int(b, "total")
    H.parse_ts(b["timestamp"])
    count = 0
    for ns, entries in b["namespaces"].items():
        assert isinstance(entries, list), b
        for e in entries:
            assert set(e) >= CURRENT_ENTRY_KEYS, e
            assert_str(e, "namespace", "workload_name", "workload_type", "container_name",
                       "image_tag", "image_sha", "client_name", "env_name",
                       "first_seen", "last_seen")
            assert e["namespace"] == ns, e
            H.parse_ts(e["first_seen"])
            H.parse_ts(e["last_seen"])
            count += 1
    assert b["total"] == count, f"total {b['total']} != {count} entries: {b}"
    # The implementation's shape (internal/api/handlers.go): [{name, releases}],
    # which web/static/js/dashboard.js processReleasesData reads.
    for o in b["ordered_namespaces"]:
        assert set(o) == {"name", "releases"}, o
        assert o["releases"] == b["namespaces"][o["name"]], b
    assert sorted(ordered_names(b)) == sorted(b["namespaces"]), b


def ordered_names(b):
    return [o["name"] for o in b["ordered_namespaces"]]


def current_entry(b, ns, workload, container):
    for e in b["namespaces"].get(ns, []):
        if e["workload_name"] == workload and e["container_name"] == container:
            return e
    return None


def tags(releases):
    return [e["image_tag"] for e in releases]


# ------------------------------------------------------------------ health

@pytest.mark.parametrize("node", NODES)
def test_health_on_each_node(cluster, node):
    r = cluster.get(node, "/health", key=None)
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    b = r.json()
    assert b["status"] == "healthy", b
    assert_str(b, "timestamp", "version", "node")
    H.parse_ts(b["timestamp"])
    assert b["node"] == node
    raft = b["raft"]
    assert raft["state"] in H.RAFT_STATES, b
    assert_int(raft, "term", "applied_index")
    assert isinstance(raft["leader"], str) and raft["leader"] in NODES, b
    assert raft["term"] >= 1


def test_health_agrees_on_one_leader(cluster):
    ldr = cluster.leader()
    for node in NODES:
        b = cluster.get(node, "/health", key=None).json()
        assert b["raft"]["leader"] == ldr, b
        assert (b["raft"]["state"] == "leader") == (node == ldr), b


# ----------------------------------------------------------------- collect

@pytest.mark.parametrize("node", NODES)
def test_collect_seed_example(cluster, node):
    r = cluster.put(node, SEED_COLLECT_PATH, json=SEED_COLLECT_BODY)
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    assert H.idx(r) > 0
    b = r.json()
    assert b["status"] == "success", b
    assert_str(b, "message", "timestamp")
    H.parse_ts(b["timestamp"])
    assert b["component"] == {
        "namespace": "production", "workload_kind": "Deployment",
        "workload_name": "web-app", "container_name": "nginx",
    }, b
    rel = b["release"]
    assert rel["version"] == "1.21.0", rel
    assert rel["image_repo"] == "docker.io", rel
    assert rel["image_name"] == "nginx", rel
    assert rel["image_tag"] == "1.21.0", rel
    assert rel["image_sha"] == SEED_SHA, rel
    assert H.same_instant(rel["released_at"], "2023-12-01T10:30:00Z"), rel


def test_collect_admin_defaults_client_and_env_to_unknown(cluster):
    r = cluster.put("n1", SEED_COLLECT_PATH, json=SEED_COLLECT_BODY)
    assert r.status_code == 200, H.show(r)
    i = H.idx(r)
    comp = Component("unknown", "unknown", "production", "web-app", "nginx")
    for node in NODES:
        h = cluster.history(node, comp, index=i)
        if h.status_code != 200:
            ce = cluster.get(node, "/api/clients-environments").text
            pytest.fail(f"seed write without client_name/env_name not stored under "
                        f"unknown/unknown: {H.show(h)}; clients-environments: {ce[:500]}")
        rels = h.json()["releases"]
        assert tags(rels) == ["1.21.0"], rels
        assert rels[0]["image_sha"] == SEED_SHA
        assert H.same_instant(rels[0]["first_seen"], "2023-12-01T10:30:00Z"), rels
        assert H.same_instant(rels[0]["last_seen"], "2023-12-01T10:30:00Z"), rels


def test_collect_released_at_defaults_to_now(cluster):
    comp = Component.unique("now")
    before = time.time()
    body = H.release_body("1.0.0", client=comp.client, env=comp.env)
    r = cluster.collect("n1", comp.ns, comp.kind, comp.workload, comp.container, body)
    after = time.time()
    assert r.status_code == 200, H.show(r)
    ra = H.parse_ts(r.json()["release"]["released_at"]).timestamp()
    assert before - 5 <= ra <= after + 5, f"released_at {ra} not now ({before}..{after})"
    rels = cluster.releases("n1", comp)
    assert abs(H.parse_ts(rels[0]["first_seen"]).timestamp() - ra) < 1.5, rels


def test_write_through_follower_read_back_from_every_node(cluster):
    fol = cluster.followers()[0]
    comp = Component.unique("fw")
    r = cluster.collect(fol, comp.ns, comp.kind, comp.workload, comp.container,
                        H.release_body("2.0.0", client=comp.client, env=comp.env,
                                       released_at=T0))
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, fol)
    i = H.idx(r)
    for node in NODES:
        h = cluster.history(node, comp, index=i, wait="5s")
        assert h.status_code == 200, H.show(h)
        H.check_headers(h, node)
        assert H.idx(h) >= i, H.show(h)
        check_history_shape(h.json(), comp)
        assert tags(h.json()["releases"]) == ["2.0.0"], H.show(h)
        c = cluster.current(node, comp.client, comp.env, index=i)
        assert c.status_code == 200, H.show(c)
        e = current_entry(c.json(), comp.ns, comp.workload, comp.container)
        assert e is not None and e["image_tag"] == "2.0.0", H.show(c)


# ----------------------------------------------------------------- current

@pytest.mark.parametrize("node", NODES)
def test_current_seed_example(cluster, node):
    comp = Component(PROD_CLIENT, "prod", "default", "web-app", "nginx")
    i = cluster.write(node, comp, "1.21.0", sha=SEED_SHA, repo="docker.io", name="nginx",
                      released_at="2023-12-01T10:30:00Z")
    r = cluster.get(node, "/api/releases/current",
                    params={"client_name": PROD_CLIENT, "env_name": "prod"})
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    assert H.idx(r) >= i
    b = r.json()
    check_current_shape(b)
    e = current_entry(b, "default", "web-app", "nginx")
    assert e is not None, b
    assert e["workload_type"] == "Deployment", e
    assert e["image_repo"] == "docker.io" and e["image_name"] == "nginx", e
    assert e["image_tag"] == "1.21.0" and e["image_sha"] == SEED_SHA, e
    assert e["client_name"] == PROD_CLIENT and e["env_name"] == "prod", e
    assert H.same_instant(e["first_seen"], "2023-12-01T10:30:00Z"), e
    assert "default" in ordered_names(b)
    for ns, entries in b["namespaces"].items():
        for x in entries:
            assert x["client_name"] == PROD_CLIENT and x["env_name"] == "prod", x


def test_current_only_the_asked_environment(cluster):
    client = f"cur-{H.uid()}"
    a = Component(client, "e1", "ns", "wa", "app")
    b = Component(client, "e2", "ns", "wb", "app")
    cluster.write("n1", a, "1")
    i = cluster.write("n2", b, "2")
    for node in NODES:
        r = cluster.current(node, client, "e1", index=i)
        assert r.status_code == 200, H.show(r)
        body = r.json()
        check_current_shape(body)
        assert body["total"] == 1, body
        assert current_entry(body, "ns", "wa", "app")["image_tag"] == "1"
        assert current_entry(body, "ns", "wb", "app") is None


def test_current_unknown_client_is_empty(cluster):
    r = cluster.current("n1", f"nobody-{H.uid()}", "prod")
    assert r.status_code == 200, H.show(r)
    b = r.json()
    check_current_shape(b)
    assert b["total"] == 0 and b["namespaces"] == {} and b["ordered_namespaces"] == [], b


def test_ordered_namespaces_alphabetical(cluster):
    client = f"ord-{H.uid()}"
    last = 0
    for k, ns in enumerate(["zeta", "alpha", "mike", "bravo", "echo"]):
        comp = Component(client, "prod", ns, f"w{k}", "app")
        last = cluster.write(NODES[k % 3], comp, f"1.{k}")
    for node in NODES:
        r = cluster.current(node, client, "prod", index=last)
        assert r.status_code == 200, H.show(r)
        b = r.json()
        check_current_shape(b)
        assert ordered_names(b) == ["alpha", "bravo", "echo", "mike", "zeta"], b
        assert b["total"] == 5


# ----------------------------------------------------------------- history

@pytest.mark.parametrize("node", NODES)
def test_history_seed_example(cluster, node):
    # the seed's exact request (the component is written by test_current_seed_example
    # and written again here so this test stands alone)
    seed = Component(PROD_CLIENT, "prod", "default", "web-app", "nginx")
    cluster.write(node, seed, "1.21.0", sha=SEED_SHA, repo="docker.io", name="nginx",
                  released_at="2023-12-01T10:30:00Z")
    r = cluster.get(node, "/api/releases/history/production-cluster/prod/default/web-app/nginx")
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    check_history_shape(r.json(), seed)
    assert r.json()["releases"][0]["image_tag"] == "1.21.0"

    # the seed's example history, on a component of its own
    comp = Component(PROD_CLIENT, "prod", "default", f"web-app-{H.uid()}", "nginx")
    cluster.write(node, comp, "1.20.0", sha="sha256:def456", released_at="2023-11-15T09:00:00Z")
    cluster.write(node, comp, "1.21.0", sha="sha256:abc123", released_at="2023-12-01T10:30:00Z")
    cluster.write(node, comp, "1.21.0", sha="sha256:abc123", released_at="2023-12-01T15:45:00Z")
    r = cluster.history(node, comp)  # same node: read-your-writes without ?index
    assert r.status_code == 200, H.show(r)
    b = r.json()
    check_history_shape(b, comp)
    assert b["total"] == 2, b
    new, old = b["releases"]
    assert (new["image_tag"], new["image_sha"]) == ("1.21.0", "sha256:abc123"), b
    assert H.same_instant(new["first_seen"], "2023-12-01T10:30:00Z"), new
    assert H.same_instant(new["last_seen"], "2023-12-01T15:45:00Z"), new
    assert (old["image_tag"], old["image_sha"]) == ("1.20.0", "sha256:def456"), b
    assert H.same_instant(old["first_seen"], "2023-11-15T09:00:00Z"), old
    assert H.same_instant(old["last_seen"], "2023-11-15T09:00:00Z"), old


def test_history_unknown_component_404(cluster):
    comp = Component.unique("missing")
    for node in NODES:
        r = cluster.history(node, comp)
        H.assert_error(r, 404, "NOT_FOUND")
        H.check_headers(r, node)


def test_history_same_image_moves_last_seen_keeps_first_seen(cluster):
    comp = Component.unique("same")
    cluster.write("n1", comp, "1.0", released_at=T0)
    cluster.write("n2", comp, "1.0", released_at=H.ts(T0, hours=2))
    i = cluster.write("n3", comp, "1.0", released_at=H.ts(T0, hours=1))  # older: max wins
    for node in NODES:
        rels = cluster.releases(node, comp, index=i)
        assert len(rels) == 1, rels
        assert H.same_instant(rels[0]["first_seen"], T0), rels
        assert H.same_instant(rels[0]["last_seen"], H.ts(T0, hours=2)), rels


def test_history_rollback_opens_new_entry(cluster):
    comp = Component.unique("rb")
    cluster.write("n1", comp, "A", released_at=T0)
    cluster.write("n2", comp, "B", released_at=H.ts(T0, hours=1))
    i = cluster.write("n3", comp, "A", released_at=H.ts(T0, hours=2))
    for node in NODES:
        r = cluster.history(node, comp, index=i)
        assert r.status_code == 200, H.show(r)
        b = r.json()
        check_history_shape(b, comp)
        rels = b["releases"]
        assert tags(rels) == ["A", "B", "A"], rels
        assert b["total"] == 3
        assert H.same_instant(rels[0]["first_seen"], H.ts(T0, hours=2)), rels
        assert H.same_instant(rels[1]["first_seen"], H.ts(T0, hours=1)), rels
        assert H.same_instant(rels[2]["first_seen"], T0), rels
        assert H.same_instant(rels[2]["last_seen"], T0), rels
        cur = cluster.current(node, comp.client, comp.env, index=i).json()
        e = current_entry(cur, comp.ns, comp.workload, comp.container)
        assert e["image_tag"] == "A" and H.same_instant(e["first_seen"], H.ts(T0, hours=2)), e


def test_current_follows_apply_order_not_released_at(cluster):
    comp = Component.unique("order")
    cluster.write("n1", comp, "newer-clock", released_at="2024-02-01T00:00:00Z")
    i = cluster.write("n2", comp, "older-clock", released_at="2024-01-01T00:00:00Z")
    for node in NODES:
        cur = cluster.current(node, comp.client, comp.env, index=i).json()
        e = current_entry(cur, comp.ns, comp.workload, comp.container)
        assert e is not None and e["image_tag"] == "older-clock", cur
        rels = cluster.releases(node, comp, index=i)
        assert tags(rels) == ["older-clock", "newer-clock"], rels


def test_history_not_truncated_to_10(cluster):
    comp = Component.unique("long")
    i = 0
    for k in range(25):
        i = cluster.write(NODES[k % 3], comp, f"v{k}", released_at=H.ts(T0, minutes=k))
    for node in NODES:
        r = cluster.history(node, comp, index=i)
        assert r.status_code == 200, H.show(r)
        b = r.json()
        assert b["total"] == 25, b["total"]
        assert tags(b["releases"]) == [f"v{k}" for k in reversed(range(25))], tags(b["releases"])


# ------------------------------------------------------ clients/environments

@pytest.mark.parametrize("node", NODES)
def test_clients_environments_seed_example(cluster, node):
    r = cluster.get(node, "/api/clients-environments")
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    b = r.json()
    assert set(b) >= {"clients_environments", "ping_statuses", "statistics", "timestamp"}, b
    H.parse_ts(b["timestamp"])
    assert isinstance(b["clients_environments"], dict)
    for client, envs in b["clients_environments"].items():
        assert isinstance(envs, list) and all(isinstance(e, str) for e in envs), b
    assert isinstance(b["ping_statuses"], dict)
    for client, per_env in b["ping_statuses"].items():
        assert isinstance(per_env, dict), b
        for env, st in per_env.items():
            assert st["status"] in H.PING_STATUSES, st
            if "last_ping" in st:
                H.parse_ts(st["last_ping"])
    assert_int(b["statistics"], "total_clients", "total_environments", "total_releases")
    assert b["statistics"]["total_clients"] == len(b["clients_environments"]), b
    assert b["statistics"]["total_environments"] == sum(
        len(v) for v in b["clients_environments"].values()), b


def test_clients_environments_statistics(cluster):
    before = cluster.get("n1", "/api/clients-environments", params={"consistency": "linearizable"})
    assert before.status_code == 200, H.show(before)
    s0 = before.json()["statistics"]
    client = f"stats-{H.uid()}"
    cluster.write("n1", Component(client, "e1", "ns", "w1", "app"), "1")
    cluster.write("n2", Component(client, "e1", "ns", "w2", "app"), "1")
    i = cluster.write("n3", Component(client, "e2", "ns", "w1", "app"), "1")
    for node in NODES:
        cluster.wait_applied(node, i)
        r = cluster.get(node, "/api/clients-environments",
                        params={"index": str(i), "wait": "5s"})
        assert r.status_code == 200, H.show(r)
        b = r.json()
        assert sorted(b["clients_environments"][client]) == ["e1", "e2"], b
        s = b["statistics"]
        assert s["total_clients"] == s0["total_clients"] + 1, (s0, s)
        assert s["total_environments"] == s0["total_environments"] + 2, (s0, s)
        assert s["total_releases"] == s0["total_releases"] + 3, (s0, s)


# -------------------------------------------------------------------- ping

@pytest.mark.parametrize("node", NODES)
def test_ping_seed_example(cluster, node):
    r = cluster.post(node, "/api/ping", json=SEED_PING_BODY)
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    b = r.json()
    assert b["status"] == "ok", b
    assert_str(b, "timestamp")
    H.parse_ts(b["timestamp"])


def test_ping_status_online_after_ping_never_otherwise(cluster):
    client = f"ping-{H.uid()}"
    cluster.write("n1", Component(client, "pinged", "ns", "w", "app"), "1")
    i = cluster.write("n1", Component(client, "silent", "ns", "w", "app"), "1")
    fol = cluster.followers()[0]
    r = cluster.post(fol, "/api/ping", json={"client_name": client, "env_name": "pinged",
                                             "slave_version": "v9"})
    assert r.status_code == 200, H.show(r)
    i = max(i, H.idx(r))
    for node in NODES:
        cluster.wait_applied(node, i)
        b = cluster.get(node, "/api/clients-environments",
                        params={"index": str(i), "wait": "5s"}).json()
        assert sorted(b["clients_environments"][client]) == ["pinged", "silent"], b
        ps = b["ping_statuses"].get(client, {})
        assert ps.get("pinged", {}).get("status") == "online", b["ping_statuses"].get(client)
        last = H.parse_ts(ps["pinged"]["last_ping"]).timestamp()
        assert abs(last - time.time()) < 60, ps
        silent = ps.get("silent")
        assert silent is None or silent.get("status") == "never", ps


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("node", NODES)
def test_config_seed_example(cluster, node):
    ldr = cluster.leader()
    r = cluster.get(node, "/api/config")
    assert r.status_code == 200, H.show(r)
    H.check_headers(r, node)
    b = r.json()
    assert b["mode"] == "master", b
    assert_str(b, "env_name", "client_name")
    assert b["api_key_type"] == {"is_admin": True, "authenticated_client": ""}, b
    assert b["node"] == node, b
    assert b["leader"] == ldr, b
    members = sorted(b["members"], key=lambda m: m["id"])
    assert len(members) == 3, b
    for m, name in zip(members, NODES):
        n = cluster.nodes[name]
        want = {"id": n.id, "name": name, "region": "local", "raft": n.raft_addr,
                "rpc": n.rpc_addr, "http": n.http_addr}
        assert {k: m.get(k) for k in want} == want, m


def test_config_client_key(cluster):
    r = cluster.get("n2", "/api/config", key=DEV_KEY)
    assert r.status_code == 200, H.show(r)
    b = r.json()
    assert b["api_key_type"] == {"is_admin": False, "authenticated_client": DEV_CLIENT}, b
    assert b["mode"] == "master"


# ------------------------------------------------------------------ badges

def get_badge(c, node, key, client, env, kind, workload, container):
    r = c.get(node, f"/badges/{key}/{client}/{env}/{kind}/{workload}/{container}", key=None)
    assert r.status_code == 200, H.show(r)
    assert r.headers.get("Content-Type", "").startswith("image/svg+xml"), H.show(r)
    assert "no-cache" in r.headers.get("Cache-Control", ""), H.show(r)
    assert r.headers.get("Access-Control-Allow-Origin") == "*", H.show(r)
    assert "<svg" in r.text, H.show(r)
    return r


def assert_colour(r, colour):
    found = H.badge_colours(r.text)
    assert found == {colour}, f"badge colours {found}, expected {colour}: {H.show(r, 2000)}"


@pytest.mark.parametrize("node", NODES)
def test_badge_seed_examples(cluster, node):
    tag = f"7.{H.uid()}"
    i = cluster.write(node, Component(PROD_CLIENT, "prod", "default", "my-app", "web"), tag)
    cluster.wait_applied(node, i)
    r = get_badge(cluster, node, ADMIN_KEY, PROD_CLIENT, "prod", "Deployment", "my-app", "web")
    assert_colour(r, "green")
    assert tag in r.text, H.show(r, 2000)
    r = get_badge(cluster, node, ADMIN_KEY, "staging-cluster", "staging", "StatefulSet",
                  "database", "postgres")
    assert_colour(r, "gray")
    r = get_badge(cluster, node, ADMIN_KEY, DEV_CLIENT, "dev", "DaemonSet", "logging", "fluentd")
    assert_colour(r, "gray")


@pytest.mark.parametrize("node", NODES)
def test_badge_colours(cluster, node):
    u = H.uid()
    green = Component(PROD_CLIENT, "prod", "apps", f"badge-{u}", "web")
    tag = f"3.1.{u}"
    cluster.write("n1", green, tag)
    # the same workload in two namespaces: yellow
    multi_a = Component(PROD_CLIENT, "prod", "ns-a", f"multi-{u}", "web")
    multi_b = Component(PROD_CLIENT, "prod", "ns-b", f"multi-{u}", "web")
    cluster.write("n2", multi_a, "1.0")
    i = cluster.write("n3", multi_b, "2.0")
    cluster.wait_applied(node, i)

    r = get_badge(cluster, node, ADMIN_KEY, PROD_CLIENT, "prod", "Deployment", green.workload, "web")
    assert_colour(r, "green")
    assert tag in r.text
    r = get_badge(cluster, node, PROD_KEY, PROD_CLIENT, "prod", "Deployment", green.workload, "web")
    assert_colour(r, "green")
    r = get_badge(cluster, node, ADMIN_KEY, PROD_CLIENT, "prod", "Deployment", f"nothing-{u}", "web")
    assert_colour(r, "gray")
    r = get_badge(cluster, node, "wrong-key", PROD_CLIENT, "prod", "Deployment", green.workload, "web")
    assert_colour(r, "red")
    assert tag not in r.text
    r = get_badge(cluster, node, DEV_KEY, PROD_CLIENT, "prod", "Deployment", green.workload, "web")
    assert_colour(r, "red")
    assert tag not in r.text
    r = get_badge(cluster, node, ADMIN_KEY, PROD_CLIENT, "prod", "Deployment", multi_a.workload, "web")
    assert_colour(r, "yellow")


# ---------------------------------------------------------- common headers

@pytest.mark.parametrize("node", NODES)
def test_common_headers_on_every_kind_of_response(cluster, node):
    comp = Component.unique("hdr")
    reqs = [
        ("GET", "/health", None, None),
        ("GET", "/api/config", ADMIN_KEY, None),
        ("GET", "/api/clients-environments", ADMIN_KEY, None),
        ("GET", "/api/releases/current?client_name=x&env_name=y", ADMIN_KEY, None),
        ("GET", comp.history_path, ADMIN_KEY, None),                        # 404
        ("GET", "/api/config", None, None),                                 # 401
        ("GET", "/api/releases/current", ADMIN_KEY, None),                  # 400
        ("GET", "/no/such/route", ADMIN_KEY, None),                         # 404
        ("GET", f"/badges/{ADMIN_KEY}/a/b/Deployment/c/d", None, None),     # badge
        ("POST", "/api/ping", ADMIN_KEY, {"client_name": "hdr", "env_name": "e"}),
    ]
    seen_ids = set()
    for method, path, key, body in reqs:
        kw = {"json": body} if body is not None else {}
        r = cluster.request(node, method, path, key=key, **kw)
        H.check_headers(r, node)
        rid = r.headers["X-Request-Id"]
        assert rid not in seen_ids, f"X-Request-Id repeated: {H.show(r)}"
        seen_ids.add(rid)
        if r.status_code >= 400 and not path.startswith("/badges"):
            b = r.json()
            assert b.get("request_id") == rid, H.show(r)
    ldr = cluster.leader()
    r = cluster.get(node, "/api/config")
    assert r.headers["X-Shiplog-Leader"] == ldr, H.show(r)


# -------------------------------------------------------------------- auth

@pytest.mark.parametrize("mode", ["bearer", "header", "query"])
def test_auth_variants_accepted(cluster, mode):
    r = cluster.get("n1", "/api/config", auth=mode)
    assert r.status_code == 200, H.show(r)
    comp = Component.unique(f"auth-{mode}")
    body = H.release_body("1.0", client=comp.client, env=comp.env)
    r = cluster.collect("n2", comp.ns, comp.kind, comp.workload, comp.container, body, auth=mode)
    assert r.status_code == 200, H.show(r)
    r = cluster.get("n3", comp.history_path, auth=mode,
                    params={"index": str(H.idx(r)), "wait": "5s"})
    assert r.status_code == 200, H.show(r)
    r = cluster.get("n1", "/api/releases/current", auth=mode, key=PROD_KEY,
                    params={"client_name": PROD_CLIENT, "env_name": "prod"})
    assert r.status_code == 200, H.show(r)


PROTECTED = [
    ("GET", "/api/config", None),
    ("GET", "/api/clients-environments", None),
    ("GET", f"/api/releases/current?client_name={PROD_CLIENT}&env_name=prod", None),
    ("GET", f"/api/releases/history/{PROD_CLIENT}/prod/default/web-app/nginx", None),
    ("POST", "/api/ping", {"client_name": "auth-never", "env_name": "prod"}),
    ("PUT", "/api/collect/authns/Deployment/auth-never/app",
     {"image_tag": "x", "image_sha": "sha256:x", "client_name": "auth-never", "env_name": "prod"}),
]


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in PROTECTED])
@pytest.mark.parametrize("cred", ["none", "bad-bearer", "bad-header", "bad-query", "basic"])
def test_missing_or_invalid_key_401(cluster, method, path, body, cred):
    kw = {"json": body} if body is not None else {}
    if cred == "none":
        r = cluster.request("n2", method, path, key=None, **kw)
    elif cred == "basic":
        r = cluster.request("n2", method, path, key=None,
                            headers={"Authorization": "Basic YWRtaW46eA=="}, **kw)
    else:
        r = cluster.request("n2", method, path, key="not-a-valid-key",
                            auth=cred.split("-")[1], **kw)
    H.assert_error(r, 401, "UNAUTHORIZED")
    H.check_headers(r, "n2")


def test_unauthorized_writes_change_nothing(cluster):
    comp = Component("auth-never", "prod", "authns", "auth-never", "app")
    for node in NODES:
        r = cluster.history(node, comp, consistency="linearizable")
        H.assert_error(r, 404, "NOT_FOUND")
    b = cluster.get("n1", "/api/clients-environments",
                    params={"consistency": "linearizable"}).json()
    assert "auth-never" not in b["clients_environments"], b
    assert "auth-never" not in b["ping_statuses"], b


def test_post_collect_trigger(cluster):
    """Seed: POST /api/collect triggers an immediate collection (DESIGN lists it)."""
    r = cluster.post("n1", "/api/collect", json={})
    H.check_headers(r, "n1")
    assert r.status_code == 200, H.show(r)
    doc = r.json()
    assert doc["status"] == "accepted" and isinstance(doc["message"], str) and doc["timestamp"], doc
    listed = cluster.get("n1", "/api/v1/clusters").json()
    clusters = listed["clusters"] if isinstance(listed, dict) else listed
    # one queued job per registered cluster (none here: "No cluster to collect")
    assert len(doc["jobs"]) == len(clusters), doc
    assert all(j["status"] == "queued" and j["id"] and j["cluster_id"] for j in doc["jobs"]), doc
    r = cluster.post("n1", "/api/collect", json={}, key=None)
    H.assert_error(r, 401, "UNAUTHORIZED")


def test_client_key_forbidden_for_other_client(cluster):
    comp = Component(PROD_CLIENT, "prod", "fb", f"fb-{H.uid()}", "app")
    i = cluster.write("n1", comp, "1.0")
    for node in NODES:
        cluster.wait_applied(node, i)
        r = cluster.current(node, PROD_CLIENT, "prod", key=DEV_KEY)
        H.assert_error(r, 403, "FORBIDDEN")
        r = cluster.history(node, comp, key=DEV_KEY)
        H.assert_error(r, 403, "FORBIDDEN")
        r = cluster.post(node, "/api/ping", key=DEV_KEY,
                         json={"client_name": PROD_CLIENT, "env_name": "fb-ping"})
        H.assert_error(r, 403, "FORBIDDEN")
        body = H.release_body("2.0-forbidden", client=PROD_CLIENT, env="prod")
        r = cluster.collect(node, comp.ns, comp.kind, comp.workload, comp.container, body,
                            key=DEV_KEY)
        H.assert_error(r, 403, "FORBIDDEN")
    # nothing changed
    for node in NODES:
        rels = cluster.releases(node, comp, consistency="linearizable")
        assert tags(rels) == ["1.0"], rels
    b = cluster.get("n1", "/api/clients-environments",
                    params={"consistency": "linearizable"}).json()
    assert "fb-ping" not in b["ping_statuses"].get(PROD_CLIENT, {}), b["ping_statuses"]
    assert "fb-ping" not in b["clients_environments"].get(PROD_CLIENT, []), b


def test_client_key_own_client(cluster):
    u = H.uid()
    # no client_name: defaults to the key's client
    body = H.release_body(f"own-{u}", env="dev")
    r = cluster.collect("n3", "ownns", "Deployment", f"own-{u}", "app", body, key=DEV_KEY)
    assert r.status_code == 200, H.show(r)
    i = H.idx(r)
    comp = Component(DEV_CLIENT, "dev", "ownns", f"own-{u}", "app")
    for node in NODES:
        rels = cluster.releases(node, comp, index=i, key=DEV_KEY)
        assert tags(rels) == [f"own-{u}"], rels
        rels = cluster.releases(node, comp, index=i, key=ADMIN_KEY)
        assert tags(rels) == [f"own-{u}"], rels
        r = cluster.current(node, DEV_CLIENT, "dev", key=DEV_KEY, index=i)
        assert r.status_code == 200, H.show(r)
        b = r.json()
        e = current_entry(b, "ownns", f"own-{u}", "app")
        assert e is not None and e["image_tag"] == f"own-{u}", b
        for entries in b["namespaces"].values():
            for x in entries:
                assert x["client_name"] == DEV_CLIENT, x
    # explicit own client_name is fine too
    body = H.release_body(f"own2-{u}", client=DEV_CLIENT, env="dev")
    r = cluster.collect("n1", "ownns", "Deployment", f"own-{u}", "app", body, key=DEV_KEY)
    assert r.status_code == 200, H.show(r)
    r = cluster.post("n2", "/api/ping", key=DEV_KEY, json={"client_name": DEV_CLIENT, "env_name": "dev"})
    assert r.status_code == 200, H.show(r)


def test_client_key_sees_only_its_client(cluster):
    cluster.write("n1", Component(PROD_CLIENT, "prod", "vis", f"vis-{H.uid()}", "app"), "1")
    i = cluster.write("n1", Component(DEV_CLIENT, "dev", "vis", f"vis-{H.uid()}", "app"), "1")
    for node in NODES:
        cluster.wait_applied(node, i)
        r = cluster.get(node, "/api/clients-environments", key=DEV_KEY)
        assert r.status_code == 200, H.show(r)
        b = r.json()
        assert set(b["clients_environments"]) == {DEV_CLIENT}, b
        assert set(b["ping_statuses"]) <= {DEV_CLIENT}, b
        r = cluster.get(node, "/api/clients-environments", key=ADMIN_KEY)
        b = r.json()
        assert {DEV_CLIENT, PROD_CLIENT} <= set(b["clients_environments"]), b
