"""fake_k8s: FakeCluster, the in-memory state of one cluster that tests mutate while it serves."""

import copy
import json
import os
import threading
import time
import uuid

from fake_k8s_images import _norm_digest, image_id
from fake_k8s_model import _Template, _Workload, _containers_arg, _kind, _safe_hash
from fake_k8s_objects import _ClusterObjects


class FakeCluster(_ClusterObjects):
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
