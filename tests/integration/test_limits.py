"""Every limit of a node is reached and answered as documented, while the
node keeps serving others: connections per node and per source address,
parked ?wait= requests, WebSocket streams per credential and per node, the
WebSocket inbound message cap, and rate limits that still limit when their
table is crowded and that cover badges and unknown paths."""
import http.client
import json
import socket
import threading
import time

import websocket

import harness as H


def node_addr(c, n):
    host, port = c.nodes[n].http_addr.split(":")
    return host, int(port)


def raw_get(c, n, path, source="127.0.0.1", key=H.ADMIN_KEY, timeout=5):
    """GET path over a new connection from the source address given; (status, headers, body)."""
    host, port = node_addr(c, n)
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def idle_connections(c, n, count, source="127.0.0.1"):
    socks = []
    for _ in range(count):
        s = socket.create_connection(node_addr(c, n), timeout=5, source_address=(source, 0))
        socks.append(s)
    time.sleep(0.2)  # accepted by the node's loop
    return socks


def limited_cluster(cluster_factory, collector=None, **api):
    """A started cluster with these [api] (and [collector]) settings."""
    c = cluster_factory(start=False)
    c.api = dict(c.api, **api)
    c.collector = dict(c.collector, **(collector or {}))
    c.write_config()
    c.start_all()
    return c


def test_connections_per_address_and_per_node(cluster_factory):
    c = limited_cluster(cluster_factory, max_connections=8, max_connections_per_address=4)
    n = c.names[0]
    socks = idle_connections(c, n, 4)
    try:
        st, hdr, body = raw_get(c, n, "/api/config")
        assert st == 429 and json.loads(body)["error"]["code"] == "RATE_LIMIT_EXCEEDED", body
        assert "max_connections_per_address" in json.loads(body)["error"]["message"]
        assert hdr.get("connection") == "close" and hdr.get("retry-after") == "1", hdr
        # Another source address is within its own limit.
        assert raw_get(c, n, "/api/config", source="127.0.0.2")[0] == 200
        more = idle_connections(c, n, 4, source="127.0.0.3")  # 8 open now: the node's limit
        try:
            st, _, body = raw_get(c, n, "/api/config", source="127.0.0.4")
            assert st == 503 and json.loads(body)["error"]["code"] == "OVERLOADED", body
        finally:
            for s in more:
                s.close()
        assert c.get(c.names[1], "/api/config").status_code == 200  # the other nodes are untouched
    finally:
        for s in socks:
            s.close()
    seen = []  # the node may see the closes a moment after we make them: count what it refused meanwhile
    H.wait_until(lambda: seen.append(raw_get(c, n, "/api/config")[0]) or seen[-1] == 200, 5,
                 what="served again once closed")
    m = H.parse_metrics(c.get(n, "/metrics", key=None).text)
    assert m['shiplog_limit_refusals_total{limit="connections"}'] == 2 + len(seen) - 1, (m, seen)


def test_parked_waits_are_capped(cluster_factory):
    c = limited_cluster(cluster_factory, max_waiting=3)
    n = c.names[0]
    top = c.applied_index(n)
    path = f"/api/v1/clusters?index={top + 100000}&wait=3s"
    results = []

    def park():
        t0 = time.monotonic()
        r = c.get(n, path, timeout=10)
        results.append((r.status_code, time.monotonic() - t0))
    threads = [threading.Thread(target=park) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    r = c.get(n, path, timeout=10)
    H.assert_error(r, 503, "OVERLOADED")
    assert time.monotonic() - t0 < 1.0 and r.headers["retry-after"] == "1"
    assert "max_waiting" in r.json()["error"]["message"]
    assert c.get(n, "/api/config").status_code == 200  # the node serves others meanwhile
    for t in threads:
        t.join(15)
    assert sorted(s for s, _ in results) == [200, 200, 200], results
    assert all(2.5 < took < 6 for _, took in results), results  # each waited its 3 s
    # Parked requests are released by the apply they wait for, not by a scan.
    idx = c.applied_index(n)
    out = []
    th = threading.Thread(target=lambda: out.append(c.get(n, f"/api/v1/clusters?index={idx + 1}&wait=20s",
                                                          timeout=25)))
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    c.write(c.names[1], H.Component.unique("wake"), "1.0")
    th.join(10)
    assert out and out[0].status_code == 200 and int(out[0].headers["x-shiplog-index"]) >= idx + 1
    assert time.monotonic() - t0 < 2, "released by the apply"


def ws_connect(c, n, key=H.ADMIN_KEY):
    url = f"ws://{c.nodes[n].http_addr}/api/v1/events?apikey={key}"
    return websocket.create_connection(url, timeout=5)


def ws_refused(c, n, key=H.ADMIN_KEY):
    """(status, error code) of a refused WebSocket handshake; None if it was accepted."""
    host, port = node_addr(c, n)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", f"/api/v1/events?apikey={key}", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        r = conn.getresponse()
        if r.status == 101:
            return None
        return r.status, json.loads(r.read())["error"]["code"]
    finally:
        conn.close()


def test_websocket_streams_and_message_cap(cluster_factory):
    c = limited_cluster(cluster_factory, max_streams=3, max_streams_per_credential=2, max_ws_message_bytes=1024)
    n = c.names[0]
    mine = [ws_connect(c, n), ws_connect(c, n)]
    try:
        assert ws_refused(c, n) == (429, "RATE_LIMIT_EXCEEDED")
        other = ws_connect(c, n, key=H.PROD_KEY)  # another credential has its own budget
        try:
            assert ws_refused(c, n, key=H.DEV_KEY) == (503, "OVERLOADED")  # the node's 3 are open
        finally:
            other.close()
        # A client message over the cap closes that stream (1009); others go on.
        mine[0].send("x" * 2000)
        mine[0].settimeout(5)
        with_close = None
        try:
            while True:
                op, data = mine[0].recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    with_close = int.from_bytes(data[:2], "big")
                    break
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            pass
        assert with_close == 1009, with_close
        mine[1].send("small")  # within the cap: ignored, the stream lives
        c.write(n, H.Component.unique("ws"), "1.0")
        mine[1].settimeout(5)
        assert json.loads(mine[1].recv())["type"]
    finally:
        for w in mine:
            w.close()
    m = H.parse_metrics(c.get(n, "/metrics", key=None).text)
    assert m['shiplog_limit_refusals_total{limit="ws_streams"}'] == 2, m


def test_rate_limit_holds_when_its_table_is_crowded(cluster_factory):
    c = cluster_factory(start=False)
    c.rate_limit = {"anonymous_per_minute": 3, "authenticated_per_minute": 4, "slots": 64}
    c.write_config()
    c.start_all()
    n = c.names[0]
    if time.time() % 60 > 50:  # windows are whole minutes: do not straddle one
        time.sleep(61 - time.time() % 60)
    # 120 addresses each spend one request: more callers than slots.
    for i in range(120):
        assert raw_get(c, n, "/nope", source=f"127.0.{1 + i // 250}.{2 + i % 250}", key=None)[0] == 404
    # A new caller is still limited: the least recently used slots make room.
    got = [raw_get(c, n, "/nope", source="127.0.9.9", key=None)[0] for _ in range(5)]
    assert got == [404, 404, 404, 429, 429], got  # unknown paths spend the address's budget
    m = H.parse_metrics(c.get(n, "/metrics", key=None).text)
    assert m["shiplog_rate_limit_evictions_total"] > 0, m
    # Badges spend their key's budget and answer an SVG when over it.
    path = f"/badges/{H.PROD_KEY}/{H.PROD_CLIENT}/prod/Deployment/w/c"
    codes = []
    for _ in range(6):
        st, hdr, body = raw_get(c, n, path, key=None)
        codes.append(st)
    assert codes == [200, 200, 200, 200, 429, 429], codes
    assert hdr["content-type"] == "image/svg+xml" and b"rate limited" in body
    # Probes are never limited.
    assert all(raw_get(c, n, "/readyz", source="127.0.9.9", key=None)[0] == 200 for _ in range(6))


def fake_k8s_with(extra, tmp_path):
    """The fake Kubernetes API of the basic fixture plus `extra` Deployments."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s"))
    import fake_k8s as F
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_k8s", "fixtures", "basic.json")
    cluster = F.FakeCluster(token="t0k3n")
    cluster.load_fixture(fixture)
    for i in range(extra):
        cluster.add_workload("Deployment", "production", f"extra-{i}", containers=(("app", f"nginx:1.{i}"),))
    return cluster, F.FakeK8sServer(cluster, pki=F.make_pki(tmp_path / "pki")).start()


def register_fake(c, n, srv, env):
    r = c.post(n, "/api/v1/clusters", json={"name": env, "server": srv.url, "client_name": H.PROD_CLIENT,
                                            "env_name": env, "token": "t0k3n", "ca_cert": srv.ca_pem})
    assert r.status_code == 201, H.show(r)
    return r.json()["id"]


def test_kubernetes_list_caps_fail_the_run_with_the_reason(cluster_factory, tmp_path):
    cluster, srv = fake_k8s_with(60, tmp_path)  # 60 more pods: one page of them is over 64 KiB
    try:
        c = limited_cluster(cluster_factory, collector=dict(max_list_bytes=65536))
        n = c.names[1]
        cid = register_fake(c, n, srv, "big")

        def last_error():
            return c.get(n, f"/api/v1/clusters/{cid}/health").json().get("last_error") or ""
        H.wait_until(lambda: "answer too large" in last_error(), 30, what="a page over max_list_bytes fails the run")
        assert "/api/v1/pods" in last_error()
        assert c.get(n, "/api/config").status_code == 200
    finally:
        srv.close()
    cluster, srv = fake_k8s_with(0, tmp_path / "b")
    try:
        c = limited_cluster(cluster_factory, collector=dict(max_list_items=3, list_page_size=2))
        n = c.names[0]
        cid = register_fake(c, n, srv, "many")
        H.wait_until(lambda: "more than 3 items" in (c.get(n, f"/api/v1/clusters/{cid}/health").json().get("last_error")
                                                    or ""), 30, what="a list over max_list_items fails the run")
    finally:
        srv.close()


def test_kubernetes_lists_are_paged(cluster_factory, tmp_path):
    cluster, srv = fake_k8s_with(7, tmp_path)  # more pods than a page
    try:
        c = limited_cluster(cluster_factory, collector=dict(list_page_size=2))
        n = c.names[0]
        register_fake(c, n, srv, "paged")

        def extras():
            cur = c.get(n, "/api/releases/current", params={"client_name": H.PROD_CLIENT, "env_name": "paged"}).json()
            return {row["workload_name"] for rows in cur["namespaces"].values() for row in rows
                    if row["workload_name"].startswith("extra-")}
        H.wait_until(lambda: len(extras()) == 7, 30, what="every page collected")
        pods = [e for e in list(cluster.request_log) if e["path"] == "/api/v1/pods"]
        assert pods and all(e["params"].get("limit") == "2" for e in pods), pods[:3]
        assert any(e["params"].get("continue") for e in pods), "later pages asked with continue"
    finally:
        srv.close()


def test_jobs_are_pruned_by_count(cluster_factory, tmp_path):
    cluster, srv = fake_k8s_with(0, tmp_path)
    try:
        c = cluster_factory(start=False)
        c.collector = dict(c.collector, interval="1s")
        c.extra_tables = {"retention": {"jobs_keep": 3, "interval": "1s"}}
        c.write_config()
        c.start_all()
        n = c.names[2]
        cid = register_fake(c, n, srv, "jobs")

        def jobs():
            return c.get(n, "/api/v1/jobs", params={"cluster_id": cid, "per_page": 500}).json()["jobs"]
        # Runs every second; retention keeps the newest 3 (a running one may make it 4 for a moment).
        H.wait_until(lambda: sum(j["status"] == "success" for j in jobs()) >= 2, 20, what="runs recorded")
        time.sleep(6)  # six more runs at least
        for m in c.names:
            got = c.get(m, "/api/v1/jobs", params={"cluster_id": cid, "per_page": 500}).json()["jobs"]
            assert 1 <= len(got) <= 4, (m, [(j["id"], j["status"]) for j in got])
        assert c.get(n, "/api/v1/jobs", params={"per_page": 500}).json()["total"] <= 4
    finally:
        srv.close()
