"""Read consistency options, blocking reads, idempotent writes, and the
behaviour of a node without quorum."""

import threading
import time

import pytest

import harness as H
from harness import Component

NODES = H.NODE_NAMES


def tags(rels):
    return [e["image_tag"] for e in rels]


# ------------------------------------------------------------ linearizable

def test_linearizable_read_on_every_node_sees_acknowledged_write(cluster):
    comp = Component.unique("lin")
    for k, writer in enumerate(NODES):
        r = cluster.collect(writer, comp.ns, comp.kind, comp.workload, comp.container,
                            H.release_body(f"lin-{k}", client=comp.client, env=comp.env))
        assert r.status_code == 200, H.show(r)
        wi = H.idx(r)
        # immediately, on every node, without ?index: a linearizable read must see it
        for node in NODES:
            h = cluster.history(node, comp, consistency="linearizable")
            assert h.status_code == 200, H.show(h)
            H.check_headers(h, node)
            assert H.idx(h) >= wi, H.show(h)
            assert h.json()["releases"][0]["image_tag"] == f"lin-{k}", H.show(h)
            c = cluster.current(node, comp.client, comp.env, consistency="linearizable")
            assert c.status_code == 200, H.show(c)
            assert H.idx(c) >= wi, H.show(c)
            entries = c.json()["namespaces"][comp.ns]
            assert [e["image_tag"] for e in entries if e["workload_name"] == comp.workload] == [f"lin-{k}"]
            ce = cluster.get(node, "/api/clients-environments",
                             params={"consistency": "linearizable"})
            assert ce.status_code == 200, H.show(ce)
            assert comp.client in ce.json()["clients_environments"], H.show(ce)


def test_stale_read_explicit(cluster):
    comp = Component.unique("stale")
    i = cluster.write("n1", comp, "s1")
    for node in NODES:
        cluster.wait_applied(node, i)
        h = cluster.history(node, comp, consistency="stale")
        assert h.status_code == 200, H.show(h)
        assert tags(h.json()["releases"]) == ["s1"]


def test_unknown_consistency_400(cluster):
    for node in NODES:
        r = cluster.get(node, "/api/releases/current",
                        params={"client_name": "a", "env_name": "b", "consistency": "eventual"})
        H.assert_error(r, 400, "VALIDATION_ERROR")


# ---------------------------------------------------------- blocking reads

def test_blocking_read_on_follower_returns_after_write(cluster):
    comp = Component.unique("block")
    ldr = cluster.leader()
    fol = [n for n in NODES if n != ldr][0]
    i = cluster.write(ldr, comp, "before")
    r = cluster.history(fol, comp, index=i, wait="5s")
    assert r.status_code == 200 and tags(r.json()["releases"]) == ["before"], H.show(r)

    problems = []
    for attempt in range(3):
        target = max(cluster.applied_index(n) or 0 for n in NODES) + 1
        result = {}

        def reader():
            t0 = time.monotonic()
            try:
                result["r"] = cluster.history(fol, comp, index=target, wait="5s", timeout=15)
            except Exception as exc:  # noqa: BLE001
                result["exc"] = exc
            result["t_start"], result["t_end"] = t0, time.monotonic()

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        time.sleep(0.8)
        if not th.is_alive():
            rr = result.get("r")
            if rr is not None and rr.status_code == 200 and H.idx(rr) >= target:
                problems.append(f"attempt {attempt}: index {target} reached by another entry")
                continue  # something else was applied meanwhile; try again
            pytest.fail(f"blocking read returned before index {target} was reached: "
                        f"{H.show(rr) if rr is not None else result}")
        t_write = time.monotonic()
        tag = f"after-{attempt}"
        wi = cluster.write(ldr, comp, tag)
        th.join(timeout=10)
        assert not th.is_alive(), "blocking read did not return within 10 s"
        assert "exc" not in result, result
        rr = result["r"]
        assert rr.status_code == 200, H.show(rr)
        elapsed = result["t_end"] - result["t_start"]
        assert result["t_end"] >= t_write, "returned before the write was sent"
        assert elapsed < 5.0, f"returned after {elapsed:.2f}s, i.e. only at the end of wait=5s"
        if wi != target:
            problems.append(f"attempt {attempt}: write got index {wi}, expected {target}")
            continue
        assert H.idx(rr) >= wi, H.show(rr)
        assert tags(rr.json()["releases"])[0] == tag, H.show(rr)
        print(f"blocking read on {fol} returned {(result['t_end'] - t_write) * 1000:.0f} ms "
              f"after the write was sent")
        return
    pytest.fail(f"no clean attempt: {problems}")


def test_blocking_read_times_out_with_what_it_has(cluster):
    comp = Component.unique("bto")
    i = cluster.write("n1", comp, "only")
    cluster.wait_all_applied(i)
    for node in NODES:
        t0 = time.monotonic()
        r = cluster.history(node, comp, index=10 ** 9, wait="1s", timeout=10)
        el = time.monotonic() - t0
        assert r.status_code == 200, H.show(r)
        assert 0.8 <= el < 3.5, f"wait=1s answered after {el:.2f}s"
        assert H.idx(r) < 10 ** 9
        assert tags(r.json()["releases"]) == ["only"]


def test_blocking_read_already_applied_returns_at_once(cluster):
    comp = Component.unique("bnow")
    i = cluster.write("n2", comp, "x")
    cluster.wait_all_applied(i)
    for node in NODES:
        t0 = time.monotonic()
        r = cluster.history(node, comp, index=i, wait="5s")
        el = time.monotonic() - t0
        assert r.status_code == 200, H.show(r)
        assert el < 1.0, f"already applied index {i}, yet waited {el:.2f}s"


# ------------------------------------------------------------- idempotency

def idem_put(c, node, comp, tag, key, released_at="2024-05-01T00:00:00Z"):
    body = H.release_body(tag, client=comp.client, env=comp.env, released_at=released_at)
    return c.collect(node, comp.ns, comp.kind, comp.workload, comp.container, body, idem=key)


@pytest.mark.parametrize("retry_on", ["same", "other"])
def test_idempotent_retry(cluster, retry_on):
    comp = Component.unique(f"idem-{retry_on}")
    k_a, k_b = f"ka-{H.uid()}", f"kb-{H.uid()}"
    first_node = "n1"
    r1 = idem_put(cluster, first_node, comp, "A", k_a)
    assert r1.status_code == 200, H.show(r1)
    i1 = H.idx(r1)
    r2 = idem_put(cluster, "n2", comp, "B", k_b, released_at="2024-05-02T00:00:00Z")
    assert r2.status_code == 200, H.show(r2)
    # retry of the first write, identical body and key, after B
    retry_node = first_node if retry_on == "same" else "n3"
    r3 = idem_put(cluster, retry_node, comp, "A", k_a)
    assert r3.status_code == 200, H.show(r3)
    assert H.idx(r3) == i1, f"retry index {H.idx(r3)} != first {i1}: {H.show(r3)}"
    assert r3.json()["release"] == r1.json()["release"], (r1.json(), r3.json())
    assert r3.json()["component"] == r1.json()["component"]
    last = max(H.idx(r2), H.idx(r3))
    for node in NODES:
        rels = cluster.releases(node, comp, index=last)
        assert tags(rels) == ["B", "A"], f"{node}: retry applied again? {rels}"
        cur = cluster.current(node, comp.client, comp.env, index=last).json()
        e = [x for x in cur["namespaces"][comp.ns] if x["workload_name"] == comp.workload][0]
        assert e["image_tag"] == "B", e
    # a third retry through a follower, still the first result
    r4 = idem_put(cluster, cluster.followers()[-1], comp, "A", k_a)
    assert r4.status_code == 200 and H.idx(r4) == i1, H.show(r4)


def test_distinct_idempotency_keys_both_apply(cluster):
    comp = Component.unique("idem-distinct")
    r1 = idem_put(cluster, "n1", comp, "A", f"k1-{H.uid()}")
    r2 = idem_put(cluster, "n1", comp, "B", f"k2-{H.uid()}")
    r3 = idem_put(cluster, "n1", comp, "A", f"k3-{H.uid()}")
    for r in (r1, r2, r3):
        assert r.status_code == 200, H.show(r)
    assert H.idx(r1) < H.idx(r2) < H.idx(r3)
    assert tags(cluster.releases("n1", comp)) == ["A", "B", "A"]


# --------------------------------------------------------------- no quorum

@pytest.mark.shiplog_timeout(150)
@pytest.mark.parametrize("role", ["follower", "leader"])
def test_no_quorum_write_503_stale_read_ok_then_catch_up(cluster_factory, role):
    c = cluster_factory()
    ldr = c.leader()
    iso = ldr if role == "leader" else [n for n in c.names if n != ldr][0]
    others = [n for n in c.names if n != iso]
    comp = Component.unique("nq")
    i0 = c.write(ldr, comp, "base")
    c.wait_all_applied(i0)

    outcomes = []
    for o in others:
        c.sigstop(o)
    try:
        for k in range(2):
            if k == 1:
                time.sleep(1.0)  # by now the isolated node knows it has no leader
            tag = f"cut-{k}"
            t0 = time.monotonic()
            r = idem_put(c, iso, comp, tag, f"nq-{k}-{H.uid()}")
            el = time.monotonic() - t0
            assert r.status_code == 503, H.show(r)
            b = r.json()
            print(f"isolated {role} {iso}: write {k} answered 503 {b['error'].get('code')} "
                  f"in {el * 1000:.0f} ms")
            assert b["error"]["code"] in ("NO_LEADER", "UNKNOWN_OUTCOME"), H.show(r)
            H.assert_error(r, 503, b["error"]["code"])
            if k == 1:
                assert b["error"]["code"] == "NO_LEADER", (
                    f"isolated {role}, no quorum for >1 s, nothing in flight: {H.show(r)}")
            assert el < 6.0, f"503 took {el:.2f}s"
            outcomes.append((tag, b["error"]["code"]))
            # stale reads keep working
            t0 = time.monotonic()
            h = c.history(iso, comp, timeout=5)
            assert h.status_code == 200, H.show(h)
            assert time.monotonic() - t0 < 2.0
            assert "base" in tags(h.json()["releases"]), H.show(h)
            h = c.history(iso, comp, consistency="stale", timeout=5)
            assert h.status_code == 200, H.show(h)
    finally:
        for o in others:
            c.sigcont(o)

    ldr2 = c.leader(timeout=30)
    r, attempts = c.collect_retry(comp, "healed", idem=f"heal-{H.uid()}", deadline_s=20)
    wi = H.idx(r)
    target = max(wi, c.applied_index(ldr2) or 0)
    t0 = time.monotonic()
    H.wait_until(lambda: (c.applied_index(iso) or 0) >= target,
                 20, what=f"{iso} raft.applied_index catching up to the leader's {target}")
    print(f"{iso} caught up to {target} in {(time.monotonic() - t0) * 1000:.0f} ms after heal")
    final = None
    for node in c.names:
        rels = c.releases(node, comp, index=wi)
        final = final if final is not None else tags(rels)
        assert tags(rels) == final, f"{node} differs: {tags(rels)} vs {final}"
        assert tags(rels)[0] == "healed", rels
    for tag, code in outcomes:
        if code == "NO_LEADER":
            assert tag not in final, (
                f"write {tag} answered 503 NO_LEADER (a definite failure) but was applied: {final}")


# ------------------------------------------------------ read-your-writes

def test_read_your_writes_on_the_same_follower(cluster):
    """A write sent to a follower is answered after that follower applied it:
    an ordinary (stale) read on the same node right after sees it."""
    comp = Component.unique("ryw")
    for fol in cluster.followers():
        for k in range(10):
            tag = f"{fol}-{k}"
            r = cluster.collect(fol, comp.ns, comp.kind, comp.workload, comp.container,
                                H.release_body(tag, client=comp.client, env=comp.env))
            assert r.status_code == 200, H.show(r)
            h = cluster.history(fol, comp)
            assert h.status_code == 200, H.show(h)
            assert H.idx(h) >= H.idx(r), (H.show(r), H.show(h))
            assert h.json()["releases"][0]["image_tag"] == tag, H.show(h)


@pytest.mark.shiplog_timeout(90)
def test_concurrent_writes_through_all_nodes_converge(cluster):
    """Writers on every node at once (released_at left to the proposing node):
    every node ends with the identical history, timestamps included."""
    comp = Component.unique("conv")
    acks, errors = [], []
    lock = threading.Lock()

    def writer(node):
        for k in range(12):
            tag = f"{node}-{k % 3}"  # repeats, so that some writes only move last_seen
            try:
                r = cluster.collect(node, comp.ns, comp.kind, comp.workload, comp.container,
                                    H.release_body(tag, client=comp.client, env=comp.env))
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                (acks if r.status_code == 200 else errors).append(
                    H.idx(r) if r.status_code == 200 else H.show(r))

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in NODES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "writers did not finish in 60 s"
    assert not errors, errors[:5]
    # writes of one loop turn share a Raft entry (a batch), so indexes may repeat
    assert len(acks) == 36 and all(i > 0 for i in acks), sorted(acks)
    top = max(acks)
    bodies = {}
    for node in NODES:
        r = cluster.history(node, comp, index=top)
        assert r.status_code == 200, H.show(r)
        bodies[node] = r.json()["releases"]
    assert bodies["n1"] == bodies["n2"] == bodies["n3"], bodies
    cur = {n: cluster.current(n, comp.client, comp.env, index=top).json()["namespaces"]
           for n in NODES}
    assert cur["n1"] == cur["n2"] == cur["n3"], cur
