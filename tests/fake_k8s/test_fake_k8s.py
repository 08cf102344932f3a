"""Tests of the fake Kubernetes API server itself."""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

import fake_k8s as F

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

TOKEN = "s3cret-token"
T = 5  # seconds, every HTTP call


def get(srv, path, token=TOKEN, **kw):
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    kw.setdefault("timeout", T)
    kw.setdefault("verify", srv.ca_path if srv.tls else None)
    return requests.get(srv.url + path, headers=headers, **kw)


def items(srv, path, **kw):
    r = get(srv, path, **kw)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def by_name(objs):
    return {o["metadata"]["name"]: o for o in objs}


def pods_of(srv, ns, app):
    return items(srv, "/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (ns, app))


def image_ids(pods, container):
    out = []
    for p in pods:
        for s in p["status"].get("containerStatuses", []) + p["status"].get("initContainerStatuses", []):
            if s["name"] == container:
                out.append(s["imageID"])
    return out


HEX64 = re.compile(r"sha256:[0-9a-f]{64}$")


# ---------------------------------------------------------------------------

def test_pki_files_and_san(pki):
    for k in ("ca_cert", "ca_key", "server_cert", "server_key", "client_cert", "client_key"):
        assert os.path.isfile(pki[k])
    assert pki["ca_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in pki["client_key_pem"]
    txt = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", pki["server_cert"]],
                         stdout=subprocess.PIPE, timeout=10, check=True).stdout.decode()
    assert "IP Address:127.0.0.1" in txt and "DNS:localhost" in txt
    v = subprocess.run(["openssl", "verify", "-CAfile", pki["ca_cert"], pki["server_cert"],
                        pki["client_cert"]], stdout=subprocess.PIPE, timeout=10)
    assert v.returncode == 0


def test_version(fake_k8s):
    r = get(fake_k8s, "/version")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    j = r.json()
    assert (j["major"], j["minor"], j["gitVersion"]) == ("1", "28", "v1.28.0")


def test_list_kinds_and_shapes(fake_k8s):
    for path, kind, api in (("/apis/apps/v1/deployments", "DeploymentList", "apps/v1"),
                            ("/apis/apps/v1/statefulsets", "StatefulSetList", "apps/v1"),
                            ("/apis/apps/v1/daemonsets", "DaemonSetList", "apps/v1"),
                            ("/apis/apps/v1/replicasets", "ReplicaSetList", "apps/v1"),
                            ("/api/v1/pods", "PodList", "v1"),
                            ("/api/v1/namespaces", "NamespaceList", "v1")):
        j = get(fake_k8s, path).json()
        assert j["kind"] == kind and j["apiVersion"] == api
        assert j["metadata"]["resourceVersion"].isdigit()
        assert j["items"], path
        for it in j["items"]:
            assert "kind" not in it and "apiVersion" not in it   # like the real server
            assert it["metadata"]["uid"] and it["metadata"]["creationTimestamp"].endswith("Z")

    deps = by_name(items(fake_k8s, "/apis/apps/v1/deployments"))
    assert set(deps) == {"web", "api", "worker", "cache"}
    web = deps["web"]
    md = web["metadata"]
    assert md["namespace"] == "production" and md["generation"] == 1
    assert md["labels"]["tier"] == "frontend"
    assert web["spec"]["selector"]["matchLabels"] == {"app": "web"}
    tmpl = web["spec"]["template"]
    assert tmpl["metadata"]["creationTimestamp"] is None
    assert tmpl["metadata"]["labels"]["app"] == "web"
    assert [(c["name"], c["image"]) for c in tmpl["spec"]["containers"]] == [("nginx", "nginx:1.21.0")]
    assert [(c["name"], c["image"]) for c in tmpl["spec"]["initContainers"]] == \
        [("init-config", "busybox:1.36.1")]
    st = web["status"]
    assert (st["replicas"], st["readyReplicas"], st["updatedReplicas"], st["availableReplicas"]) == (2, 2, 2, 2)
    assert "initContainers" not in deps["cache"]["spec"]["template"]["spec"]
    api = deps["api"]["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in api] == ["registry.local:5000/team/api:2.3.1", "envoyproxy/envoy:v1.27.0"]

    sts = by_name(items(fake_k8s, "/apis/apps/v1/statefulsets"))["db"]
    assert sts["spec"]["replicas"] == 2 and sts["status"]["readyReplicas"] == 2
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]

    ds = by_name(items(fake_k8s, "/apis/apps/v1/daemonsets"))["fluentd"]
    assert ds["status"]["desiredNumberScheduled"] == 3 and ds["status"]["numberReady"] == 3
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "fluent/fluentd:v1.16"

    ns = by_name(items(fake_k8s, "/api/v1/namespaces"))
    assert set(ns) == {"default", "production", "monitoring"}
    assert ns["production"]["status"]["phase"] == "Active"
    assert ns["production"]["metadata"]["labels"]["kubernetes.io/metadata.name"] == "production"


def test_pod_shapes_and_image_ids(fake_k8s):
    pods = items(fake_k8s, "/api/v1/pods")
    assert len(pods) == 2 + 2 + 3 + 2 + 1 + 1
    for p in pods:
        assert p["status"]["phase"] == "Running"
        for s in p["status"]["containerStatuses"]:
            assert s["ready"] is True and s["started"] is True and s["restartCount"] == 0
            assert HEX64.search(s["imageID"]), s["imageID"]
            assert s["containerID"].startswith("containerd://")
    web = pods_of(fake_k8s, "production", "web")
    assert len(web) == 2
    assert image_ids(web, "nginx") == [F.image_id("nginx:1.21.0")] * 2
    assert image_ids(web, "nginx")[0] == "docker.io/library/nginx@sha256:" + \
        hashlib.sha256(b"nginx:1.21.0").hexdigest()
    init = web[0]["status"]["initContainerStatuses"][0]
    assert init["name"] == "init-config" and "terminated" in init["state"]
    assert init["imageID"].startswith("docker.io/library/busybox@sha256:")

    assert image_ids(pods_of(fake_k8s, "production", "api"), "api")[0].startswith(
        "registry.local:5000/team/api@sha256:")
    assert image_ids(pods_of(fake_k8s, "production", "api"), "envoy")[0].startswith(
        "docker.io/envoyproxy/envoy@sha256:")
    worker = pods_of(fake_k8s, "production", "worker")
    assert image_ids(worker, "worker") == [
        "ghcr.io/org/worker@sha256:14c3a6058a0802200419509d33d28726e6f9e00a531bc21a973b38a43a4c14ee"]
    cache = pods_of(fake_k8s, "default", "cache")
    assert cache[0]["status"]["containerStatuses"][0]["image"] == "docker.io/library/redis:latest"
    assert cache[0]["spec"]["containers"][0]["image"] == "redis"
    assert image_ids(cache, "redis")[0].startswith("docker.io/library/redis@sha256:")


def test_docker_runtime_image_ids(fake_k8s):
    fake_k8s.cluster.set_runtime("docker")
    web = pods_of(fake_k8s, "production", "web")
    assert image_ids(web, "nginx")[0].startswith("docker-pullable://nginx@sha256:")
    assert web[0]["status"]["containerStatuses"][0]["image"] == "nginx:1.21.0"
    assert image_ids(pods_of(fake_k8s, "production", "api"), "api")[0].startswith(
        "docker-pullable://registry.local:5000/team/api@sha256:")


def test_namespaced_lists_and_get(fake_k8s):
    prod = by_name(items(fake_k8s, "/apis/apps/v1/namespaces/production/deployments"))
    assert set(prod) == {"web", "api", "worker"}
    assert items(fake_k8s, "/apis/apps/v1/namespaces/monitoring/statefulsets") == []
    assert len(items(fake_k8s, "/apis/apps/v1/namespaces/monitoring/daemonsets")) == 1
    assert len(items(fake_k8s, "/api/v1/namespaces/default/pods")) == 1
    assert items(fake_k8s, "/api/v1/namespaces/nope/pods") == []   # as the real server
    one = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/web").json()
    assert one["kind"] == "Deployment" and one["apiVersion"] == "apps/v1"
    r = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/nope")
    assert r.status_code == 404
    j = r.json()
    assert (j["kind"], j["status"], j["reason"], j["code"]) == ("Status", "Failure", "NotFound", 404)
    assert j["message"] == 'deployments.apps "nope" not found'
    r = get(fake_k8s, "/apis/apps/v1/nonsense")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    ns = get(fake_k8s, "/api/v1/namespaces/monitoring").json()
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == "monitoring"


def test_label_selector(fake_k8s):
    assert len(items(fake_k8s, "/api/v1/pods?labelSelector=app%3Dweb")) == 2
    assert len(items(fake_k8s, "/api/v1/pods?labelSelector=app%3D%3Dweb")) == 2
    sel = "/api/v1/pods?labelSelector=tier%3Dbackend%2Capp%3Ddb"
    assert sorted(p["metadata"]["name"] for p in items(fake_k8s, sel)) == ["db-0", "db-1"]
    # unencoded commas and equals work too
    assert len(items(fake_k8s, "/api/v1/pods?labelSelector=tier=backend,app=api")) == 2
    assert len(items(fake_k8s, "/api/v1/pods", params={"labelSelector": "tier!=backend"})) == 2 + 3 + 1
    assert len(items(fake_k8s, "/api/v1/pods", params={"labelSelector": "app in (web,db)"})) == 4
    assert len(items(fake_k8s, "/api/v1/pods", params={"labelSelector": "app notin (web,db)"})) == 7
    assert len(items(fake_k8s, "/api/v1/pods", params={"labelSelector": "!tier"})) == 4
    assert len(items(fake_k8s, "/api/v1/pods", params={"labelSelector": "tier"})) == 7
    assert items(fake_k8s, "/api/v1/pods?labelSelector=app%3Dnothing") == []
    assert len(items(fake_k8s, "/apis/apps/v1/deployments?labelSelector=tier%3Dbackend")) == 2
    assert len(items(fake_k8s, "/api/v1/namespaces/production/pods?labelSelector=app%3Dweb")) == 2
    assert items(fake_k8s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb") == []
    r = get(fake_k8s, "/api/v1/pods?labelSelector=%3D%3D%3D")
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    # fieldSelector
    assert len(items(fake_k8s, "/api/v1/pods?fieldSelector=metadata.name%3Ddb-1")) == 1
    r = get(fake_k8s, "/api/v1/pods?fieldSelector=spec.bogus%3D1")
    assert r.status_code == 400


def test_pagination(fake_k8s):
    seen, cont, pages = [], None, 0
    while True:
        params = {"limit": "4"}
        if cont:
            params["continue"] = cont
        j = get(fake_k8s, "/api/v1/pods", params=params).json()
        pages += 1
        seen += [p["metadata"]["name"] for p in j["items"]]
        cont = j["metadata"].get("continue")
        if not cont:
            assert "remainingItemCount" not in j["metadata"]
            break
        assert j["metadata"]["remainingItemCount"] > 0
    assert pages == 3 and len(seen) == 11 and len(set(seen)) == 11
    assert seen == [p["metadata"]["name"] for p in items(fake_k8s, "/api/v1/pods")]


def test_owner_reference_chain(fake_k8s):
    rss = by_name(items(fake_k8s, "/apis/apps/v1/namespaces/production/replicasets"))
    deps = by_name(items(fake_k8s, "/apis/apps/v1/deployments"))
    web_pods = pods_of(fake_k8s, "production", "web")
    for p in web_pods:
        (ref,) = p["metadata"]["ownerReferences"]
        assert ref["kind"] == "ReplicaSet" and ref["controller"] is True
        assert ref["apiVersion"] == "apps/v1"
        rs = rss[ref["name"]]
        assert rs["metadata"]["uid"] == ref["uid"]
        assert ref["name"] == "web-" + p["metadata"]["labels"]["pod-template-hash"]
        assert re.match(r"^web-[a-z0-9]{6,10}-[a-z0-9]{5}$", p["metadata"]["name"])
        (dref,) = rs["metadata"]["ownerReferences"]
        assert dref["kind"] == "Deployment" and dref["name"] == "web" and dref["controller"] is True
        assert dref["uid"] == deps["web"]["metadata"]["uid"]
        assert rs["status"]["replicas"] == 2
    for p in pods_of(fake_k8s, "production", "db"):
        (ref,) = p["metadata"]["ownerReferences"]
        sts = by_name(items(fake_k8s, "/apis/apps/v1/statefulsets"))["db"]
        assert (ref["kind"], ref["name"], ref["uid"]) == ("StatefulSet", "db", sts["metadata"]["uid"])
    ds = by_name(items(fake_k8s, "/apis/apps/v1/daemonsets"))["fluentd"]
    nodes = set()
    for p in pods_of(fake_k8s, "monitoring", "fluentd"):
        (ref,) = p["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"]) == ("DaemonSet", ds["metadata"]["uid"])
        nodes.add(p["spec"]["nodeName"])
    assert nodes == {"node-1", "node-2", "node-3"}


def test_auth_401(fake_k8s):
    for tok in (None, "wrong"):
        r = get(fake_k8s, "/apis/apps/v1/deployments", token=tok)
        assert r.status_code == 401
        assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": "Unauthorized",
                            "reason": "Unauthorized", "code": 401}
    r = requests.get(fake_k8s.url + "/version", headers={"Authorization": "Basic " + TOKEN},
                     verify=fake_k8s.ca_path, timeout=T)
    assert r.status_code == 401
    fake_k8s.cluster.set_token("rotated")
    assert get(fake_k8s, "/version").status_code == 401
    assert get(fake_k8s, "/version", token="rotated").status_code == 200
    # read-only
    r = requests.delete(fake_k8s.url + "/api/v1/namespaces/default/pods/x",
                        headers={"Authorization": "Bearer rotated"}, verify=fake_k8s.ca_path,
                        timeout=T)
    assert r.status_code == 405


def test_tls_needs_the_ca(fake_k8s, tmp_path):
    with pytest.raises(requests.exceptions.SSLError):
        get(fake_k8s, "/version", verify=True)
    other = F.make_pki(tmp_path / "other")
    with pytest.raises(requests.exceptions.SSLError):
        get(fake_k8s, "/version", verify=other["ca_cert"])


def test_failure_injection(fake_k8s):
    c = fake_k8s.cluster
    c.fail_next(2)
    for _ in range(2):
        r = get(fake_k8s, "/apis/apps/v1/deployments")
        assert r.status_code == 500
        j = r.json()
        assert (j["kind"], j["reason"], j["code"]) == ("Status", "InternalError", 500)
    assert get(fake_k8s, "/apis/apps/v1/deployments").status_code == 200

    c.fail_next(1, status=503, path="/api/v1/pods")
    assert get(fake_k8s, "/apis/apps/v1/deployments").status_code == 200   # not that path
    r = get(fake_k8s, "/api/v1/pods")
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    assert get(fake_k8s, "/api/v1/pods").status_code == 200

    c.set_failure(500, path="/apis/apps/v1/daemonsets")
    for _ in range(3):
        assert get(fake_k8s, "/apis/apps/v1/daemonsets").status_code == 500
    assert get(fake_k8s, "/version").status_code == 200
    c.set_failure(None)
    assert get(fake_k8s, "/apis/apps/v1/daemonsets").status_code == 200

    c.fail_next(1, status=429)
    r = get(fake_k8s, "/version")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    c.fail_next(1, status=502, body="<html>bad gateway</html>")
    r = get(fake_k8s, "/version")
    assert r.status_code == 502 and r.text == "<html>bad gateway</html>"
    c.fail_next(1, status=401)
    assert get(fake_k8s, "/version").status_code == 401
    c.fail_next(1, status="badjson")
    r = get(fake_k8s, "/version")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    c.fail_next(1, status="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(fake_k8s, "/version")
    c.fail_next(1, status="truncated")
    try:   # urllib3 1.x hands back the short body, 2.x raises
        r = get(fake_k8s, "/api/v1/pods")
        assert len(r.content) < int(r.headers["Content-Length"])
    except requests.exceptions.RequestException:
        pass
    assert get(fake_k8s, "/version").status_code == 200


def test_delay(fake_k8s):
    c = fake_k8s.cluster
    c.set_delay(0.6)
    t0 = time.monotonic()
    assert get(fake_k8s, "/version").status_code == 200
    assert time.monotonic() - t0 >= 0.6
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(fake_k8s, "/version", timeout=0.2)
    c.set_delay(0.6, path="/api/v1/pods")
    t0 = time.monotonic()
    assert get(fake_k8s, "/version").status_code == 200
    assert time.monotonic() - t0 < 0.5
    c.set_delay(0)
    # slow body: headers come at once, the body stalls
    c.set_delay(0.6, after_headers=True)
    t0 = time.monotonic()
    r = get(fake_k8s, "/apis/apps/v1/deployments", stream=True)
    assert r.status_code == 200 and time.monotonic() - t0 < 0.5
    assert len(r.json()["items"]) == 4
    assert time.monotonic() - t0 >= 0.6
    c.set_delay(None)


def test_rollout_and_rollback(fake_k8s):
    c = fake_k8s.cluster
    before = pods_of(fake_k8s, "production", "web")
    old_names = {p["metadata"]["name"] for p in before}
    old_rs = before[0]["metadata"]["ownerReferences"][0]["name"]
    rv0 = int(get(fake_k8s, "/api/v1/pods").json()["metadata"]["resourceVersion"])

    assert c.set_image("Deployment", "production", "web", "nginx", "nginx:1.25.3") is True
    after = pods_of(fake_k8s, "production", "web")
    assert image_ids(after, "nginx") == [F.image_id("nginx:1.25.3")] * 2
    assert image_ids(after, "nginx")[0] != image_ids(before, "nginx")[0]
    assert not old_names & {p["metadata"]["name"] for p in after}
    new_rs = after[0]["metadata"]["ownerReferences"][0]["name"]
    assert new_rs != old_rs
    assert int(get(fake_k8s, "/api/v1/pods").json()["metadata"]["resourceVersion"]) > rv0
    dep = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/web").json()
    assert dep["metadata"]["generation"] == 2
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25.3"
    rss = by_name(items(fake_k8s, "/apis/apps/v1/namespaces/production/replicasets?labelSelector=app%3Dweb"))
    assert rss[old_rs]["spec"]["replicas"] == 0 and rss[new_rs]["spec"]["replicas"] == 2

    # explicit digest (same tag re-pushed)
    digest = "sha256:" + "ab" * 32
    c.set_image("Deployment", "production", "web", "nginx", "nginx:1.25.3", digest=digest)
    assert image_ids(pods_of(fake_k8s, "production", "web"), "nginx") == \
        ["docker.io/library/nginx@" + digest] * 2

    # rollout undo to the previous revision, then rollback by image
    c.rollback("Deployment", "production", "web")
    assert image_ids(pods_of(fake_k8s, "production", "web"), "nginx") == [F.image_id("nginx:1.25.3")] * 2
    c.rollback("Deployment", "production", "web", container="nginx", image="nginx:1.21.0")
    back = pods_of(fake_k8s, "production", "web")
    assert image_ids(back, "nginx") == image_ids(before, "nginx")
    assert back[0]["metadata"]["ownerReferences"][0]["name"] == old_rs   # old RS reused
    dep = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/web").json()
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"

    # init container rollout; StatefulSet / DaemonSet rollouts
    c.set_image("deploy", "production", "web", "init-config", "busybox:1.37.0")
    assert image_ids(pods_of(fake_k8s, "production", "web"), "init-config") == \
        [F.image_id("busybox:1.37.0")] * 2
    c.set_image("sts", "production", "db", "postgres", "postgres:16.1")
    assert image_ids(pods_of(fake_k8s, "production", "db"), "postgres") == [F.image_id("postgres:16.1")] * 2
    c.set_image("DaemonSet", "monitoring", "fluentd", "fluentd", "fluent/fluentd:v1.17")
    assert set(image_ids(pods_of(fake_k8s, "monitoring", "fluentd"), "fluentd")) == \
        {F.image_id("fluent/fluentd:v1.17")}
    with pytest.raises(KeyError):
        c.set_image("Deployment", "production", "web", "nope", "x:1")
    assert c.set_image("sts", "production", "db", "postgres", "postgres:16.1") is False


def test_partial_rollout(fake_k8s):
    c = fake_k8s.cluster
    c.scale("Deployment", "production", "web", 4)
    c.set_image("Deployment", "production", "web", "nginx", "nginx:1.25.3", updated=1)
    ids = image_ids(pods_of(fake_k8s, "production", "web"), "nginx")
    assert sorted(ids) == sorted([F.image_id("nginx:1.25.3")] + [F.image_id("nginx:1.21.0")] * 3)
    dep = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/web").json()
    assert dep["status"]["updatedReplicas"] == 1 and dep["status"]["replicas"] == 4
    assert dep["status"]["conditions"][1]["reason"] == "ReplicaSetUpdated"
    c.set_image("sts", "production", "db", "postgres", "postgres:16.1", updated=1)
    db = by_name(pods_of(fake_k8s, "production", "db"))
    assert image_ids([db["db-1"]], "postgres") == [F.image_id("postgres:16.1")]
    assert image_ids([db["db-0"]], "postgres") == [F.image_id("postgres:15.4")]
    sts = by_name(items(fake_k8s, "/apis/apps/v1/statefulsets"))["db"]
    assert sts["status"]["currentRevision"] != sts["status"]["updateRevision"]
    c.complete_rollout("Deployment", "production", "web")
    assert set(image_ids(pods_of(fake_k8s, "production", "web"), "nginx")) == {F.image_id("nginx:1.25.3")}


def test_delete_and_add_workload(fake_k8s):
    c = fake_k8s.cluster
    c.delete_workload("Deployment", "production", "web")
    assert "web" not in by_name(items(fake_k8s, "/apis/apps/v1/deployments"))
    assert pods_of(fake_k8s, "production", "web") == []
    assert not [r for r in items(fake_k8s, "/apis/apps/v1/replicasets")
                if r["metadata"]["name"].startswith("web-")]
    with pytest.raises(KeyError):
        c.delete_workload("Deployment", "production", "web")
    uid = c.add_workload("Deployment", "staging", "web", containers=[("nginx", "nginx:1.25.3")],
                         replicas=3, labels={"app": "web", "tier": "frontend"})
    assert "staging" in by_name(items(fake_k8s, "/api/v1/namespaces"))
    d = get(fake_k8s, "/apis/apps/v1/namespaces/staging/deployments/web").json()
    assert d["metadata"]["uid"] == uid and d["spec"]["replicas"] == 3
    assert len(pods_of(fake_k8s, "staging", "web")) == 3
    c.add_pod("default", "debug", [("sh", "busybox:1.36")])
    p = get(fake_k8s, "/api/v1/namespaces/default/pods/debug").json()
    assert "ownerReferences" not in p["metadata"]
    c.delete_namespace("staging")
    assert pods_of(fake_k8s, "staging", "web") == []


def test_pods_not_ready(fake_k8s):
    c = fake_k8s.cluster
    c.set_pods_ready("Deployment", "production", "web", False)
    pods = pods_of(fake_k8s, "production", "web")
    for p in pods:
        assert p["status"]["phase"] == "Pending"
        for s in p["status"]["containerStatuses"] + p["status"]["initContainerStatuses"]:
            assert s["imageID"] == "" and s["ready"] is False and s["started"] is False
            assert "waiting" in s["state"]
        ready = [x for x in p["status"]["conditions"] if x["type"] == "Ready"][0]
        assert ready["status"] == "False"
    st = get(fake_k8s, "/apis/apps/v1/namespaces/production/deployments/web").json()["status"]
    assert "readyReplicas" not in st and "availableReplicas" not in st   # omitempty
    assert st["unavailableReplicas"] == 2 and st["replicas"] == 2

    c.set_pods_ready("DaemonSet", "monitoring", "fluentd", False, reason="ImagePullBackOff")
    ds = by_name(items(fake_k8s, "/apis/apps/v1/daemonsets"))["fluentd"]
    assert ds["status"]["numberReady"] == 0 and ds["status"]["desiredNumberScheduled"] == 3
    s = pods_of(fake_k8s, "monitoring", "fluentd")[0]["status"]["containerStatuses"][0]
    assert s["state"]["waiting"]["reason"] == "ImagePullBackOff" and s["imageID"] == ""

    # one container of two, crash looping: image was pulled, imageID kept
    c.set_pods_ready("Deployment", "production", "api", False, container="api",
                     reason="CrashLoopBackOff")
    p = pods_of(fake_k8s, "production", "api")[0]
    st = {s["name"]: s for s in p["status"]["containerStatuses"]}
    assert st["api"]["ready"] is False and st["api"]["restartCount"] == 3
    assert HEX64.search(st["api"]["imageID"])
    assert st["envoy"]["ready"] is True
    assert p["status"]["phase"] == "Running"

    c.set_pods_ready("Deployment", "production", "web", True)
    assert all(HEX64.search(i) for i in image_ids(pods_of(fake_k8s, "production", "web"), "nginx"))


def test_requests_recorded(fake_k8s):
    c = fake_k8s.cluster
    c.clear_requests()
    get(fake_k8s, "/api/v1/namespaces/production/pods?labelSelector=app%3Dweb%2Ctier%3Dfrontend")
    get(fake_k8s, "/apis/apps/v1/deployments")
    get(fake_k8s, "/apis/apps/v1/deployments", token="bad")
    assert c.requests[0] == ("GET", "/api/v1/namespaces/production/pods",
                             "labelSelector=app%3Dweb%2Ctier%3Dfrontend")
    assert c.request_log[0]["params"] == {"labelSelector": "app=web,tier=frontend"}
    assert c.count("/apis/apps/v1/deployments") == 2
    assert [e["status"] for e in c.request_log] == [200, 200, 401]
    assert c.request_log[2]["user"] is None and c.request_log[1]["user"] == "token"
    assert c.wait_for_requests(2, "/apis/apps/v1/deployments", timeout=0.1)
    assert not c.wait_for_requests(1, "/version", timeout=0.1)


def test_client_cert_auth(fake_k8s_factory, pki, tmp_path):
    srv = fake_k8s_factory(client_cert="optional")
    cert = (pki["client_cert"], pki["client_key"])
    r = get(srv, "/apis/apps/v1/deployments", token=None, cert=cert)
    assert r.status_code == 200 and len(r.json()["items"]) == 4
    assert srv.cluster.request_log[-1]["user"] == "cert:shiplog-collector"
    assert get(srv, "/version", token=None).status_code == 401     # neither
    assert get(srv, "/version").status_code == 200                  # token still works
    other = F.make_pki(tmp_path / "other")
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        get(srv, "/version", token=None, cert=(other["client_cert"], other["client_key"]))

    req = fake_k8s_factory(client_cert="required")
    assert get(req, "/version", token=None, cert=cert).status_code == 200
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        get(req, "/version")

    plain = fake_k8s_factory()   # client certs not asked for: a cert alone is not enough
    assert get(plain, "/version", token=None, cert=cert).status_code == 401


def test_plain_http_and_restart(fake_k8s_factory):
    srv = fake_k8s_factory(tls=False)
    assert srv.url.startswith("http://127.0.0.1:")
    assert get(srv, "/version").json()["gitVersion"] == "v1.28.0"
    port = srv.port
    srv.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        get(srv, "/version", timeout=1)
    srv.start()
    assert srv.port == port
    assert get(srv, "/version").status_code == 200


def test_stop_interrupts_delay(fake_k8s):
    fake_k8s.cluster.set_delay(20)
    errs = []

    def call():
        try:
            get(fake_k8s, "/version", timeout=10)
        except Exception as e:
            errs.append(e)
    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    fake_k8s.stop()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 5


def test_kubeconfig_text(pki):
    kc = F.kubeconfig("https://127.0.0.1:6443", pki["ca_pem"], token="abc.def",
                      client_cert_pem=pki["client_cert_pem"],
                      client_key_pem=pki["client_key_pem"], name="prod-eu")
    lines = kc.splitlines()
    for key in ("apiVersion: v1", "kind: Config", "current-context: prod-eu",
                "clusters:", "contexts:", "users:", "preferences: {}"):
        assert key in lines, key
    assert "    server: https://127.0.0.1:6443" in lines
    assert "    token: abc.def" in lines
    assert "    cluster: prod-eu" in lines and "    user: prod-eu" in lines
    assert "  name: prod-eu" in lines and "- name: prod-eu" in lines
    data = {}
    for ln in lines:
        m = re.match(r"^ +([a-z-]+-data): (\S+)$", ln)
        if m:
            data[m.group(1)] = base64.b64decode(m.group(2)).decode()
    assert data == {"certificate-authority-data": pki["ca_pem"],
                    "client-certificate-data": pki["client_cert_pem"],
                    "client-key-data": pki["client_key_pem"]}
    assert "\t" not in kc and kc.endswith("\n")
    # tokens that YAML would misread are quoted
    kc2 = F.kubeconfig("https://127.0.0.1:1", None, token="123", insecure=True, namespace="x")
    assert '    token: "123"' in kc2.splitlines()
    assert "    insecure-skip-tls-verify: true" in kc2.splitlines()
    assert "    namespace: x" in kc2.splitlines()
    assert "  user: {}" not in kc2
    kc3 = F.kubeconfig_multi([dict(server_url="https://127.0.0.1:1", ca_pem=None, name="a"),
                              dict(server_url="https://127.0.0.1:2", ca_pem=None, name="b",
                                   token="t")], current="b")
    assert kc3.count("- cluster:") == 2 and "current-context: b" in kc3


def test_server_kubeconfig_matches(fake_k8s):
    kc = fake_k8s.kubeconfig()
    assert "    server: %s" % fake_k8s.url in kc.splitlines()
    assert "    token: %s" % TOKEN in kc.splitlines()


def test_image_helpers():
    assert F.normalize_image("nginx:1.21") == "docker.io/library/nginx:1.21"
    assert F.normalize_image("fluent/fluentd:v1.16") == "docker.io/fluent/fluentd:v1.16"
    assert F.normalize_image("registry.local:5000/team/api:2.3.1") == "registry.local:5000/team/api:2.3.1"
    assert F.normalize_image("localhost/x") == "localhost/x:latest"
    d = "sha256:" + "1f" * 32
    assert F.default_digest("ghcr.io/o/w@" + d) == d
    assert F.image_id("ghcr.io/o/w:1.0@" + d) == "ghcr.io/o/w@" + d
    assert F.image_id("redis", runtime="docker").startswith("docker-pullable://redis@sha256:")
    assert F.default_digest("a:1") != F.default_digest("a:2")


def test_control_endpoint(fake_k8s):
    u = fake_k8s.url + "/_fake"
    r = requests.post(u + "/call", json={"method": "set_image", "args": [
        "Deployment", "production", "web", "nginx", "nginx:1.25.3"]},
        verify=fake_k8s.ca_path, timeout=T)
    assert r.status_code == 200 and r.json() == {"ok": True, "result": True}
    assert image_ids(pods_of(fake_k8s, "production", "web"), "nginx")[0] == F.image_id("nginx:1.25.3")
    r = requests.post(u + "/call", json={"method": "__init__"}, verify=fake_k8s.ca_path, timeout=T)
    assert r.status_code == 400
    r = requests.post(u + "/call", json={"method": "delete_workload", "args": ["x", "y", "z"]},
                      verify=fake_k8s.ca_path, timeout=T)
    assert r.status_code == 400 and "ValueError" in r.json()["error"]
    log = requests.get(u + "/requests", verify=fake_k8s.ca_path, timeout=T).json()
    assert [e["path"] for e in log] == ["/api/v1/namespaces/production/pods"]
    requests.post(u + "/reset", verify=fake_k8s.ca_path, timeout=T)
    assert fake_k8s.cluster.requests == []


def test_cli(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    kc = tmp_path / "kubeconfig"
    p = subprocess.Popen([sys.executable, os.path.join(here, "fake_k8s.py"),
                          "--fixture", os.path.join(FIXTURES, "basic.json"),
                          "--token", "cli-token", "--pki-dir", str(tmp_path / "pki"),
                          "--port", "0", "--kubeconfig", str(kc)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        info = json.loads(line)
        assert info["url"].startswith("https://127.0.0.1:") and os.path.isfile(info["ca"])
        r = requests.get(info["url"] + "/apis/apps/v1/statefulsets",
                         headers={"Authorization": "Bearer cli-token"}, verify=info["ca"],
                         timeout=T)
        assert r.status_code == 200 and r.json()["items"][0]["metadata"]["name"] == "db"
        assert "    token: cli-token" in kc.read_text().splitlines()
        r = requests.post(info["url"] + "/_fake/call", json={"method": "fail_next", "args": [1]},
                          verify=info["ca"], timeout=T)
        assert r.status_code == 200
        r = requests.get(info["url"] + "/version", headers={"Authorization": "Bearer cli-token"},
                         verify=info["ca"], timeout=T)
        assert r.status_code == 500
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
        p.stdout.close()
        p.stderr.close()
