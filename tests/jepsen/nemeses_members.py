"""Membership: member_id, remove_member, join_fresh and the membership nemesis."""

from __future__ import annotations

import time

import requests

from db import ADMIN_KEY
from nemesis_base import Nemesis


def member_id(ctx, name):
    """(raft id of `name` in GET /api/v1/cluster or None, the document)."""
    doc = ctx.db.cluster_doc()
    for m in (doc or {}).get("members", []):
        if m.get("name") == name:
            return m.get("id"), doc
    return None, doc


def remove_member(ctx, name, via=None):
    """DELETE /api/v1/cluster/nodes/{id} of `name` through `via` (a random
    live member by default); an unknown outcome is settled by looking at
    GET /api/v1/cluster.  Returns a detail dict with 'removed'."""
    members = ctx.db.client_nodes()
    nid, _ = member_id(ctx, name)
    if nid is None:
        return {"node": name, "removed": False, "skipped": f"{name} not in GET /api/v1/cluster"}
    if via is None:
        via = ctx.rng.choice([m for m in members if m in ctx.db.live() and m != name]
                             or members)
    status = None
    try:
        r = requests.delete(f"{ctx.db.nodes[via].url}/api/v1/cluster/nodes/{nid}",
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                            timeout=(1.0, 30.0))
        status = f"{r.status_code} {r.text[:200]}"
        removed = r.status_code == 200
    except requests.RequestException as e:
        status = repr(e)
        removed = False
    if not removed:
        # unknown outcome: look at the membership as the cluster sees it
        time.sleep(1.0)
        now_id, _ = member_id(ctx, name)
        removed = now_id is None or now_id != nid
    if removed:
        ctx.db.members.discard(name)
    return {"node": name, "id": nid, "via": via, "answer": status, "removed": removed}


def join_fresh(ctx, node, via=None):
    """Give `node` a fresh identity (new raft id, empty data directory, a
    config with only its own table) and start it with --join through `via`
    (a random live member by default); bounded wait until GET
    /api/v1/cluster lists it as a voter."""
    live_members = [m for m in ctx.db.client_nodes() if m in ctx.db.live() and m != node]
    if not live_members:
        return {"node": node, "joined": False, "skipped": "no live member"}
    via = via or ctx.rng.choice(live_members)
    ctx.db.stop(node)
    ctx.db.write_joiner_config(node)
    nid = ctx.db.nodes[node].id
    ctx.db.start(node, wait=True, timeout=30, join_via=f"{ctx.db.nodes[via].addr}:8000")
    ctx.db.members.add(node)
    deadline = time.monotonic() + 30
    joined = False
    while time.monotonic() < deadline and not joined:
        doc = ctx.db.cluster_doc()
        joined = any(m.get("id") == nid and m.get("role") == "voter"
                     for m in (doc or {}).get("members", []))
        if not joined:
            time.sleep(0.3)
    return {"node": node, "id": nid, "via": via, "joined": joined}


class MembershipNemesis(Nemesis):
    """Shrink and grow the cluster through the membership API (issue C).

    Each window start is a random change, the window stop the opposite one:
      grow:   a node outside the cluster (a spare, or one removed earlier)
              gets a fresh identity (new raft id, empty data directory, a
              config with only its own table) and is started with
              --join <a random member's http address>; it is a member once
              GET /api/v1/cluster lists it as a voter (bounded wait).
      shrink: DELETE /api/v1/cluster/nodes/{id} of a random member (the
              leader included: leadership moves first), sent to a random
              member; the removed node is then stopped (SIGTERM).
    The cluster never shrinks below `min_members` voters nor grows beyond
    the nodes that have namespaces.  Clients talk to the current members."""
    name = "membership"

    def __init__(self, min_members=2):
        self.min_members = min_members
        self.last = None

    def grow(self, ctx):
        outside = [n for n in ctx.db.names if n not in ctx.db.members]
        live_members = [m for m in ctx.db.client_nodes() if m in ctx.db.live()]
        if not outside or not live_members:
            return {"action": "grow", "skipped": "no node outside the cluster" if not outside
                    else "no live member"}
        node = ctx.rng.choice(outside)
        via = ctx.rng.choice(live_members)
        d = join_fresh(ctx, node, via)
        return dict({"action": "grow"}, **d, members=ctx.db.client_nodes())

    def shrink(self, ctx):
        members = ctx.db.client_nodes()
        if len(members) <= self.min_members:
            return {"action": "shrink", "skipped": f"only {len(members)} members"}
        victim = ctx.rng.choice(members)
        if member_id(ctx, victim)[0] is None:
            return {"action": "shrink", "skipped": f"{victim} not in GET /api/v1/cluster"}
        via = ctx.rng.choice([m for m in members if m in ctx.db.live()] or members)
        d = remove_member(ctx, victim, via)
        if d.get("removed"):
            ctx.db.stop(victim)
        return dict({"action": "shrink"}, **d, members=ctx.db.client_nodes())

    def start(self, ctx):
        outside = [n for n in ctx.db.names if n not in ctx.db.members]
        can_grow = bool(outside)
        can_shrink = len(ctx.db.members) > self.min_members
        if can_grow and (not can_shrink or ctx.rng.random() < 0.5):
            self.last = "grow"
            return self.grow(ctx)
        self.last = "shrink"
        return self.shrink(ctx)

    def stop(self, ctx):
        last, self.last = self.last, None
        if last == "grow":
            return self.shrink(ctx)
        if last == "shrink":
            return self.grow(ctx)
        return {}
