"""History pages (?limit=N, "next" a cursor for ?before=) on every node, the
seed's shape without ?limit=, bad page parameters refused, and [retention]
bounding what every node keeps."""
import harness as H


def tags(doc):
    return [r["image_tag"] for r in doc["releases"]]


def test_pages_walk_the_whole_history(cluster):
    comp = H.Component.unique("pages")
    for i in range(25):
        top = cluster.write(cluster.names[i % 3], comp, f"1.{i}")
    full = cluster.history(cluster.names[0], comp, index=top).json()
    assert tags(full) == [f"1.{i}" for i in reversed(range(25))]
    assert "next" not in full and full["total"] == 25  # the seed's shape, unchanged
    for n in cluster.names:
        got, before, pages = [], None, 0
        while True:
            params = {"limit": 10, "index": top}
            if before:
                params["before"] = before
            r = cluster.get(n, comp.history_path, params=params)
            assert r.status_code == 200, H.show(r)
            doc = r.json()
            pages += 1
            assert doc["history_total"] == 25 and doc["total"] == len(doc["releases"])
            assert doc["history"]["releases"] == doc["releases"]
            got += tags(doc)
            before = doc["next"]
            if before is None:
                break
            assert isinstance(before, str) and int(before) == doc["releases"][-1]["id"]
        assert pages == 3 and got == tags(full), (n, got)
    bad = [{"limit": 0}, {"limit": "ten"}, {"limit": 1001}, {"limit": 5, "before": "x"}, {"before": "-1"}]
    for params in bad:
        r = cluster.get(cluster.names[1], comp.history_path, params=params)
        H.assert_error(r, 400, "VALIDATION_ERROR")
    r = cluster.get(cluster.names[1], comp.history_path, params={"limit": 3, "before": 1})
    assert r.status_code == 200 and r.json()["releases"] == [] and r.json()["next"] is None


def test_unpaged_history_is_capped_with_a_next(cluster_factory):
    c = cluster_factory(start=False)
    c.api = dict(c.api, history_unpaged_max=4)
    c.write_config()
    c.start_all()
    comp = H.Component.unique("cap")
    for i in range(6):
        top = c.write(c.names[0], comp, f"2.{i}")
    doc = c.history(c.names[2], comp, index=top).json()
    assert tags(doc) == ["2.5", "2.4", "2.3", "2.2"] and doc["history_total"] == 6 and doc["next"], doc
    rest = c.get(c.names[2], comp.history_path, params={"before": doc["next"]}).json()
    assert tags(rest) == ["2.1", "2.0"] and rest.get("next") is None


def test_retention_bounds_history_on_every_node(cluster_factory):
    c = cluster_factory(start=False)
    c.extra_tables = {"retention": {"history_per_component": 5, "interval": "1s"}}
    c.write_config()
    c.start_all()
    comp, other = H.Component.unique("keep"), H.Component.unique("few")
    for i in range(12):
        c.write(c.names[i % 3], comp, f"3.{i}")
    c.write(c.names[0], other, "9.0")
    for n in c.names:
        H.wait_until(lambda: tags(c.history(n, comp).json()) == [f"3.{i}" for i in range(11, 6, -1)], 20,
                     what=f"history cut to the newest 5 on {n}")
        assert tags(c.history(n, other).json()) == ["9.0"]
    # The current entry is what it was; writing on goes on being bounded.
    cur = c.current(c.names[1], comp.client, comp.env).json()
    rows = [r for rs in cur["namespaces"].values() for r in rs if r["workload_name"] == comp.workload]
    assert rows and rows[0]["image_tag"] == "3.11"
    c.write(c.names[1], comp, "3.12")
    H.wait_until(lambda: tags(c.history(c.names[2], comp).json()) == [f"3.{i}" for i in range(12, 7, -1)], 20,
                 what="bounded again after a new release")
