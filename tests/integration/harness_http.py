"""HTTP response helpers (show, idx, check_headers, assert_error, badge_colours, parse_metrics) and a raw HTTP/1.1 client over a plain socket."""

from __future__ import annotations

import json as _json
import re
import socket
import time

import requests


COMMON_HEADERS = (
    "X-Request-Id",
    "X-Shiplog-Index",
    "X-Shiplog-Leader",
    "X-Shiplog-Last-Contact",
    "X-Shiplog-Node",
)
# badge status colours (with their 6-digit spellings)
BADGE_COLOURS = {
    "green": ("#4c1", "#44cc11"),
    "gray": ("#9f9f9f",),
    "red": ("#e05d44",),
    "yellow": ("#dfb317",),
}


def idx(r):
    v = r.headers.get("X-Shiplog-Index")
    assert v is not None, f"no X-Shiplog-Index header: {show(r)}"
    try:
        return int(v)
    except ValueError:
        raise AssertionError(f"X-Shiplog-Index not an integer: {v!r}: {show(r)}") from None


def show(r, limit=600):
    """One-line description of a response for assertion messages."""
    if r is None:
        return "<no response>"
    try:
        body = r.text
    except Exception:  # noqa: BLE001
        body = "<unreadable>"
    if len(body) > limit:
        body = body[:limit] + f"...({len(body)} chars)"
    req = r.request
    hdrs = {k: v for k, v in r.headers.items()
            if k.lower().startswith("x-") or k.lower() in ("content-type", "cache-control")}
    return f"{req.method} {req.url} -> {r.status_code} {hdrs} {body!r}"


def check_headers(r, node=None):
    """The headers every response carries."""
    for h in COMMON_HEADERS:
        assert h in r.headers, f"missing header {h}: {show(r)}"
    assert r.headers["X-Request-Id"].strip(), f"empty X-Request-Id: {show(r)}"
    idx(r)
    lc = r.headers["X-Shiplog-Last-Contact"]
    assert re.fullmatch(r"-?\d+", lc.strip()), f"X-Shiplog-Last-Contact not integer ms: {lc!r}: {show(r)}"
    if node is not None:
        assert r.headers["X-Shiplog-Node"] == node, f"X-Shiplog-Node != {node}: {show(r)}"


def assert_error(r, status, code):
    """Status plus the shiplog error body {"error":{code,message,details},"request_id"}."""
    assert r.status_code == status, f"expected {status} {code}: {show(r)}"
    try:
        b = r.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {show(r)}") from None
    assert isinstance(b, dict) and isinstance(b.get("error"), dict), f"no error object: {show(r)}"
    e = b["error"]
    assert e.get("code") == code, f"expected code {code}: {show(r)}"
    assert isinstance(e.get("message"), str), f"error.message not a string: {show(r)}"
    assert isinstance(e.get("details", []), list), f"error.details not a list: {show(r)}"
    rid = r.headers.get("X-Request-Id")
    assert rid, f"missing X-Request-Id: {show(r)}"
    assert b.get("request_id") == rid, f"request_id != X-Request-Id: {show(r)}"
    return b


def badge_colours(svg):
    """Names of the status colours present in a badge SVG."""
    s = svg.lower()
    found = set()
    for name, spellings in BADGE_COLOURS.items():
        for sp in spellings:
            if re.search(re.escape(sp) + r"(?![0-9a-f])", s):
                found.add(name)
    return found


def parse_metrics(text):
    """Samples of a Prometheus text exposition: {"name{labels}": value}; asserts every line is in the format."""
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
        assert m, f"not the text format: {line!r}"
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


# ------------------------------------------------------------ raw HTTP/1.1

class _RawRequest:
    def __init__(self, method, url):
        self.method, self.url = method, url


class RawResponse:
    """The parts of requests.Response that the helpers above use."""

    def __init__(self, method, url, status, headers, content):
        self.request = _RawRequest(method, url)
        self.status_code = status
        self.headers = requests.structures.CaseInsensitiveDict(headers)
        self.content = content
        self.text = content.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.text)


def raw_request(port, method, path, body, headers=None, timeout=10.0, after_send=None,
                allow_no_response=False):
    """Send one HTTP/1.1 request over a plain socket to 127.0.0.1:port.

    The body is sent in chunks; sending stops as soon as the server has
    answered (or closed), and the answer is read anyway, so a server that
    rejects a too large body early is still seen answering.
    after_send() is called once the request is out (e.g. to kill the node);
    with allow_no_response, a missing answer gives None instead of an error."""
    import select
    deadline = time.monotonic() + timeout
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close",
            "Content-Length": str(len(body))}
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = b""
    try:
        sock.sendall(head.encode())
        view = memoryview(body)
        off = 0
        while off < len(view) and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                off += sock.send(view[off:off + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        if after_send is not None:
            after_send()
        while time.monotonic() < deadline:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
            if _raw_complete(received):
                break
    finally:
        sock.close()
    url = f"http://127.0.0.1:{port}{path}"
    if b"\r\n\r\n" not in received or not _raw_complete(received):
        if allow_no_response:
            return None
        if b"\r\n\r\n" in received:
            return RawResponse(method, url, *_raw_parse(received))
        raise AssertionError(f"{method} {url}: no HTTP response received "
                             f"(sent {off} of {len(body)} body bytes, got {received[:200]!r})")
    status, headers, content = _raw_parse(received)
    return RawResponse(method, url, status, headers, content)


def _raw_split(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip()] = v.strip()
    return status, headers, rest


def _raw_complete(data):
    if b"\r\n\r\n" not in data:
        return False
    _, headers, rest = _raw_split(data)
    h = {k.lower(): v for k, v in headers.items()}
    if "content-length" in h:
        return len(rest) >= int(h["content-length"])
    if h.get("transfer-encoding", "").lower() == "chunked":
        return rest.endswith(b"0\r\n\r\n")
    return False


def _raw_parse(data):
    status, headers, rest = _raw_split(data)
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        rest = out
    elif "content-length" in h:
        rest = rest[:int(h["content-length"])]
    return status, headers, rest
