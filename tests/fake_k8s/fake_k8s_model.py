"""fake_k8s: workload kinds, name/hash helpers and the template/workload records of FakeCluster."""

import hashlib
import time

from fake_k8s_images import _norm_digest


KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets",
         "DaemonSet": "daemonsets"}
_KIND_ALIASES = {}
for _k, _plural in KINDS.items():
    for _a in (_k, _k.lower(), _plural, _plural[:-1]):
        _KIND_ALIASES[_a] = _k
_KIND_ALIASES.update({"deploy": "Deployment", "sts": "StatefulSet", "ds": "DaemonSet"})

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _kind(k):
    try:
        return _KIND_ALIASES[k]
    except KeyError:
        raise ValueError("unknown workload kind %r" % (k,))


def _h(*parts):
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()


def _safe_hash(*parts):
    """Like Kubernetes' pod-template-hash: a uint32 printed in decimal, each
    digit mapped through the 'safe' alphabet (no vowels)."""
    n = int(_h(*parts)[:8], 16)
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(n))


def _suffix(*parts, n=5):
    x = int(_h(*parts), 16)
    s = ""
    for _ in range(n):
        x, r = divmod(x, len(_SAFE))
        s += _SAFE[r]
    return s


def _ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _containers_arg(cs):
    """Accept [(name, image)], [(name, image, digest)], [[...]] or
    [{"name", "image", "digest"?, "imageID"?}] -> list of dicts."""
    out = []
    for c in cs or []:
        if isinstance(c, dict):
            d = {"name": c["name"], "image": c["image"],
                 "digest": _norm_digest(c.get("digest")), "imageID": c.get("imageID")}
        else:
            c = list(c)
            d = {"name": c[0], "image": c[1],
                 "digest": _norm_digest(c[2]) if len(c) > 2 and c[2] else None,
                 "imageID": None}
        out.append(d)
    names = [c["name"] for c in out]
    if len(set(names)) != len(names):
        raise ValueError("duplicate container names %r" % names)
    return out


class _Template:
    __slots__ = ("containers", "init_containers", "hash", "revision", "created")

    def __init__(self, containers, init_containers, hash, revision, created):
        self.containers = containers
        self.init_containers = init_containers
        self.hash = hash
        self.revision = revision
        self.created = created


class _Workload:
    def __init__(self, kind, ns, name, uid, labels, replicas, created):
        self.kind, self.namespace, self.name, self.uid = kind, ns, name, uid
        self.labels = labels
        self.match_labels = {"app": labels.get("app", name)}
        self.replicas = replicas
        self.created = created
        self.generation = 1
        self.rv = 0
        self.templates = []          # revision history, last = current
        self.rollout_from = None     # _Template while a rollout is in progress
        self.updated = None          # pods on the current template, None = all
        self.not_ready = {}          # container name or "*" -> reason

    @property
    def current(self):
        return self.templates[-1]
