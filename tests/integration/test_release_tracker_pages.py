"""What the Release Tracker's own web pages read, on a leader and a follower.

The pages (public repository rogosprojects/krelease-tracker, web/static/)
are the seed's real clients: each test names the file and function whose
reads it asserts, so a page pointed at a shiplog node keeps working. Where
the seed's document (seeds/release-tracker-api.md) and its implementation
(internal/api/handlers.go) differ, both shapes are asserted."""

import urllib.parse

import pytest

import harness as H
from harness import ADMIN_KEY, PROD_CLIENT, PROD_KEY, Component

ROLES = ("leader", "follower")
RELEASE_ROW = {  # internal/database/models.go Release, as history rows carry it
    "id": int, "namespace": str, "workload_name": str, "workload_type": str,
    "container_name": str, "image_repo": str, "image_name": str, "image_tag": str,
    "image_sha": str, "client_name": str, "env_name": str, "first_seen": str,
    "last_seen": str, "created_at": str, "updated_at": str,
}


def node_of(cluster, role):
    return cluster.leader() if role == "leader" else cluster.followers()[0]


def assert_row(row):
    for k, t in RELEASE_ROW.items():
        assert isinstance(row.get(k), t) and not isinstance(row.get(k), bool), (k, row)
    for k in ("first_seen", "last_seen", "created_at", "updated_at"):
        H.parse_ts(row[k])


@pytest.fixture(scope="module")
def seeded(cluster):
    """One client with two environments, two namespaces and a history."""
    client = f"pages-{H.uid()}"
    comps = {
        "web": Component(client, "prod", "frontend", "web", "nginx"),
        "db": Component(client, "prod", "data", "db", "postgres", kind="StatefulSet"),
        "web_stg": Component(client, "staging", "frontend", "web", "nginx"),
    }
    cluster.write("n1", comps["web"], "1.0.0", released_at="2024-01-01T00:00:00Z")
    cluster.write("n2", comps["web"], "1.1.0", released_at="2024-02-01T00:00:00Z")
    cluster.write("n3", comps["db"], "15.2")
    last = cluster.write("n1", comps["web_stg"], "1.2.0")
    r = cluster.post("n2", "/api/ping", json={"client_name": client, "env_name": "prod",
                                              "slave_version": "v1.0.0"})
    assert r.status_code == 200, H.show(r)
    last = max(last, H.idx(r))
    cluster.wait_all_applied(last)
    return client, comps, last


@pytest.mark.parametrize("role", ROLES)
def test_config_as_dashboard_reads_it(cluster, role):
    """web/static/js/dashboard.js loadConfig: the master control panel only
    when mode is "master" and api_key_type.is_admin; a client key's panel
    from authenticated_client. timeline.js/badges.js read client_name,
    env_name."""
    n = node_of(cluster, role)
    b = cluster.get(n, "/api/config").json()
    assert b["mode"] == "master", b
    assert b["api_key_type"]["is_admin"] is True and b["api_key_type"]["authenticated_client"] == "", b
    assert isinstance(b["client_name"], str) and isinstance(b["env_name"], str), b
    b = cluster.get(n, "/api/config", key=PROD_KEY, auth="header").json()
    assert b["mode"] == "master"
    assert b["api_key_type"] == {"is_admin": False, "authenticated_client": PROD_CLIENT}, b


@pytest.mark.parametrize("role", ROLES)
def test_clients_environments_as_dashboard_and_compare_read_it(cluster, seeded, role):
    """dashboard.js loadClientsEnvironments / renderClientsTable:
    clients_environments[client] (compare.js loadEnvironments too),
    ping_statuses[client][env].status and .last_ping, statistics.total_*."""
    client, _, last = seeded
    n = node_of(cluster, role)
    cluster.wait_applied(n, last)
    b = cluster.get(n, "/api/clients-environments").json()
    assert sorted(b["clients_environments"][client]) == ["prod", "staging"], b
    prod = b["ping_statuses"][client]["prod"]
    assert prod["status"] == "online", prod
    H.parse_ts(prod["last_ping"])
    stg = b["ping_statuses"][client]["staging"]
    assert stg["status"] == "never" and "last_ping" not in stg, stg
    for k in ("total_clients", "total_environments", "total_releases"):
        assert isinstance(b["statistics"][k], int), b["statistics"]
    assert b["statistics"]["total_releases"] >= 3
    H.parse_ts(b["timestamp"])


@pytest.mark.parametrize("role", ROLES)
def test_current_as_dashboard_reads_it(cluster, seeded, role):
    """dashboard.js processReleasesData: ordered_namespaces[].name and
    .releases; renderTable reads namespace, workload_type, workload_name,
    container_name, image_repo, image_name, image_tag, image_sha, last_seen;
    updateStats reads total, namespaces and timestamp. compare.js
    processComparisonData reads namespaces[ns][].workload_name,
    container_name, image_tag, image_sha, last_seen."""
    client, comps, last = seeded
    n = node_of(cluster, role)
    b = cluster.current(n, client, "prod", index=last).json()
    names = [o["name"] for o in b["ordered_namespaces"]]
    assert sorted(names) == ["data", "frontend"], b
    for o in b["ordered_namespaces"]:
        assert o["releases"] == b["namespaces"][o["name"]]
        for row in o["releases"]:
            assert_row(row)
            assert row["namespace"] == o["name"]
    web = b["namespaces"]["frontend"][0]
    assert (web["workload_type"], web["workload_name"], web["container_name"]) == ("Deployment", "web", "nginx")
    assert web["image_tag"] == "1.1.0" and web["image_sha"].startswith("sha256:"), web
    assert b["namespaces"]["data"][0]["workload_type"] == "StatefulSet"
    assert b["total"] == 2
    # timestamp: when this client/environment last changed (the implementation's
    # GetLastClientEnvUpdate), the newest last_seen of its rows
    newest = max(H.parse_ts(r["last_seen"]) for rows in b["namespaces"].values() for r in rows)
    assert H.parse_ts(b["timestamp"]) == newest, b["timestamp"]


@pytest.mark.parametrize("role", ROLES)
def test_history_as_timeline_reads_it(cluster, seeded, role):
    """timeline.js loadTimeline: data.history.releases (full rows, newest
    first: extractCurrentReleaseFromHistory takes [0]), releases[0].
    workload_type; renderTimeline reads image_tag, image_sha, image_repo,
    image_name, first_seen, last_seen. The document's releases/total too."""
    client, comps, last = seeded
    n = node_of(cluster, role)
    comp = comps["web"]
    r = cluster.history(n, comp, index=last)
    assert r.status_code == 200, H.show(r)
    b = r.json()
    hist = b["history"]
    assert [e["image_tag"] for e in hist["releases"]] == ["1.1.0", "1.0.0"], b
    assert hist["total"] == 2 and b["total"] == 2
    assert b["releases"] == hist["releases"]
    for row in hist["releases"]:
        assert_row(row)
        assert row["workload_type"] == "Deployment"
    assert H.same_instant(hist["releases"][1]["first_seen"], "2024-01-01T00:00:00Z")
    assert b["component"]["namespace"] == "frontend" and b["component"]["workload_name"] == "web"
    # timeline.js fetchEnvironmentReleases skips environments that answer !ok
    missing = Component(client, "nowhere", "frontend", "web", "nginx")
    assert cluster.history(n, missing).status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_collect_now_as_dashboard_sends_it(cluster, role):
    """dashboard.js triggerCollection: POST /api/collect with Content-Type
    application/json, X-API-Key and no body; success is status "accepted"."""
    n = node_of(cluster, role)
    r = cluster.request(n, "POST", "/api/collect", auth="header",
                        headers={"Content-Type": "application/json"}, data=b"")
    assert r.status_code == 200, H.show(r)
    b = r.json()
    assert b["status"] == "accepted", b
    assert isinstance(b["message"], str)
    H.parse_ts(b["timestamp"])


@pytest.mark.parametrize("role", ROLES)
def test_keys_as_the_pages_send_them(cluster, seeded, role):
    """dashboard.js/timeline.js/badges.js getFetchOptions: X-API-Key from
    ?apikey= of the page; compare.js: Authorization: Bearer; routes.go
    extractAPIKey: ?apikey= itself. handleAuthError only reads status 401."""
    client, _, last = seeded
    n = node_of(cluster, role)
    path = f"/api/releases/current?client_name={client}&env_name=prod"
    for auth in ("header", "bearer", "query"):
        assert cluster.get(n, path, auth=auth).status_code == 200, auth
        assert cluster.get(n, path, key="wrong-key", auth=auth).status_code == 401, auth
    assert cluster.get(n, path, key=None).status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_badge_urls_as_badge_pages_build_them(cluster, seeded, role):
    """badges.js generateBadge and badge-summary.js: /badges/{key}/{client}/
    {env}/{kind}/{workload}/{container}, each part encodeURIComponent'ed;
    the seed's texts (internal/api/badges.go) and colours."""
    client, comps, last = seeded
    n = node_of(cluster, role)
    cluster.wait_applied(n, last)
    enc = urllib.parse.quote

    def badge(*parts):
        r = cluster.get(n, "/badges/" + "/".join(enc(p, safe="") for p in parts), key=None)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml"), H.show(r)
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "no-cache" in r.headers["Cache-Control"]
        return r

    r = badge(ADMIN_KEY, client, "prod", "Deployment", "web", "nginx")
    assert H.badge_colours(r.text) == {"green"} and "1.1.0" in r.text
    r = badge(ADMIN_KEY, client, "prod", "Deployment", "gone", "nginx")
    assert H.badge_colours(r.text) == {"gray"} and "not deployed" in r.text
    r = badge("wrong", client, "prod", "Deployment", "web", "nginx")
    assert H.badge_colours(r.text) == {"red"} and "invalid" in r.text
    r2 = badge(PROD_KEY, client, "prod", "Deployment", "web", "nginx")  # forbidden: the same answer (no key oracle)
    assert r2.text == r.text
    # an incomplete or malformed badge path is still a red badge, not a JSON 404
    for path in ("/badges", f"/badges/{ADMIN_KEY}/{client}/prod", f"/badges/{ADMIN_KEY}/{client}/prod/Deployment//nginx",
                 f"/badges/{ADMIN_KEY}/{client}/prod/Deployment/web/nginx/extra"):
        r = cluster.get(n, path, key=None)
        assert r.status_code == 200 and H.badge_colours(r.text) == {"red"}, H.show(r)
        assert "invalid request" in r.text, r.text


def test_yellow_badge_multiple_namespaces(cluster):
    """badges.go CreateMultipleFoundBadge: the workload in several namespaces."""
    client = f"yel-{H.uid()}"
    cluster.write("n1", Component(client, "prod", "a", "api", "app"), "1")
    i = cluster.write("n2", Component(client, "prod", "b", "api", "app"), "2")
    for n in H.NODE_NAMES:
        cluster.wait_applied(n, i)
        r = cluster.get(n, f"/badges/{ADMIN_KEY}/{client}/prod/Deployment/api/app", key=None)
        assert H.badge_colours(r.text) == {"yellow"} and "multiple found" in r.text, r.text


@pytest.mark.parametrize("role", ROLES)
def test_manual_collect_page_cross_origin(cluster, role):
    """web/static/manual-collect-client.html: a PUT from another origin with
    Authorization and Content-Type: application/json, so the browser first
    sends a CORS preflight; the answer must allow it."""
    n = node_of(cluster, role)
    path = "/api/collect/production/Deployment/cors-app/web"
    r = cluster.request(n, "OPTIONS", path, key=None, headers={
        "Origin": "null", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 204, H.show(r)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed, r.headers
    r = cluster.request(n, "PUT", path, headers={"Origin": "null"},
                        json={"image_tag": "1.0", "image_sha": "sha256:" + "c" * 64,
                              "released_at": "2023-12-01T10:30:00.000Z"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*", H.show(r)
    assert r.json()["status"] == "success"
    # without an Origin nothing changes for other clients
    r = cluster.get(n, "/api/config")
    assert "Access-Control-Allow-Origin" not in r.headers
