"""fake_k8s: the HTTP request handler (routing, auth, failure injection, API/control answers)."""

import base64
import hmac
import http.server
import json
import re
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import uuid

from fake_k8s_cluster import FakeCluster
from fake_k8s_model import _h
from fake_k8s_selectors import (_BadRequest, _fields_match, _labels_match,
                                _parse_field_selector, parse_label_selector)


_STATUS_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
                   404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
                   410: "Expired", 422: "Invalid", 429: "TooManyRequests",
                   500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
_SPECIAL_FAILURES = ("reset", "truncated", "badjson")


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
