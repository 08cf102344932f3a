"""fake_k8s: the Kubernetes objects FakeCluster derives from its state and serves (pods, ...)."""

import json
import uuid

from fake_k8s_images import _split_image, image_id, normalize_image
from fake_k8s_model import _h, _kind, _suffix, _ts


class _ClusterObjects:
    """FakeCluster's derived Kubernetes objects, as served (mixed into FakeCluster)."""

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
