"""Collector and scheduler on real nodes against the fake Kubernetes API
server (tests/fake_k8s): registered clusters, collection into current and
history on every node, rollouts and rollbacks, failures recorded as health
and jobs, POST /api/collect, one owner per cluster, lease takeover."""
import os
import sys
import time

import pytest

import harness as H

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s"))
import fake_k8s as F  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s", "fixtures", "basic.json")
TOKEN = "collector-test-token"
CLIENT, ENV = H.PROD_CLIENT, "k8s-prod"


@pytest.fixture
def k8s(tmp_path):
    pki = F.make_pki(tmp_path / "pki")
    cluster = F.FakeCluster(token=TOKEN)
    cluster.load_fixture(FIXTURE)
    srv = F.FakeK8sServer(cluster, pki=pki)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def register(c, node, srv, **extra):
    body = {"name": "fake-" + H.uid(), "server": srv.url, "client_name": CLIENT, "env_name": ENV,
            "token": TOKEN, "ca_cert": srv.ca_pem, "labels": {"team": "platform"}}
    body.update(extra)
    r = c.post(node, "/api/v1/clusters", json=body)
    assert r.status_code == 201, H.show(r)
    assert TOKEN not in r.text and "BEGIN CERTIFICATE" not in r.text  # secrets never echoed
    doc = r.json()
    assert doc["credentials"] == {"token": True, "ca_cert": True, "client_cert": False, "client_key": False}
    return doc


def current(c, node):
    r = c.get(node, "/api/releases/current", params={"client_name": CLIENT, "env_name": ENV})
    assert r.status_code == 200, H.show(r)
    return {(row["namespace"], row["workload_type"], row["workload_name"], row["container_name"]): row
            for rows in r.json()["namespaces"].values() for row in rows}


def test_collection_rollout_rollback_and_failures(cluster_factory, k8s):
    c = cluster_factory()
    names = c.names
    doc = register(c, names[1], k8s)
    cid = doc["id"]
    key = ("production", "Deployment", "web", "nginx")

    def collected(node):
        rows = current(c, node)
        return key in rows and rows[key]["image_tag"] == "1.21.0"
    for n in names:
        H.wait_until(lambda: collected(n), 30, what=f"first collection visible on {n}")
    rows = current(c, names[0])
    web = rows[key]
    assert web["image_repo"] == "docker.io" and web["image_name"] == "nginx"
    assert web["image_sha"] == F.default_digest("nginx:1.21.0")  # the digest the pods run
    init = rows.get(("production", "Deployment", "web", "init-config"))  # the fixture's init container
    assert init is not None, sorted(rows)
    assert (init["image_repo"], init["image_name"], init["image_tag"]) == ("docker.io", "busybox", "1.36.1"), init
    api = [v for k, v in rows.items() if k[2] == "api" and v["image_name"] == "api"]
    assert api and api[0]["image_repo"] == "registry.local:5000/team" and api[0]["image_tag"] == "2.3.1"

    # A rollout, then a rollback: new history entries, newest first, on every node.
    k8s.cluster.set_image("Deployment", "production", "web", "nginx", "nginx:1.22.0")
    H.wait_until(lambda: current(c, names[2])[key]["image_tag"] == "1.22.0", 30, what="rollout collected")
    k8s.cluster.set_image("Deployment", "production", "web", "nginx", "nginx:1.21.0")
    H.wait_until(lambda: current(c, names[0])[key]["image_tag"] == "1.21.0", 30, what="rollback collected")
    for n in names:
        def hist():
            r = c.get(n, f"/api/releases/history/{CLIENT}/{ENV}/production/web/nginx")
            return [e["image_tag"] for e in r.json().get("releases", [])] if r.status_code == 200 else []
        H.wait_until(lambda: hist()[:3] == ["1.21.0", "1.22.0", "1.21.0"], 15, what=f"history on {n}")

    # Health and the lease holder are visible on any node.
    h = c.get(names[2], f"/api/v1/clusters/{cid}/health").json()
    assert h["status"] == "healthy" and h["consecutive_failures"] == 0, h
    assert h["lease"] and h["lease"]["holder"] in names and h["lease"]["live"], h

    # All scheduled runs so far came from one node: one owner per cluster.
    jobs = c.get(names[0], "/api/v1/jobs", params={"cluster_id": cid, "per_page": 500}).json()["jobs"]
    finished = [j for j in jobs if j["status"] == "success"]
    assert finished and len({j["node"] for j in finished}) == 1, jobs
    assert all(j["counts"]["observations"] >= 6 for j in finished)

    # A revoked token: runs fail, health and jobs say why; nothing crashes.
    k8s.cluster.set_token("another-token")
    def failing():
        hh = c.get(names[0], f"/api/v1/clusters/{cid}/health").json()
        return hh["status"] == "failing" and "401" in (hh["last_error"] or "")
    H.wait_until(failing, 30, what="401 recorded as cluster health")
    def failed_jobs():
        return [j for j in c.get(names[1], "/api/v1/jobs", params={"status": "failed"}).json()["jobs"]
                if j["cluster_id"] == cid]
    H.wait_until(failed_jobs, 10, what="failed job listed on another node")
    assert "401" in failed_jobs()[0]["error"]
    k8s.cluster.set_token(TOKEN)
    H.wait_until(lambda: c.get(names[0], f"/api/v1/clusters/{cid}/health").json()["status"] == "healthy", 30,
                 what="recovery after the token is valid again")


def test_manual_collect_and_lease_takeover(cluster_factory, k8s):
    c = cluster_factory(collector={"interval": "60s"})  # only manual runs and the first one
    names = c.names
    cid = register(c, names[0], k8s)["id"]
    health = lambda n: c.get(n, f"/api/v1/clusters/{cid}/health").json()  # noqa: E731
    H.wait_until(lambda: (health(names[0]).get("lease") or {}).get("live"), 20, what="a lease is granted")
    holder = health(names[0])["lease"]["holder"]

    # POST /api/collect starts a run now, wherever the lease is, answered with job ids.
    other = next(n for n in names if n != holder)
    before = k8s.cluster.count("/apis/apps/v1/deployments")
    r = c.post(other, "/api/collect", json={})
    assert r.status_code == 200, H.show(r)
    ids = [j["id"] for j in r.json()["jobs"] if j["cluster_id"] == cid]
    assert len(ids) == 1
    def done():
        j = c.get(other, f"/api/v1/jobs/{ids[0]}")
        return j.status_code == 200 and j.json()["status"] == "success" and j.json()["node"] == holder
    H.wait_until(done, 20, what="the manual job ran on the lease holder")
    assert k8s.cluster.count("/apis/apps/v1/deployments") > before
    assert c.get(other, "/api/v1/jobs/nope").status_code == 404

    # The holder dies: another node takes the lease within two lease periods (+ slack).
    c.kill9(holder)
    t0 = time.monotonic()
    survivor = next(n for n in names if n != holder)
    H.wait_until(lambda: (health(survivor).get("lease") or {}).get("holder") not in (None, holder)
                 and health(survivor)["lease"]["live"], 15, what="lease takeover")
    took = time.monotonic() - t0
    print(f"lease takeover after kill -9 of {holder}: {took * 1000:.0f} ms (lease 2 s)")
    assert took < 2 * 2 + 3
    c.restart(holder)


def test_cluster_registry_validation_and_access(cluster, k8s):
    n = cluster.names[0]
    bad = [
        ({}, 400),
        ({"name": "x", "client_name": CLIENT, "env_name": ENV}, 400),  # no server
        ({"name": "x", "server": "ftp://h", "client_name": CLIENT, "env_name": ENV}, 400),
        ({"name": "x", "server": k8s.url, "client_name": CLIENT, "env_name": ENV, "namespaces": "all"}, 400),
        ({"name": "x", "server": k8s.url, "client_name": CLIENT, "env_name": ENV, "client_cert": "pem"}, 400),
        ({"name": "x", "server": k8s.url, "client_name": CLIENT, "env_name": ENV, "kubeconfig": "!!"}, 400),
        ({"name": "x", "server": k8s.url, "client_name": CLIENT, "env_name": ENV, "interval": "0s"}, 400),
    ]
    for body, status in bad:
        r = cluster.post(n, "/api/v1/clusters", json=body)
        H.assert_error(r, status, "VALIDATION_ERROR")
    # Client keys may not register clusters; they see only their client's clusters.
    r = cluster.post(n, "/api/v1/clusters", key=H.PROD_KEY,
                     json={"name": "y", "server": k8s.url, "client_name": CLIENT, "env_name": ENV})
    H.assert_error(r, 403, "FORBIDDEN")
    kc = k8s.kubeconfig(token=TOKEN)
    import base64
    r = cluster.post(n, "/api/v1/clusters", json={"name": "from-kubeconfig", "client_name": H.DEV_CLIENT,
                                                  "env_name": "dev", "kubeconfig": base64.b64encode(kc.encode()).decode()})
    assert r.status_code == 201, H.show(r)
    doc = r.json()
    assert doc["server"] == k8s.url and doc["credentials"]["token"] and doc["credentials"]["ca_cert"]
    r = cluster.post(n, "/api/v1/clusters", json={"name": "from-kubeconfig", "server": k8s.url,
                                                  "client_name": H.DEV_CLIENT, "env_name": "dev"})
    H.assert_error(r, 409, "CONFLICT")
    assert cluster.get(n, f"/api/v1/clusters/{doc['id']}", key=H.PROD_KEY).status_code == 404  # ids of other clients do not leak
    listed = cluster.get(n, "/api/v1/clusters", key=H.PROD_KEY).json()["clusters"]
    assert all(x["client_name"] == CLIENT for x in listed)
    # PUT keeps sealed credentials when none are given; DELETE removes it everywhere.
    r = cluster.put(n, f"/api/v1/clusters/{doc['id']}", json={"name": "renamed", "server": k8s.url,
                                                             "client_name": H.DEV_CLIENT, "env_name": "dev"})
    assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["credentials"]["token"], H.show(r)
    r = cluster.request(n, "DELETE", f"/api/v1/clusters/{doc['id']}")
    assert r.status_code == 200, H.show(r)
    for m in cluster.names:
        idx = H.idx(r)
        g = cluster.get(m, f"/api/v1/clusters/{doc['id']}", params={"index": idx, "wait": "5s"})
        H.assert_error(g, 404, "NOT_FOUND")


def test_configured_namespace_order_garbage_and_field_errors(cluster_factory, k8s):
    c = cluster_factory()
    n = c.names[0]
    # Unknown fields and bad PEM are refused with details.
    r = c.post(n, "/api/v1/clusters", json={"name": "z", "server": k8s.url, "client_name": CLIENT,
                                            "env_name": ENV, "tokn": "typo", "colour": 1})
    H.assert_error(r, 400, "VALIDATION_ERROR")
    assert sorted(d["field"] for d in r.json()["error"]["details"]) == ["colour", "tokn"]
    r = c.post(n, "/api/v1/clusters", json={"name": "z", "server": k8s.url, "client_name": CLIENT,
                                            "env_name": ENV, "ca_cert": "not a pem"})
    H.assert_error(r, 400, "VALIDATION_ERROR")
    # The collector's namespaces, in the configured order (not alphabetical).
    cid = register(c, n, k8s, namespaces=["production", "monitoring", "default"])["id"]
    H.wait_until(lambda: len(c.get(n, "/api/releases/current",
                                   params={"client_name": CLIENT, "env_name": ENV}).json()["ordered_namespaces"]) == 3,
                 30, what="three namespaces collected")
    doc = c.get(n, "/api/releases/current", params={"client_name": CLIENT, "env_name": ENV}).json()
    assert [o["name"] for o in doc["ordered_namespaces"]] == ["production", "monitoring", "default"], \
        doc["ordered_namespaces"]
    # An API server answering garbage JSON fails the run cleanly.
    k8s.cluster.set_failure("badjson")
    H.wait_until(lambda: "not a Kubernetes list" in (c.get(n, f"/api/v1/clusters/{cid}/health").json()["last_error"] or ""),
                 30, what="garbage recorded as a failed run")
    k8s.cluster.set_failure(None)
    assert all(c.health(m)[0] == 200 for m in c.names)  # every node still serves


def start_agent(c, tmp_path, k8s, spool):
    kc = tmp_path / "kubeconfig"
    kc.write_text(k8s.kubeconfig(token=TOKEN))
    cfg = tmp_path / "agent.toml"
    servers = ", ".join(f'"{c.nodes[n].url}"' for n in c.names)
    cfg.write_text(f"""[agent]
servers = [{servers}]
api_key = "{H.PROD_KEY}"
client_name = "{CLIENT}"
env_name = "agent-env"
kubeconfig = "{kc}"
namespaces = ["production", "default"]
interval = "1s"
ping_interval = "1s"
timeout = "2s"
spool = "{spool}"
""")
    log = open(tmp_path / "agent.log", "ab")
    import subprocess
    proc = subprocess.Popen([H.SHIPLOGD, "--agent", "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    H._register(proc)
    return proc


def stop_agent(proc):
    proc.terminate()
    proc.wait(timeout=10)


def test_agent_spools_while_the_cluster_is_away(cluster_factory, k8s, tmp_path):
    c = cluster_factory()
    agents = []
    try:
        agent_scenario(c, k8s, tmp_path, agents)
    finally:
        for a in agents:
            if a.poll() is None:
                stop_agent(a)
        print((tmp_path / "agent.log").read_text()[-2000:])


def agent_scenario(c, k8s, tmp_path, agents):
    n = c.names[0]
    spool = tmp_path / "spool"
    agent = start_agent(c, tmp_path, k8s, spool)
    agents.append(agent)
    hist_path = f"/api/releases/history/{CLIENT}/agent-env/production/web/nginx"

    def tags():
        r = c.get(n, hist_path, key=H.PROD_KEY)
        return [e["image_tag"] for e in r.json()["releases"]] if r.status_code == 200 else []
    H.wait_until(lambda: tags()[:1] == ["1.21.0"], 20, what="agent delivery")
    pings = c.get(n, "/api/clients-environments", key=H.PROD_KEY).json()["ping_statuses"][CLIENT]
    assert pings["agent-env"]["status"] == "online"

    # The whole shiplog cluster goes away; the agent keeps collecting into its spool.
    for m in c.names:
        c.stop(m)
    k8s.cluster.set_image("Deployment", "production", "web", "nginx", "nginx:1.22.0")
    H.wait_until(lambda: len(list(spool.glob("*.json"))) >= 2, 20, what="runs spooled")
    # The agent restarts meanwhile: the spool survives it.
    stop_agent(agent)
    agent = start_agent(c, tmp_path, k8s, spool)
    agents.append(agent)
    k8s.cluster.set_image("Deployment", "production", "web", "nginx", "nginx:1.23.0")

    def spooled(text):
        for p in spool.glob("*.json"):
            try:
                if text in p.read_bytes():
                    return True
            except FileNotFoundError:
                pass  # delivered meanwhile
        return False
    H.wait_until(lambda: spooled(b"1.23.0"), 20, what="the second rollout spooled")
    for m in c.names:
        c.start(m, wait=False)
    c.wait_leader()
    H.wait_until(lambda: tags()[:3] == ["1.23.0", "1.22.0", "1.21.0"], 40, what="every spooled run delivered in order")
    H.wait_until(lambda: not list(spool.glob("*.json")), 20, what="spool drained")


def test_clusters_listed_in_cluster_toml(cluster_factory, k8s, tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "ca.pem").write_text(k8s.ca_pem)
    c = cluster_factory(start=False)
    c.config_path.write_text(c.config_path.read_text() + f"""
[[k8s_cluster]]
name = "from-config"
server = "{k8s.url}"
client_name = "{CLIENT}"
env_name = "cfg-env"
token_file = "{tmp_path / 'token'}"
ca_file = "{tmp_path / 'ca.pem'}"
namespaces = ["production"]
""")
    c.start_all()
    n = c.names[0]
    H.wait_until(lambda: any(x["id"] == "cfg-from-config" for x in c.get(n, "/api/v1/clusters").json()["clusters"]),
                 20, what="the configured cluster registered")
    doc = c.get(n, "/api/v1/clusters/cfg-from-config").json()
    assert doc["credentials"]["token"] and doc["credentials"]["ca_cert"] and TOKEN not in str(doc)
    H.wait_until(lambda: c.get(n, "/api/releases/current", params={"client_name": CLIENT, "env_name": "cfg-env"})
                 .json()["total"] > 0, 30, what="the configured cluster collected")


def test_one_bad_workload_does_not_refuse_the_run(cluster_factory, k8s):
    """A workload whose names no writer may store (here together longer than
    the 497 characters a component key holds) is skipped and named in the
    job; the rest of the run is recorded, and the job ends."""
    long_name, long_container = "w" * 253, "c" * 253
    k8s.cluster.add_workload("Deployment", "production", long_name, containers=((long_container, "nginx:1.25"),))
    c = cluster_factory()
    n = c.names[2]
    cid = register(c, n, k8s)["id"]
    H.wait_until(lambda: ("production", "Deployment", "web", "nginx") in current(c, n), 30, what="the others collected")
    jobs = c.get(n, "/api/v1/jobs", params={"cluster_id": cid, "per_page": 50}).json()["jobs"]
    done = [j for j in jobs if j["status"] == "success"]
    assert done and all(j["status"] != "running" or j is jobs[0] for j in jobs), jobs
    err = done[-1]["error"]
    assert err.startswith("skipped 1 containers, first production/Deployment/www") and "497" in err, err
    assert not any(k[2] == long_name for k in current(c, n))
    # The same observation through the API is a 400 that names why, and changes nothing.
    obs = {"namespace": "production", "workload_kind": "Deployment", "workload_name": long_name,
           "container_name": long_container, "image_tag": "1.25", "image_sha": ""}
    r = c.post(n, "/api/v1/observations", json={"client_name": CLIENT, "env_name": ENV, "observations": [obs]})
    H.assert_error(r, 400, "VALIDATION_ERROR")
    assert "497" in r.text
    bad_nul = dict(obs, workload_name="web", container_name="nginx", image_tag="1.2\u0000evil")
    r = c.post(n, "/api/v1/observations", json={"client_name": CLIENT, "env_name": ENV, "observations": [bad_nul]})
    H.assert_error(r, 400, "VALIDATION_ERROR")
    assert current(c, n)[("production", "Deployment", "web", "nginx")]["image_tag"] == "1.21.0"
