#!/usr/bin/python3
"""A fake Kubernetes API server for shiplog's collector tests (tests only).

Python 3 stdlib only.  Serves, over HTTPS on 127.0.0.1, the read-only part of
the Kubernetes API that the collector uses, in the real JSON shapes:

    GET /version, /api, /apis, /healthz, /livez, /readyz
    GET /api/v1/namespaces[/{name}]
    GET /api/v1/pods, /api/v1/namespaces/{ns}/pods[/{name}]
    GET /apis/apps/v1/{deployments,statefulsets,daemonsets,replicasets}
    GET /apis/apps/v1/namespaces/{ns}/{resource}[/{name}]

List queries: labelSelector (=, ==, !=, key, !key, in, notin), fieldSelector
(metadata.name, metadata.namespace, status.phase, spec.nodeName), limit and
continue.  Items inside lists carry no kind/apiVersion (as the real server);
zero-valued `omitempty` status fields are left out (e.g. a Deployment with no
ready pods has no `readyReplicas`).

The state lives in a FakeCluster that tests mutate while the collector runs
(rollouts, rollbacks, deletions, readiness, injected failures, delays, token).
Pods, ReplicaSets and statuses are derived from the workloads on every request.

Control endpoints (no auth, not logged, never failed or delayed) let a
process that did not start the server drive it:
    POST /_fake/call      {"method": "set_image", "args": [...], "kwargs": {...}}
    GET  /_fake/requests  the request log (JSON list)
    POST /_fake/reset     clear the request log

CLI:  /usr/bin/python3 fake_k8s.py --fixture FILE --token T --pki-dir DIR --port 0
prints one JSON line {"url": ..., "ca": ..., ...} once listening, serves until
SIGTERM/SIGINT.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

__all__ = ["make_pki", "FakeCluster", "FakeK8sServer", "kubeconfig",
           "kubeconfig_multi", "default_digest", "image_id", "normalize_image",
           "KINDS"]

# --------------------------------------------------------------------------
# PKI via the openssl CLI
# --------------------------------------------------------------------------

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args),
                                                      r.stderr.decode(errors="replace")))


def _genkey(path, key_type):
    if key_type == "rsa":
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", path)
    else:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", path)
    os.chmod(path, 0o600)


def make_pki(dir, key_type="ec", days=365,
             server_san="IP:127.0.0.1,DNS:localhost",
             ca_cn="fake-k8s-ca", client_cn="shiplog-collector",
             client_org="system:masters"):
    """Create a CA, a server cert (SAN server_san) and a client cert, all with
    the openssl CLI, in `dir` (created if needed).  Returns a dict of paths
    (ca_cert, ca_key, server_cert, server_key, client_cert, client_key, dir)
    and PEM strings (ca_pem, server_cert_pem, server_key_pem, client_cert_pem,
    client_key_pem).  key_type: "ec" (P-256, fast) or "rsa" (2048)."""
    dir = os.path.abspath(str(dir))
    os.makedirs(dir, exist_ok=True)
    ku = "digitalSignature,keyEncipherment" if key_type == "rsa" else "digitalSignature"
    cnf = os.path.join(dir, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write(_OPENSSL_CNF.format(ku=ku, san=server_san))
    p = {k: os.path.join(dir, v) for k, v in (
        ("ca_cert", "ca.crt"), ("ca_key", "ca.key"),
        ("server_cert", "server.crt"), ("server_key", "server.key"),
        ("client_cert", "client.crt"), ("client_key", "client.key"))}
    days = str(int(days))
    _genkey(p["ca_key"], key_type)
    _openssl("req", "-config", cnf, "-new", "-x509", "-sha256", "-days", days,
             "-key", p["ca_key"], "-subj", "/CN=" + ca_cn,
             "-extensions", "v3_ca", "-out", p["ca_cert"])
    for who, subj, ext in (("server", "/CN=kube-apiserver", "v3_server"),
                           ("client", "/O=%s/CN=%s" % (client_org, client_cn), "v3_client")):
        key, crt = p[who + "_key"], p[who + "_cert"]
        csr = os.path.join(dir, who + ".csr")
        _genkey(key, key_type)
        _openssl("req", "-config", cnf, "-new", "-sha256", "-key", key,
                 "-subj", subj, "-out", csr)
        _openssl("x509", "-req", "-sha256", "-days", days, "-in", csr,
                 "-CA", p["ca_cert"], "-CAkey", p["ca_key"],
                 "-set_serial", "0x" + os.urandom(8).hex(),
                 "-extfile", cnf, "-extensions", ext, "-out", crt)
        os.unlink(csr)
    out = dict(p)
    out["dir"] = dir
    for k in ("ca_cert", "server_cert", "server_key", "client_cert", "client_key"):
        with open(p[k]) as f:
            out[("ca" if k == "ca_cert" else k) + "_pem"] = f.read()
    return out


def _load_pki(dir):
    """make_pki() result for an existing directory, or None if incomplete."""
    dir = os.path.abspath(str(dir))
    names = {"ca_cert": "ca.crt", "ca_key": "ca.key", "server_cert": "server.crt",
             "server_key": "server.key", "client_cert": "client.crt",
             "client_key": "client.key"}
    p = {k: os.path.join(dir, v) for k, v in names.items()}
    if not all(os.path.isfile(v) for v in p.values()):
        return None
    out = dict(p)
    out["dir"] = dir
    for k in ("ca_cert", "server_cert", "server_key", "client_cert", "client_key"):
        with open(p[k]) as f:
            out[("ca" if k == "ca_cert" else k) + "_pem"] = f.read()
    return out


# --------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------

_PLAIN_SCALAR = re.compile(r"^[A-Za-z_/][A-Za-z0-9._/:+=-]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yq(s):
    """A YAML scalar: plain when unambiguous, else a JSON (= YAML) double-quoted string."""
    s = str(s)
    if _PLAIN_SCALAR.match(s) and s.lower() not in _YAML_SPECIAL and ": " not in s:
        return s
    return json.dumps(s)


def _b64(pem):
    if isinstance(pem, str):
        pem = pem.encode()
    return base64.b64encode(pem).decode()


def kubeconfig_multi(entries, current=None):
    """A kubeconfig with several clusters/users/contexts.  Each entry is a dict
    with the keyword arguments of kubeconfig() (server_url, ca_pem, token,
    client_cert_pem, client_key_pem, name, namespace, ca_file,
    client_cert_file, client_key_file, insecure).  Keys are written in the
    order kubectl writes them (sorted)."""
    if not entries:
        raise ValueError("no entries")
    names = [e.get("name", "fake") for e in entries]
    if current is None:
        current = names[0]
    L = ["apiVersion: v1", "clusters:"]
    for e in entries:
        L.append("- cluster:")
        if e.get("ca_pem"):
            L.append("    certificate-authority-data: " + _b64(e["ca_pem"]))
        elif e.get("ca_file"):
            L.append("    certificate-authority: " + _yq(e["ca_file"]))
        if e.get("insecure"):
            L.append("    insecure-skip-tls-verify: true")
        L.append("    server: " + _yq(e["server_url"]))
        L.append("  name: " + _yq(e.get("name", "fake")))
    L.append("contexts:")
    for e in entries:
        n = e.get("name", "fake")
        L.append("- context:")
        L.append("    cluster: " + _yq(n))
        if e.get("namespace"):
            L.append("    namespace: " + _yq(e["namespace"]))
        L.append("    user: " + _yq(n))
        L.append("  name: " + _yq(n))
    L.append("current-context: " + _yq(current))
    L.append("kind: Config")
    L.append("preferences: {}")
    L.append("users:")
    for e in entries:
        L.append("- name: " + _yq(e.get("name", "fake")))
        u = []
        if e.get("client_cert_pem"):
            u.append("    client-certificate-data: " + _b64(e["client_cert_pem"]))
        elif e.get("client_cert_file"):
            u.append("    client-certificate: " + _yq(e["client_cert_file"]))
        if e.get("client_key_pem"):
            u.append("    client-key-data: " + _b64(e["client_key_pem"]))
        elif e.get("client_key_file"):
            u.append("    client-key: " + _yq(e["client_key_file"]))
        if e.get("token"):
            u.append("    token: " + _yq(e["token"]))
        if u:
            L.append("  user:")
            L.extend(u)
        else:
            L.append("  user: {}")
    return "\n".join(L) + "\n"


def kubeconfig(server_url, ca_pem, token=None, client_cert_pem=None,
               client_key_pem=None, name="fake", namespace=None, ca_file=None,
               client_cert_file=None, client_key_file=None, insecure=False):
    """A kubeconfig YAML string for one cluster, as `kubectl config` writes it
    (certificate-authority-data etc. base64 of the PEM)."""
    return kubeconfig_multi([dict(
        server_url=server_url, ca_pem=ca_pem, token=token,
        client_cert_pem=client_cert_pem, client_key_pem=client_key_pem,
        name=name, namespace=namespace, ca_file=ca_file,
        client_cert_file=client_cert_file, client_key_file=client_key_file,
        insecure=insecure)])


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

def _split_image(image):
    """'reg:5000/a/b:tag@sha256:x' -> ('reg:5000/a/b', 'tag' or None, 'sha256:x' or None)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    i = image.rfind(":")
    if i > image.rfind("/"):
        image, tag = image[:i], image[i + 1:]
    return image, tag, digest


def _normalize_repo(repo):
    first = repo.split("/", 1)[0]
    if "/" in repo and ("." in first or ":" in first or first == "localhost"):
        return repo
    if "/" not in repo:
        return "docker.io/library/" + repo
    return "docker.io/" + repo


def normalize_image(image):
    """The fully-qualified reference containerd reports in status.image:
    'nginx:1.21' -> 'docker.io/library/nginx:1.21', 'redis' ->
    'docker.io/library/redis:latest'; digest references keep the digest."""
    repo, tag, digest = _split_image(image)
    n = _normalize_repo(repo)
    if digest:
        return n + (":" + tag if tag else "") + "@" + digest
    return n + ":" + (tag or "latest")


def _norm_digest(d):
    if d is None:
        return None
    d = str(d)
    if not d.startswith("sha256:"):
        d = "sha256:" + d
    if not re.match(r"^sha256:[0-9a-f]{64}$", d):
        raise ValueError("bad digest %r" % d)
    return d


def default_digest(image):
    """The digest the fake 'registry' resolves an image to: the digest in the
    reference when there is one, else 'sha256:' + sha256(image string)."""
    _, _, d = _split_image(image)
    if d:
        return d
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def image_id(image, digest=None, runtime="containerd"):
    """status.containerStatuses[].imageID for a running container.
    containerd: 'docker.io/library/nginx@sha256:...';
    docker: 'docker-pullable://nginx@sha256:...'."""
    d = _norm_digest(digest) if digest else default_digest(image)
    repo, _, _ = _split_image(image)
    if runtime == "docker":
        return "docker-pullable://" + repo + "@" + d
    return _normalize_repo(repo) + "@" + d


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

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


_STATUS_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
                   404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
                   410: "Expired", 422: "Invalid", 429: "TooManyRequests",
                   500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
_SPECIAL_FAILURES = ("reset", "truncated", "badjson")


class FakeCluster:
    """In-memory model of one Kubernetes cluster.  Thread-safe; every method
    can be called while a server serves it."""

    # methods callable through POST /_fake/call
    CONTROL_METHODS = frozenset((
        "add_namespace", "delete_namespace", "add_workload", "set_image",
        "set_images", "rollback", "complete_rollout", "scale", "delete_workload",
        "set_pods_ready", "add_pod", "delete_pod", "fail_next", "set_failure",
        "set_delay", "set_token", "clear_requests", "load_fixture", "set_runtime"))

    def __init__(self, token=None, version="v1.28.0", runtime="containerd",
                 nodes=("node-1", "node-2", "node-3")):
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.token = token
        self.version = version
        self.runtime = runtime
        self.nodes = list(nodes)
        self.namespaces = {}      # name -> dict(uid, labels, created, rv)
        self.workloads = {}       # (kind, ns, name) -> _Workload
        self.bare_pods = {}       # (ns, name) -> dict
        self.requests = []        # (method, path, raw query)
        self.request_log = []     # dicts: method, path, query, params, status, user, ...
        self._rv = 1000
        self._seq = 0
        self._fail_queue = []     # [remaining, status, path, body]
        self._failure = None      # (status, path, body)
        self._delay = None        # (seconds, path, after_headers)

    # ---- helpers -----------------------------------------------------------

    def _bump(self):
        self._rv += 1
        return self._rv

    def _uid(self, *parts):
        self._seq += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-k8s/%d/%s" % (
            self._seq, "/".join(map(str, parts)))))

    def _get(self, kind, ns, name):
        k = (_kind(kind), ns, name)
        try:
            return self.workloads[k]
        except KeyError:
            raise KeyError("no %s %s/%s" % k)

    def _new_template(self, w, containers, init_containers):
        hsh = _safe_hash(w.kind, w.namespace, w.name,
                         json.dumps([containers, init_containers], sort_keys=True))
        rev = (w.templates[-1].revision + 1) if w.templates else 1
        for i, t in enumerate(w.templates):
            if t.hash == hsh:        # back to an older template: reuse it
                del w.templates[i]
                t.revision = rev
                t.created = time.time()
                return t
        return _Template(containers, init_containers, hsh, rev, time.time())

    def image_id_for(self, image, digest=None):
        """The imageID a running container of `image` gets in this cluster."""
        return image_id(image, digest, self.runtime)

    # ---- namespaces ----------------------------------------------------------

    def add_namespace(self, name, labels=None):
        with self._lock:
            if name in self.namespaces:
                return
            lab = {"kubernetes.io/metadata.name": name}
            lab.update(labels or {})
            self.namespaces[name] = {"uid": self._uid("ns", name), "labels": lab,
                                     "created": time.time(), "rv": self._bump()}

    def delete_namespace(self, name):
        """Delete a namespace and everything in it."""
        with self._lock:
            self.namespaces.pop(name, None)
            for k in [k for k in self.workloads if k[1] == name]:
                del self.workloads[k]
            for k in [k for k in self.bare_pods if k[0] == name]:
                del self.bare_pods[k]
            self._bump()

    # ---- workloads -----------------------------------------------------------

    def add_workload(self, kind, ns, name, containers=(("app", "nginx:1.21"),),
                     init_containers=(), replicas=1, labels=None, ready=True):
        """Create a Deployment/StatefulSet/DaemonSet (namespace auto-created).
        containers: [(name, image)] or [(name, image, digest)] or dicts with
        name, image, digest, imageID (an imageID override, verbatim).
        For a DaemonSet, replicas is the number of nodes it runs on.
        Returns the workload uid."""
        kind = _kind(kind)
        cs, ics = _containers_arg(containers), _containers_arg(init_containers)
        if not cs:
            raise ValueError("a workload needs at least one container")
        with self._lock:
            if (kind, ns, name) in self.workloads:
                raise ValueError("%s %s/%s exists" % (kind, ns, name))
            self.add_namespace(ns)
            lab = dict(labels) if labels else {"app": name}
            w = _Workload(kind, ns, name, self._uid(kind, ns, name), lab,
                          int(replicas), time.time())
            w.templates.append(self._new_template(w, cs, ics))
            if not ready:
                w.not_ready["*"] = "ContainerCreating"
            w.rv = self._bump()
            self.workloads[(kind, ns, name)] = w
            return w.uid

    def delete_workload(self, kind, ns, name):
        """Delete a workload with its ReplicaSets and pods."""
        with self._lock:
            w = self._get(kind, ns, name)
            del self.workloads[(w.kind, ns, name)]
            self._bump()

    def set_images(self, kind, ns, name, images, digests=None, updated=None):
        """A rollout changing several containers (init or not) at once.
        images: {container: image}; digests: {container: digest} overrides.
        updated: number of pods already on the new template (partial rollout,
        old pods keep the old image); None = rollout complete.
        Returns False when nothing changed."""
        digests = digests or {}
        with self._lock:
            w = self._get(kind, ns, name)
            cur = w.current
            cs = copy.deepcopy(cur.containers)
            ics = copy.deepcopy(cur.init_containers)
            byname = {c["name"]: c for c in cs + ics}
            for cname, img in images.items():
                if cname not in byname:
                    raise KeyError("%s %s/%s has no container %r" % (w.kind, ns, name, cname))
                c = byname[cname]
                c["image"] = img
                c["digest"] = _norm_digest(digests.get(cname))
                c["imageID"] = None
            if cs == cur.containers and ics == cur.init_containers:
                return False
            self._switch(w, self._new_template(w, cs, ics), updated)
            return True

    def _switch(self, w, tmpl, updated):
        old = w.current
        w.templates.append(tmpl)
        del w.templates[:-11]        # revisionHistoryLimit 10 (+ current)
        w.generation += 1
        if updated is None or updated >= w.replicas:
            w.rollout_from, w.updated = None, None
        else:
            w.rollout_from, w.updated = old, max(0, int(updated))
        w.rv = self._bump()

    def set_image(self, kind, ns, name, container, image, digest=None, updated=None):
        """A rollout: pods get the new image and imageID (digest overrides the
        default sha256-of-the-image-string digest)."""
        return self.set_images(kind, ns, name, {container: image},
                               {container: digest} if digest else None, updated)

    def rollback(self, kind, ns, name, container=None, image=None, digest=None,
                 to_revision=None, updated=None):
        """With container+image: same as set_image to an older image.  Without:
        `kubectl rollout undo` to the previous revision (or to_revision); the
        old ReplicaSet (same pod-template-hash) becomes current again."""
        if container is not None:
            return self.set_image(kind, ns, name, container, image, digest, updated)
        with self._lock:
            w = self._get(kind, ns, name)
            if to_revision is None:
                if len(w.templates) < 2:
                    raise ValueError("no previous revision")
                t = w.templates[-2]
            else:
                t = next((x for x in w.templates if x.revision == int(to_revision)), None)
                if t is None:
                    raise ValueError("no revision %s" % to_revision)
                if t is w.current:
                    return False
            w.templates.remove(t)
            t.revision = w.current.revision + 1
            t.created = time.time()
            self._switch(w, t, updated)
            return True

    def complete_rollout(self, kind, ns, name):
        """Finish a partial rollout: every pod on the current template."""
        with self._lock:
            w = self._get(kind, ns, name)
            w.rollout_from, w.updated = None, None
            w.rv = self._bump()

    def scale(self, kind, ns, name, replicas):
        with self._lock:
            w = self._get(kind, ns, name)
            w.replicas = int(replicas)
            if w.kind != "DaemonSet":
                w.generation += 1
            w.rv = self._bump()

    def set_pods_ready(self, kind, ns, name, ready, container=None,
                       reason="ContainerCreating"):
        """ready=False: the workload's containers (or only `container`) are not
        ready.  reason "ContainerCreating", "ErrImagePull", "ImagePullBackOff"...
        gives a waiting, not started container with imageID "" (as Kubernetes);
        reason "CrashLoopBackOff" keeps the imageID (image was pulled) and
        reports restarts; reason "Unready" is running and started but failing
        its readiness probe (imageID kept).  ready=True undoes it."""
        with self._lock:
            w = self._get(kind, ns, name)
            if ready:
                if container is None:
                    w.not_ready.clear()
                elif "*" in w.not_ready:
                    r = w.not_ready.pop("*")
                    for c in w.current.containers + w.current.init_containers:
                        if c["name"] != container:
                            w.not_ready[c["name"]] = r
                else:
                    w.not_ready.pop(container, None)
            else:
                if container is None:
                    w.not_ready.clear()
                    w.not_ready["*"] = reason
                else:
                    w.not_ready[container] = reason
            w.rv = self._bump()

    def add_pod(self, ns, name, containers=(("app", "busybox:1.36"),), labels=None,
                ready=True, node=None):
        """A bare pod without ownerReferences (e.g. `kubectl run`)."""
        with self._lock:
            self.add_namespace(ns)
            self.bare_pods[(ns, name)] = {
                "uid": self._uid("pod", ns, name), "labels": dict(labels or {"run": name}),
                "containers": _containers_arg(containers), "ready": ready,
                "node": node or self.nodes[0], "created": time.time(), "rv": self._bump()}

    def delete_pod(self, ns, name):
        with self._lock:
            self.bare_pods.pop((ns, name), None)
            self._bump()

    def set_runtime(self, runtime):
        """"containerd" (imageID docker.io/library/x@sha256:..) or "docker"
        (docker-pullable://x@sha256:..)."""
        if runtime not in ("containerd", "docker"):
            raise ValueError(runtime)
        with self._lock:
            self.runtime = runtime
            self._bump()

    # ---- failures, delays, auth ------------------------------------------------

    def fail_next(self, n, status=500, path=None, body=None):
        """The next n API requests (whose path starts with `path`, if given)
        fail with `status`: an HTTP code (Kubernetes Status body, or `body`
        verbatim as text/plain), or "reset" (connection closed without an
        answer), "truncated" (body shorter than Content-Length), "badjson"."""
        with self._lock:
            self._fail_queue.append([int(n), status, path, body])

    def set_failure(self, status, path=None, body=None):
        """Every API request (under `path`) fails with `status` until
        set_failure(None)."""
        with self._lock:
            self._failure = None if status is None else (status, path, body)
            if status is None:
                self._fail_queue.clear()

    def set_delay(self, seconds, path=None, after_headers=False):
        """Delay each API response (under `path`) by `seconds` (0/None: off).
        after_headers=True sends the headers and half the body first, then
        stalls (a slow body rather than a slow server)."""
        with self._lock:
            self._delay = (float(seconds), path, bool(after_headers)) if seconds else None

    def set_token(self, tok):
        """The bearer token accepted from now on (None: tokens never accepted)."""
        with self._lock:
            self.token = tok

    def _take_failure(self, path):
        with self._lock:
            for f in self._fail_queue:
                if f[0] > 0 and (f[2] is None or path.startswith(f[2])):
                    f[0] -= 1
                    st, body = f[1], f[3]
                    self._fail_queue = [x for x in self._fail_queue if x[0] > 0]
                    return st, body
            if self._failure and (self._failure[1] is None or path.startswith(self._failure[1])):
                return self._failure[0], self._failure[2]
            return None

    def _take_delay(self, path):
        with self._lock:
            d = self._delay
            if d and (d[1] is None or path.startswith(d[1])):
                return d[0], d[2]
            return None

    # ---- request log --------------------------------------------------------

    def _record(self, entry):
        with self._cond:
            self.requests.append((entry["method"], entry["path"], entry["query"]))
            self.request_log.append(entry)
            self._cond.notify_all()

    def clear_requests(self):
        with self._lock:
            del self.requests[:]
            del self.request_log[:]

    def count(self, path=None, method="GET"):
        """Number of recorded requests (with exactly this path, if given)."""
        with self._lock:
            return sum(1 for m, p, _ in self.requests
                       if (path is None or p == path) and (method is None or m == method))

    def wait_for_requests(self, count=1, path=None, timeout=5.0):
        """Block until count(path) >= count; returns whether it happened."""
        end = time.monotonic() + timeout
        with self._cond:
            while self.count(path, None) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # ---- fixtures -----------------------------------------------------------

    def load_fixture(self, data):
        """Load a fixture (dict, JSON text or path).  Format:
        {"version": "v1.28.0", "runtime": "containerd", "nodes": [...],
         "token": "...", "namespaces": ["default", {"name": "x", "labels": {}}],
         "workloads": [{"kind": "Deployment", "namespace": "ns", "name": "web",
             "replicas": 2, "labels": {...}, "ready": true,
             "containers": [{"name": "nginx", "image": "nginx:1.21.0",
                             "digest": "sha256:..."?, "imageID": "..."?}],
             "initContainers": [...]}],
         "pods": [{"namespace": "ns", "name": "p", "containers": [...]}]}"""
        if isinstance(data, (str, os.PathLike)):
            s = str(data)
            if s.lstrip().startswith("{"):
                data = json.loads(s)
            else:
                with open(s) as f:
                    data = json.load(f)
        with self._lock:
            if "version" in data:
                self.version = data["version"]
            if "runtime" in data:
                self.set_runtime(data["runtime"])
            if "nodes" in data:
                self.nodes = list(data["nodes"])
            if "token" in data and self.token is None:
                self.token = data["token"]
            for ns in data.get("namespaces", []):
                if isinstance(ns, str):
                    self.add_namespace(ns)
                else:
                    self.add_namespace(ns["name"], ns.get("labels"))
            for w in data.get("workloads", []):
                self.add_workload(w["kind"], w["namespace"], w["name"],
                                  containers=w["containers"],
                                  init_containers=w.get("initContainers", []),
                                  replicas=w.get("replicas", 1),
                                  labels=w.get("labels"), ready=w.get("ready", True))
            for p in data.get("pods", []):
                self.add_pod(p["namespace"], p["name"], p["containers"],
                             p.get("labels"), p.get("ready", True))

    @classmethod
    def from_fixture(cls, fixture, **kw):
        c = cls(**kw)
        c.load_fixture(fixture)
        return c

    # ---- derived objects (all called with the lock held) ----------------------

    def _pod_plan(self, w):
        """[(template, index)] for each pod of w."""
        n, cur = w.replicas, w.current
        k = w.updated if w.rollout_from is not None else None
        if k is None:
            return [(cur, i) for i in range(n)]
        old = w.rollout_from
        if w.kind == "Deployment":
            return [(cur, i) for i in range(k)] + [(old, i) for i in range(n - k)]
        if w.kind == "StatefulSet":   # highest ordinals are updated first
            return [(cur if i >= n - k else old, i) for i in range(n)]
        return [(cur if i < k else old, i) for i in range(n)]

    def _pod_spec(self, containers, init_containers, node=None):
        def c(x):
            _, tag, dig = _split_image(x["image"])
            pol = "Always" if (tag in (None, "latest") and not dig) else "IfNotPresent"
            return {"name": x["name"], "image": x["image"], "imagePullPolicy": pol,
                    "resources": {}, "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}
        spec = {"containers": [c(x) for x in containers]}
        if init_containers:
            spec["initContainers"] = [c(x) for x in init_containers]
        spec.update({"restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
                     "serviceAccount": "default", "securityContext": {},
                     "schedulerName": "default-scheduler"})
        if node:
            spec["nodeName"] = node
        return spec

    def _container_status(self, x, pod_uid, started_at, not_ready, init=False):
        reason = not_ready.get("*") or not_ready.get(x["name"])
        rt = self.runtime
        img = x["image"] if rt == "docker" else normalize_image(x["image"])
        iid = x.get("imageID") or image_id(x["image"], x.get("digest"), rt)
        cid = ("docker://" if rt == "docker" else "containerd://") + _h(pod_uid, x["name"])
        st = {"name": x["name"], "image": img, "imageID": iid, "containerID": cid,
              "lastState": {}, "ready": False, "restartCount": 0, "started": False}
        if init:
            if reason and reason not in ("CrashLoopBackOff", "Unready"):
                st.update(imageID="", state={"waiting": {"reason": "PodInitializing"}})
                del st["containerID"]
            else:
                st.update(ready=True, state={"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": started_at,
                    "finishedAt": started_at, "containerID": cid}})
            return st
        if reason is None:
            st.update(ready=True, started=True, state={"running": {"startedAt": started_at}})
        elif reason == "Unready":
            st.update(started=True, state={"running": {"startedAt": started_at}})
        elif reason == "CrashLoopBackOff":
            st.update(restartCount=3, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 40s restarting failed container"}},
                lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                          "startedAt": started_at, "finishedAt": started_at,
                                          "containerID": cid}})
        else:
            st.update(imageID="", state={"waiting": {"reason": reason}})
            del st["containerID"]
        return st

    def _pod(self, ns, name, uid, labels, owner, tmpl_cs, tmpl_ics, node, created,
             not_ready, rv):
        started_at = _ts(created)
        cstats = [self._container_status(x, uid, started_at, not_ready) for x in tmpl_cs]
        istats = [self._container_status(x, uid, started_at, not_ready, True) for x in tmpl_ics]
        ready = all(s["ready"] for s in cstats)
        any_started = any(s["started"] or s["restartCount"] for s in cstats)
        phase = "Running" if any_started else "Pending"
        inits_done = all(s["ready"] for s in istats)
        cond = lambda t, ok: {"type": t, "status": "True" if ok else "False",  # noqa: E731
                              "lastProbeTime": None, "lastTransitionTime": started_at}
        nidx = self.nodes.index(node) if node in self.nodes else 0
        ip = int(_h(ns, name)[:4], 16)
        md = {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
              "creationTimestamp": _ts(created), "labels": labels}
        if owner:
            md["generateName"] = name[:name.rfind("-") + 1]
            md["ownerReferences"] = [owner]
        status = {"phase": phase,
                  "conditions": [cond("Initialized", inits_done), cond("Ready", ready),
                                 cond("ContainersReady", ready), cond("PodScheduled", True)],
                  "hostIP": "10.0.0.%d" % (nidx + 10),
                  "podIP": "10.244.%d.%d" % (nidx, ip % 250 + 2),
                  "startTime": started_at}
        status["podIPs"] = [{"ip": status["podIP"]}]
        if istats:
            status["initContainerStatuses"] = istats
        status["containerStatuses"] = cstats
        status["qosClass"] = "BestEffort"
        return {"metadata": md, "spec": self._pod_spec(tmpl_cs, tmpl_ics, node),
                "status": status}

    def _owner(self, kind, name, uid):
        return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid,
                "controller": True, "blockOwnerDeletion": True}

    def _rs_name(self, w, t):
        return "%s-%s" % (w.name, t.hash)

    def _template_labels(self, w):
        lab = dict(w.match_labels)
        lab.update(w.labels)
        return lab

    def _workload_pods(self, w):
        pods = []
        for t, i in self._pod_plan(w):
            lab = self._template_labels(w)
            if w.kind == "Deployment":
                rs = self._rs_name(w, t)
                pname = "%s-%s" % (rs, _suffix(w.uid, t.hash, i))
                lab["pod-template-hash"] = t.hash
                owner = self._owner("ReplicaSet", rs, str(uuid.uuid5(uuid.UUID(w.uid), rs)))
                node = self.nodes[int(_h(pname)[:6], 16) % len(self.nodes)]
            elif w.kind == "StatefulSet":
                pname = "%s-%d" % (w.name, i)
                lab["controller-revision-hash"] = "%s-%s" % (w.name, t.hash)
                lab["statefulset.kubernetes.io/pod-name"] = pname
                owner = self._owner("StatefulSet", w.name, w.uid)
                node = self.nodes[i % len(self.nodes)]
            else:
                pname = "%s-%s" % (w.name, _suffix(w.uid, t.hash, i))
                lab["controller-revision-hash"] = t.hash
                lab["pod-template-generation"] = str(t.revision)
                owner = self._owner("DaemonSet", w.name, w.uid)
                node = self.nodes[i % len(self.nodes)]
            uid = str(uuid.uuid5(uuid.UUID(w.uid), pname))
            pods.append(self._pod(w.namespace, pname, uid, lab, owner, t.containers,
                                  t.init_containers, node, t.created, w.not_ready, w.rv))
        return pods

    def _all_pods(self):
        pods = []
        for w in self.workloads.values():
            pods.extend(self._workload_pods(w))
        for (ns, name), p in self.bare_pods.items():
            nr = {} if p["ready"] else {"*": "ContainerCreating"}
            pods.append(self._pod(ns, name, p["uid"], dict(p["labels"]), None,
                                  p["containers"], [], p["node"], p["created"], nr, p["rv"]))
        return pods

    def _workload_meta(self, w):
        md = {"name": w.name, "namespace": w.namespace, "uid": w.uid,
              "resourceVersion": str(w.rv), "generation": w.generation,
              "creationTimestamp": _ts(w.created), "labels": dict(w.labels)}
        applied = {"apiVersion": "apps/v1", "kind": w.kind,
                   "metadata": {"name": w.name, "namespace": w.namespace,
                                "labels": dict(w.labels)}}
        md["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration":
                json.dumps(applied, separators=(",", ":")) + "\n"}
        if w.kind == "Deployment":
            md["annotations"]["deployment.kubernetes.io/revision"] = str(w.current.revision)
        return md

    def _workload_obj(self, w, pods):
        n = w.replicas
        cur = w.current
        ready = sum(1 for p in pods if all(c["ready"] for c in p["status"]["containerStatuses"]))
        updated = n if w.updated is None or w.rollout_from is None else w.updated
        tmpl = {"metadata": {"creationTimestamp": None, "labels": self._template_labels(w)},
                "spec": self._pod_spec(cur.containers, cur.init_containers)}
        spec = {"selector": {"matchLabels": dict(w.match_labels)}, "template": tmpl,
                "revisionHistoryLimit": 10}

        def omit0(d):
            return {k: v for k, v in d.items() if v != 0}

        if w.kind == "Deployment":
            spec = dict(replicas=n, **spec)
            spec["strategy"] = {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
            spec["progressDeadlineSeconds"] = 600
            status = omit0({"observedGeneration": w.generation, "replicas": len(pods),
                            "updatedReplicas": updated, "readyReplicas": ready,
                            "availableReplicas": ready,
                            "unavailableReplicas": len(pods) - ready})
            t = _ts(cur.created)
            status["conditions"] = [
                {"type": "Available", "status": "True" if ready >= n else "False",
                 "lastUpdateTime": t, "lastTransitionTime": t,
                 "reason": "MinimumReplicasAvailable" if ready >= n else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if ready >= n
                 else "Deployment does not have minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": t,
                 "lastTransitionTime": t,
                 "reason": "NewReplicaSetAvailable" if updated == n and ready >= n
                 else "ReplicaSetUpdated",
                 "message": 'ReplicaSet "%s" %s.' % (
                     self._rs_name(w, cur), "has successfully progressed"
                     if updated == n and ready >= n else "is progressing")}]
        elif w.kind == "StatefulSet":
            spec = dict(replicas=n, **spec)
            spec.update(serviceName=w.name, podManagementPolicy="OrderedReady",
                        updateStrategy={"type": "RollingUpdate",
                                        "rollingUpdate": {"partition": 0}})
            old = w.rollout_from if w.rollout_from is not None and w.updated is not None else cur
            status = {"observedGeneration": w.generation, "replicas": len(pods)}
            status.update(omit0({"readyReplicas": ready, "currentReplicas": n - updated
                                 if old is not cur else n, "updatedReplicas": updated}))
            status.update({"currentRevision": "%s-%s" % (w.name, old.hash),
                           "updateRevision": "%s-%s" % (w.name, cur.hash),
                           "collisionCount": 0, "availableReplicas": ready})
        else:
            spec["updateStrategy"] = {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
            status = {"currentNumberScheduled": n, "numberMisscheduled": 0,
                      "desiredNumberScheduled": n, "numberReady": ready,
                      "observedGeneration": w.generation}
            status.update(omit0({"updatedNumberScheduled": updated,
                                 "numberAvailable": ready, "numberUnavailable": n - ready}))
        return {"metadata": self._workload_meta(w), "spec": spec, "status": status}

    def _replicasets(self):
        out = []
        for w in self.workloads.values():
            if w.kind != "Deployment":
                continue
            pods = self._workload_pods(w)
            for t in w.templates:
                name = self._rs_name(w, t)
                mine = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == t.hash]
                ready = sum(1 for p in mine
                            if all(c["ready"] for c in p["status"]["containerStatuses"]))
                lab = self._template_labels(w)
                lab["pod-template-hash"] = t.hash
                sel = dict(w.match_labels)
                sel["pod-template-hash"] = t.hash
                md = {"name": name, "namespace": w.namespace,
                      "uid": str(uuid.uuid5(uuid.UUID(w.uid), name)),
                      "resourceVersion": str(w.rv), "generation": 1,
                      "creationTimestamp": _ts(t.created), "labels": lab,
                      "annotations": {"deployment.kubernetes.io/desired-replicas": str(w.replicas),
                                      "deployment.kubernetes.io/max-replicas": str(w.replicas + 1),
                                      "deployment.kubernetes.io/revision": str(t.revision)},
                      "ownerReferences": [self._owner("Deployment", w.name, w.uid)]}
                status = {"replicas": len(mine)}
                status.update({k: v for k, v in (("fullyLabeledReplicas", len(mine)),
                                                 ("readyReplicas", ready),
                                                 ("availableReplicas", ready)) if v})
                status["observedGeneration"] = 1
                tmpl = {"metadata": {"creationTimestamp": None, "labels": dict(lab)},
                        "spec": self._pod_spec(t.containers, t.init_containers)}
                out.append({"metadata": md,
                            "spec": {"replicas": len(mine), "selector": {"matchLabels": sel},
                                     "template": tmpl},
                            "status": status})
        return out

    def _namespace_objs(self):
        return [{"metadata": {"name": n, "uid": d["uid"], "resourceVersion": str(d["rv"]),
                              "creationTimestamp": _ts(d["created"]),
                              "labels": dict(d["labels"])},
                 "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
                for n, d in self.namespaces.items()]

    def objects(self, resource):
        """All objects of a resource ("pods", "deployments", "statefulsets",
        "daemonsets", "replicasets", "namespaces") as the server serves them,
        sorted by namespace/name (list items: no kind/apiVersion)."""
        with self._lock:
            if resource == "pods":
                items = self._all_pods()
            elif resource == "replicasets":
                items = self._replicasets()
            elif resource == "namespaces":
                items = self._namespace_objs()
            else:
                kind = _kind(resource)
                items = [self._workload_obj(w, self._workload_pods(w))
                         for w in self.workloads.values() if w.kind == kind]
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""),
                                      o["metadata"]["name"]))
            return items

    def pods_of(self, kind, ns, name):
        """The pods of one workload (as served)."""
        with self._lock:
            return self._workload_pods(self._get(kind, ns, name))

    @property
    def resource_version(self):
        return str(self._rv)


# --------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------

class _BadRequest(Exception):
    pass


def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_LABEL_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_LABEL_VAL = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def parse_label_selector(sel):
    """-> list of (key, op, values) with op in =, !=, in, notin, exists, !exists."""
    reqs = []
    for part in _split_top(sel):
        m = re.match(r"^(%s)\s+(in|notin)\s+\(([^)]*)\)$" % _LABEL_KEY, part)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            if not vals:
                raise _BadRequest("unable to parse requirement: %s: values must be non-empty" % part)
            reqs.append((m.group(1), m.group(2), set(vals)))
            continue
        m = re.match(r"^(%s)\s*(==|=|!=)\s*(%s)$" % (_LABEL_KEY, _LABEL_VAL), part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(3)}))
            continue
        m = re.match(r"^(!?)\s*(%s)$" % _LABEL_KEY, part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        raise _BadRequest("unable to parse requirement: found '%s', expected: "
                          "'=', '!=', '==', 'in', notin'" % part)
    return reqs


def _labels_match(reqs, labels):
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v in vals):
            return False
        if op == "!=" and has and v in vals:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


_FIELDS = {"metadata.name": ("metadata", "name"),
           "metadata.namespace": ("metadata", "namespace"),
           "status.phase": ("status", "phase"),
           "spec.nodeName": ("spec", "nodeName")}


def _parse_field_selector(sel, resource):
    reqs = []
    for part in _split_top(sel):
        m = re.match(r"^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise _BadRequest("invalid selector: '%s'; can't understand '%s'" % (sel, part))
        f = m.group(1)
        if f not in _FIELDS or (f in ("status.phase", "spec.nodeName") and resource != "pods"):
            raise _BadRequest('field label not supported: %s' % f)
        reqs.append((_FIELDS[f], m.group(2) != "!=", m.group(3)))
    return reqs


def _fields_match(reqs, obj):
    for (a, b), eq, val in reqs:
        v = obj.get(a, {}).get(b, "")
        if (v == val) != eq:
            return False
    return True


# --------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------

_RESOURCES = {
    # resource -> (group path, apiVersion, kind, group name)
    "pods": ("/api/v1", "v1", "Pod", ""),
    "namespaces": ("/api/v1", "v1", "Namespace", ""),
    "deployments": ("/apis/apps/v1", "apps/v1", "Deployment", "apps"),
    "statefulsets": ("/apis/apps/v1", "apps/v1", "StatefulSet", "apps"),
    "daemonsets": ("/apis/apps/v1", "apps/v1", "DaemonSet", "apps"),
    "replicasets": ("/apis/apps/v1", "apps/v1", "ReplicaSet", "apps"),
}


def _status_obj(code, message, reason=None, details=None):
    o = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason or _STATUS_REASONS.get(code, "Unknown"),
         "code": code}
    if details:
        o["details"] = details
    return o


def _route(path):
    """-> (resource, namespace or None, name or None) or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest, group = parts[2:], "core"
    elif parts[:3] == ["apis", "apps", "v1"]:
        rest, group = parts[3:], "apps"
    else:
        return None
    ns = None
    if group == "core" and len(rest) in (1, 2) and rest[0] == "namespaces":
        return ("namespaces", None, rest[1] if len(rest) == 2 else None)
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if len(rest) not in (1, 2):
        return None
    res = rest[0]
    if res not in _RESOURCES or res == "namespaces":
        return None
    if (_RESOURCES[res][3] == "apps") != (group == "apps"):
        return None
    return (res, ns, rest[1] if len(rest) == 2 else None)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-k8s"
    sys_version = ""
    timeout = 30          # idle keep-alive connections

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        self.server._conns_add(self.request)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server._conns_discard(self.request)

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("fake_k8s: %s - %s\n" % (self.address_string(), fmt % args))

    # ---- output ---------------------------------------------------------------

    def _send(self, code, body, ctype="application/json", headers=None, stall=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if stall:
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.server.fake._stopping.wait(stall)
            body = body[half:]
        self.wfile.write(body)
        self._status = code

    def _send_status(self, code, message, reason=None, details=None, stall=None):
        headers = {"Retry-After": "1"} if code == 429 else None
        if code == 429 and details is None:
            details = {"retryAfterSeconds": 1}
        self._send(code, _status_obj(code, message, reason, details), headers=headers,
                   stall=stall)

    # ---- dispatch -------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _user(self, cluster):
        if isinstance(self.connection, ssl.SSLSocket) and self.server.fake.client_cert:
            cert = self.connection.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return "cert:" + v
                return "cert:"
        auth = self.headers.get("Authorization", "")
        tok = cluster.token
        if auth.startswith("Bearer ") and tok is not None and hmac.compare_digest(
                auth[7:].strip().encode(), str(tok).encode()):
            return "token"
        return None

    def _dispatch(self, method):
        self._status = None
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        body = self._read_body()
        fake = self.server.fake
        cluster = fake.cluster
        if path.startswith("/_fake"):
            return self._control(method, path, body)
        params = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        entry = {"method": method, "path": path, "query": u.query, "params": params,
                 "time": time.time(), "authorization": self.headers.get("Authorization"),
                 "user_agent": self.headers.get("User-Agent"), "accept": self.headers.get("Accept")}
        try:
            delay = cluster._take_delay(path)
            stall = None
            if delay:
                if delay[1]:
                    stall = delay[0]
                else:
                    fake._stopping.wait(delay[0])
            fail = cluster._take_failure(path)
            if fail:
                return self._fail(fail[0], fail[1], path, stall)
            user = self._user(cluster)
            entry["user"] = user
            if user is None:
                return self._send_status(401, "Unauthorized", stall=stall)
            if method != "GET":
                return self._send_status(405, "the server does not allow this method on "
                                         "the requested resource (fake_k8s is read-only)",
                                         stall=stall)
            code, obj, ctype = self._get(cluster, path, params)
            self._send(code, obj, ctype or "application/json", stall=stall)
        finally:
            entry["status"] = self._status
            cluster._record(entry)

    def _fail(self, status, body, path, stall):
        if status == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            except OSError:
                pass
            self._status = "reset"
            return
        if status == "truncated":
            data = json.dumps({"kind": "PodList", "apiVersion": "v1",
                               "metadata": {"resourceVersion": "1"}, "items": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            self._status = "truncated"
            return
        if status == "badjson":
            self._send(200, b'{"kind":"List","apiVersion":"v1","items":[{"metadata":')
            self._status = "badjson"
            return
        status = int(status)
        if body is not None:
            return self._send(status, body, "text/plain; charset=utf-8", stall=stall)
        msgs = {500: "Internal error occurred: fake_k8s injected failure",
                503: "the server is currently unable to handle the request",
                504: "the server was unable to return a response in the time allotted, "
                     "but may still be processing the request",
                429: "the server has received too many requests and has asked us to try "
                     "again later",
                401: "Unauthorized",
                403: "forbidden: fake_k8s injected failure",
                404: "the server could not find the requested resource"}
        self._send_status(status, msgs.get(status, "fake_k8s injected failure (%d)" % status),
                          stall=stall)

    def _get(self, cluster, path, params):
        if path == "/version":
            v = cluster.version
            m = re.match(r"^v?(\d+)\.(\d+)", v)
            return 200, {"major": m.group(1) if m else "1", "minor": m.group(2) if m else "28",
                         "gitVersion": v, "gitCommit": _h("commit", v)[:40],
                         "gitTreeState": "clean", "buildDate": "2023-08-15T21:24:51Z",
                         "goVersion": "go1.20.7", "compiler": "gc",
                         "platform": "linux/amd64"}, None
        if path in ("/healthz", "/livez", "/readyz"):
            return 200, "ok", "text/plain; charset=utf-8"
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [
                             {"clientCIDR": "0.0.0.0/0",
                              "serverAddress": "127.0.0.1:%d" % self.server.server_address[1]}]}, None
        if path == "/apis":
            gv = {"groupVersion": "apps/v1", "version": "v1"}
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "apps", "versions": [gv], "preferredVersion": gv}]}, None
        r = _route(path)
        if r is None:
            return 404, _status_obj(404, "the server could not find the requested resource",
                                    details={"causes": [{"reason": "UnexpectedServerResponse",
                                                         "message": "404 page not found"}]}), None
        res, ns, name = r
        _, api_version, kind, group = _RESOURCES[res]
        if params.get("watch") in ("1", "true"):
            return 400, _status_obj(400, "watch is not supported by fake_k8s"), None
        try:
            items = cluster.objects(res)
            if ns is not None:
                items = [o for o in items if o["metadata"].get("namespace") == ns]
            if name is not None:
                for o in items:
                    if o["metadata"]["name"] == name:
                        o = dict(o)
                        return 200, dict({"kind": kind, "apiVersion": api_version}, **o), None
                gr = res + ("." + group if group else "")
                return 404, _status_obj(404, '%s "%s" not found' % (gr, name), details={
                    "name": name, "group": group, "kind": res}), None
            if params.get("labelSelector"):
                reqs = parse_label_selector(params["labelSelector"])
                items = [o for o in items if _labels_match(reqs, o["metadata"].get("labels", {}))]
            if params.get("fieldSelector"):
                freqs = _parse_field_selector(params["fieldSelector"], res)
                items = [o for o in items if _fields_match(freqs, o)]
            meta = {"resourceVersion": cluster.resource_version}
            start = 0
            if params.get("continue"):
                try:
                    tokd = json.loads(base64.urlsafe_b64decode(params["continue"].encode()))
                    start = int(tokd["start"])
                except Exception:
                    raise _BadRequest("continue key is not valid: illegal base64 data")
            limit = params.get("limit")
            if limit:
                try:
                    limit = int(limit)
                except ValueError:
                    raise _BadRequest("invalid limit %r" % limit)
            if limit and limit > 0:
                page = items[start:start + limit]
                rest = len(items) - start - len(page)
                if rest > 0:
                    meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                        {"v": "meta.k8s.io/v1", "rv": cluster.resource_version,
                         "start": start + limit}).encode()).decode()
                    meta["remainingItemCount"] = rest
                items = page
            else:
                items = items[start:]
            return 200, {"kind": kind + "List", "apiVersion": api_version,
                         "metadata": meta, "items": items}, None
        except _BadRequest as e:
            return 400, _status_obj(400, str(e)), None

    # ---- control --------------------------------------------------------------

    def _control(self, method, path, body):
        fake = self.server.fake
        cluster = fake.cluster
        try:
            if path == "/_fake/requests" and method == "GET":
                with cluster._lock:
                    return self._send(200, list(cluster.request_log))
            if path == "/_fake/reset" and method == "POST":
                cluster.clear_requests()
                return self._send(200, {"ok": True})
            if path == "/_fake/call" and method == "POST":
                req = json.loads(body or b"{}")
                m = req.get("method")
                if m not in FakeCluster.CONTROL_METHODS:
                    return self._send(400, {"error": "method not allowed: %r" % (m,)})
                res = getattr(cluster, m)(*req.get("args", []), **req.get("kwargs", {}))
                return self._send(200, {"ok": True, "result": res})
            return self._send(404, {"error": "no such control endpoint"})
        except Exception as e:  # report to the caller, keep serving
            return self._send(400, {"error": "%s: %s" % (type(e).__name__, e)})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake):
        self.fake = fake
        self._conns = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.fake._ssl_ctx is not None:
            sock = self.fake._ssl_ctx.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False)
        return sock, addr

    def _conns_add(self, s):
        with self._conns_lock:
            self._conns.add(s)

    def _conns_discard(self, s):
        with self._conns_lock:
            self._conns.discard(s)

    def close_all(self):
        with self._conns_lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        self.fake.errors.append(repr(e))
        if self.fake.verbose:
            super().handle_error(request, client_address)


class FakeK8sServer:
    """HTTPS (or plain HTTP) server for a FakeCluster on 127.0.0.1.

    client_cert: None (no client certs asked), "optional" (a client cert
    signed by the test CA authenticates the request, a bearer token works
    too) or "required" (TLS handshake fails without one)."""

    def __init__(self, cluster=None, pki=None, token=None, tls=True, client_cert=None,
                 host="127.0.0.1", port=0, verbose=False, pki_dir=None):
        if not host.startswith("127."):
            raise ValueError("fake_k8s listens on loopback only")
        self.cluster = cluster if cluster is not None else FakeCluster()
        if token is not None:
            self.cluster.set_token(token)
        self.tls = tls
        if client_cert not in (None, "optional", "required"):
            raise ValueError("client_cert must be None, 'optional' or 'required'")
        self.client_cert = client_cert if tls else None
        self.host = host
        self._port = port
        self.verbose = verbose
        self.errors = []
        self._tmp = None
        if tls and pki is None:
            if pki_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="fake_k8s_pki_")
                pki_dir = self._tmp.name
            pki = _load_pki(pki_dir) or make_pki(pki_dir)
        self.pki = pki
        self._ssl_ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
            if self.client_cert:
                ctx.load_verify_locations(pki["ca_cert"])
                ctx.verify_mode = (ssl.CERT_REQUIRED if self.client_cert == "required"
                                   else ssl.CERT_OPTIONAL)
            self._ssl_ctx = ctx
        self._srv = None
        self._thread = None
        self._stopping = threading.Event()

    # ---- lifecycle --------------------------------------------------------------

    def start(self):
        """Listen (same port again after a stop()) and serve in a daemon thread."""
        if self._srv is not None:
            return self
        self._stopping.clear()
        self._srv = _Server((self.host, self._port), self)
        self._port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake_k8s:%d" % self._port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening and cut open connections; pending delays end at once."""
        srv = self._srv
        if srv is None:
            return
        self._stopping.set()
        srv.shutdown()
        srv.server_close()
        srv.close_all()
        self._thread.join(5)
        self._srv = None

    def close(self):
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- info ---------------------------------------------------------------------

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self._port)

    @property
    def ca_path(self):
        return self.pki["ca_cert"] if self.pki else None

    @property
    def ca_pem(self):
        return self.pki["ca_pem"] if self.pki else None

    def kubeconfig(self, token=None, use_client_cert=False, name="fake", **kw):
        """kubeconfig() for this server (token defaults to the cluster's)."""
        if token is None and not use_client_cert:
            token = self.cluster.token
        return kubeconfig(self.url, self.ca_pem, token=token,
                          client_cert_pem=self.pki["client_cert_pem"] if use_client_cert else None,
                          client_key_pem=self.pki["client_key_pem"] if use_client_cert else None,
                          name=name, **kw)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Kubernetes API server (tests only)")
    ap.add_argument("--fixture", help="JSON fixture file")
    ap.add_argument("--token", help="bearer token to accept")
    ap.add_argument("--pki-dir", help="PKI directory (created with openssl if incomplete)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http", action="store_true", help="plain HTTP (debugging)")
    ap.add_argument("--client-cert", choices=("off", "optional", "required"), default="off")
    ap.add_argument("--runtime", choices=("containerd", "docker"))
    ap.add_argument("--kubeconfig", help="also write a kubeconfig to this file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)

    cluster = FakeCluster(token=a.token)
    if a.fixture:
        cluster.load_fixture(a.fixture)
    if a.runtime:
        cluster.set_runtime(a.runtime)
    pki = None
    if not a.http:
        pdir = a.pki_dir or tempfile.mkdtemp(prefix="fake_k8s_pki_")
        pki = _load_pki(pdir) or make_pki(pdir)
    srv = FakeK8sServer(cluster, pki=pki, tls=not a.http,
                        client_cert=None if a.client_cert == "off" else a.client_cert,
                        port=a.port, verbose=a.verbose)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    srv.start()
    info = {"url": srv.url, "ca": srv.ca_path, "port": srv.port, "token": cluster.token,
            "control": srv.url + "/_fake", "pid": os.getpid()}
    if pki:
        info.update(client_cert=pki["client_cert"], client_key=pki["client_key"])
    if a.kubeconfig:
        with open(a.kubeconfig, "w") as f:
            f.write(srv.kubeconfig() if pki else kubeconfig(srv.url, None, token=cluster.token))
        info["kubeconfig"] = os.path.abspath(a.kubeconfig)
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
