"""Probes the Kubernetes way and an honest cluster status, on real nodes:
/livez answers while the process serves, /readyz and the seed's /health
are 503 (with the reason) on a node cut off from its quorum and 200 again
once it is back; GET /api/v1/cluster shows the leader's measured last
contact, match index and each member's own applied index."""
import time

import harness as H


def probes(c, n):
    out = {}
    for path in ("/livez", "/readyz", "/health"):
        r = c.request(n, "GET", path, key=None, timeout=2)
        out[path] = (r.status_code, r.json())
    return out


def test_probes_on_a_healthy_cluster(cluster):
    cluster.wait_leader()
    for n in cluster.names:
        H.wait_until(lambda: probes(cluster, n)["/readyz"][0] == 200, 10, what=f"{n} ready")
        p = probes(cluster, n)
        assert p["/livez"] == (200, {"status": "alive", "node": n})
        assert p["/readyz"] == (200, {"status": "ready", "node": n})
        st, h = p["/health"]
        assert st == 200 and h["status"] == "healthy" and "reason" not in h, h
        assert h["raft"]["leader"] and h["raft"]["state"] in ("leader", "follower")


def test_cut_off_node_is_unhealthy_within_3s_and_back_after(cluster_factory):
    c = cluster_factory()
    leader = c.leader()
    victim = [n for n in c.names if n != leader][0]
    peers = [n for n in c.names if n != victim]
    H.wait_until(lambda: c.health(victim)[0] == 200, 10, what="victim healthy first")
    for p in peers:
        c.sigstop(p)
    t0 = time.monotonic()
    try:
        H.wait_until(lambda: c.health(victim, timeout=1.0)[0] == 503, 3.0, interval=0.05,
                     what="/health 503 on the node whose peers are stopped")
        took = time.monotonic() - t0
        st, h = c.health(victim)
        assert st == 503 and h["status"] == "unhealthy", h
        assert "leader" in h["reason"], h  # "no leader" or "the leader ... was last heard N ms ago"
        r = c.request(victim, "GET", "/readyz", key=None)
        assert r.status_code == 503 and r.json()["status"] == "not ready" and r.json()["reason"], r.text
        assert c.request(victim, "GET", "/livez", key=None).status_code == 200  # alive, not ready
        print(f"/health went 503 {took:.2f}s after the peers stopped")
    finally:
        for p in peers:
            c.sigcont(p)
    H.wait_until(lambda: c.health(victim)[0] == 200, 15, what="/health 200 after SIGCONT")
    H.wait_until(lambda: c.request(victim, "GET", "/readyz", key=None).status_code == 200, 5, what="/readyz 200")


def test_a_node_alone_is_alive_but_not_ready(cluster_factory):
    c = cluster_factory(start=False)
    c.write_config()
    lone = c.names[0]
    c.start(lone)  # waits for /livez only
    H.wait_until(lambda: "no leader" in (c.health(lone)[1] or {}).get("reason", ""), 5,
                 what="the raft actor's first status reached the gateway")
    st, h = c.health(lone)
    assert st == 503 and h["status"] == "unhealthy" and "no leader" in h["reason"], h
    r = c.request(lone, "GET", "/readyz", key=None)
    assert r.status_code == 503 and "no leader" in r.json()["reason"], r.text
    st = H.run_cli(c.nodes[lone], "status")  # the CLI shows why, and fails for scripts
    assert st.returncode == 1 and "ready    no: no leader" in st.stdout, (st.stdout, st.stderr)
    for n in c.names[1:]:
        c.start(n)
    c.wait_leader()
    H.wait_until(lambda: c.health(lone)[0] == 200, 15, what="ready once a quorum formed")


def cluster_view(c, n):
    r = c.get(n, "/api/v1/cluster")
    assert r.status_code == 200, H.show(r)
    return r.json()


def test_cluster_status_is_measured_per_member(cluster):
    leader = cluster.leader()
    follower = [n for n in cluster.names if n != leader][0]
    comp = H.Component.unique("probe")
    for i in range(3):
        cluster.write(follower, comp, f"1.0.{i}")

    def full():
        doc = cluster_view(cluster, follower)  # answered with the leader's view
        ms = doc["members"]
        ok = all(m["applied_index"] is not None and m["last_contact_ms"] is not None for m in ms)
        return doc if ok else None
    first = H.wait_until(full, 10, what="every member's applied index and contact measured")
    assert first["measured_by"] == leader, first
    assert first["node"] == follower
    by_name = {m["name"]: m for m in first["members"]}
    assert by_name[leader]["last_contact_ms"] == 0 and by_name[leader]["applied_reported_ms_ago"] == 0
    others = [m for m in first["members"] if m["name"] != leader]
    for m in others:
        assert m["reachable"] is True and m["match_index"] >= 1, m
        assert 0 <= m["last_contact_ms"] < 2 * 300, m  # heard within an election timeout or so
        assert m["applied_index"] >= 1 and m["applied_reported_ms_ago"] < 3000, m
        assert m["applied_index"] <= first["commit_index"] + 1, m
    # The figures are measured, not configured: they move between two looks,
    # and are not all the configured election timeout.
    seen = {m["name"]: {m["last_contact_ms"]} for m in others}
    for _ in range(20):
        time.sleep(0.05)
        for m in cluster_view(cluster, follower)["members"]:
            if m["name"] in seen:
                seen[m["name"]].add(m["last_contact_ms"])
    for name, values in seen.items():
        assert len(values) >= 3, (name, values)
        assert values != {300}, (name, values)
    # A stopped member: its last contact grows, the leader says it is unreachable.
    victim = others[0]["name"]
    cluster.sigstop(victim)
    try:
        def stale():
            m = {x["name"]: x for x in cluster_view(cluster, leader)["members"]}[victim]
            return m if m["last_contact_ms"] > 1000 and m["reachable"] is False else None
        m = H.wait_until(stale, 10, what="the stopped member's contact ages")
        assert m["applied_reported_ms_ago"] > 500, m
    finally:
        cluster.sigcont(victim)
    H.wait_until(lambda: {x["name"]: x for x in cluster_view(cluster, leader)["members"]}[victim]["last_contact_ms"]
                 < 1000, 10, what="contact again after SIGCONT")
