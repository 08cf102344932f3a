"""Alerts: pings stopping raise a warning then a critical alert, a new ping
resolves it, each change is an event; acknowledgement; failing collections."""
import json
import time

import websocket

import harness as H


def alerts(c, node, **params):
    r = c.get(node, "/api/v1/alerts", params=params)
    assert r.status_code == 200, H.show(r)
    return {a["id"]: a for a in r.json()["alerts"]}


def test_ping_alert_raised_escalated_and_resolved(cluster_factory):
    c = cluster_factory(start=False)
    c.extra_tables = {"alerts": {"ping_warning": "2s", "ping_offline": "4s"}}
    c.write_config()
    c.start_all()
    n = c.names[0]
    ws = websocket.create_connection(f"ws://{c.nodes[c.names[2]].http_addr}/api/v1/events?apikey={H.ADMIN_KEY}"
                                     "&types=alert.raised,alert.resolved,alert.acknowledged", timeout=30)
    assert c.post(n, "/api/ping", json={"client_name": H.PROD_CLIENT, "env_name": "al"}).status_code == 200
    aid = f"ping:{H.PROD_CLIENT}:al"
    H.wait_until(lambda: alerts(c, n).get(aid, {}).get("severity") == "warning", 15, what="a warning")
    H.wait_until(lambda: alerts(c, n).get(aid, {}).get("severity") == "critical", 15, what="critical")
    # Client keys see their client's alerts; filters work.
    assert aid in alerts(c, n, severity="critical")
    assert aid not in alerts(c, n, severity="warning")
    assert aid in {a["id"] for a in c.get(n, "/api/v1/alerts", key=H.PROD_KEY).json()["alerts"]}
    assert aid not in {a["id"] for a in c.get(n, "/api/v1/alerts", key=H.DEV_KEY).json()["alerts"]}
    H.assert_error(c.get(n, "/api/v1/alerts", params={"severity": "loud"}), 400, "VALIDATION_ERROR")
    r = c.post(n, f"/api/v1/alerts/{aid}/acknowledge")
    assert r.status_code == 200, H.show(r)
    assert alerts(c, n)[aid]["status"] == "acknowledged"
    H.assert_error(c.post(n, "/api/v1/alerts/nope/acknowledge"), 404, "NOT_FOUND")
    # A new ping resolves it.
    assert c.post(n, "/api/ping", json={"client_name": H.PROD_CLIENT, "env_name": "al"}).status_code == 200
    H.wait_until(lambda: alerts(c, n)[aid]["status"] == "resolved", 15, what="resolved by a ping")
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "alert.resolved" not in seen:
        ev = json.loads(ws.recv())
        if ev["data"].get("id") == aid:
            seen.append(ev["type"])
    ws.close()
    assert seen[0] == "alert.raised" and "alert.acknowledged" in seen and seen[-1] == "alert.resolved", seen


def test_node_unreachable_alert(cluster_factory):
    c = cluster_factory()
    leader = c.leader()
    victim = next(n for n in c.names if n != leader)
    vid = next(m["id"] for m in c.get(leader, "/api/v1/cluster").json()["members"] if m["name"] == victim)
    c.kill9(victim)
    aid = f"node:{vid}"
    H.wait_until(lambda: alerts(c, leader).get(aid, {}).get("status") == "firing", 15, what="node alert raised")
    assert alerts(c, leader)[aid]["severity"] == "critical" and victim in alerts(c, leader)[aid]["message"]
    c.restart(victim)
    H.wait_until(lambda: alerts(c, leader)[aid]["status"] == "resolved", 15, what="node alert resolved")
