"""A small, real OpenID Connect issuer for the single sign-on integration tests.

`OidcIssuer` serves discovery, a JWKS, an authorization endpoint and a token
endpoint on 127.0.0.1 (authorization-code flow with PKCE S256 only).  There is
no login page: /authorize signs in `issuer.next_user` at once and answers 302
to the redirect_uri with a code.  ID tokens are real JWTs (RS256 or ES256,
PyJWT), so a relying party under test verifies them exactly as in production.

Fault knobs (attributes, off by default, set by a test before a login) make
the issuer misbehave on purpose so a test can prove the relying party refuses
the result; `reset_faults()` turns them all off again:

    id_token_audience      aud is this value instead of client_id
    id_token_expired       iat = now-600, exp = now-300
    id_token_bad_signature signed by a key that is not in the JWKS (served kid)
    id_token_nonce         nonce is this value instead of the request's
    id_token_issuer        iss is this value instead of .url
    id_token_alg_none      an unsigned token, header alg "none"
    allow_code_reuse       a code may be exchanged more than once

    with OidcIssuer(alg="ES256") as idp:
        idp.next_user = {"sub": "u-bob", "email": "bob@example.com", "name": "Bob"}
        ...  # point shiplog at idp.url (client "shiplog", secret "s3cret")

Standard library plus Debian's python3-jwt and python3-cryptography only.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DEFAULT_USER = {"sub": "u-alice", "email": "alice@example.com", "name": "Alice",
                "groups": ["shiplog-operators"]}
ID_TOKEN_TTL_S = 300
MAX_BODY = 64 * 1024
# RFC 7636 4.1/4.2: 43-128 characters of [A-Za-z0-9-._~]
PKCE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(n: int, length: int | None = None) -> str:
    return b64url(n.to_bytes(length or (n.bit_length() + 7) // 8, "big"))


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, code_challenge) pair for method S256."""
    verifier = secrets.token_urlsafe(48)  # 64 characters
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class OAuthError(Exception):
    """An RFC 6749 error answer: status, error code and description."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class OidcIssuer:
    """OpenID Connect issuer on 127.0.0.1; see the module docstring."""

    def __init__(self, client_id="shiplog", client_secret="s3cret", alg="RS256",
                 host="127.0.0.1", port=0):
        if alg not in ("RS256", "ES256"):
            raise ValueError(f"unsupported alg {alg!r}")
        self.client_id, self.client_secret, self.alg = client_id, client_secret, alg
        self.host, self.port = host, port
        self.url = None
        self.next_user = dict(DEFAULT_USER)
        self.authorize_requests: list[dict] = []  # query dict of each /authorize
        self.token_requests: list[dict] = []      # {"form": {...}, "auth_method": ...}
        self._keys: list[tuple[str, object]] = []  # (kid, private key), newest last
        self._codes: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.reset_faults()
        self.rotate_key()

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> "OidcIssuer":
        handler = type("OidcHandler", (_Handler,), {"issuer": self})
        self._server = http.server.ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"oidc-issuer-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset_faults(self) -> None:
        self.id_token_audience = None
        self.id_token_expired = False
        self.id_token_bad_signature = False
        self.id_token_nonce = None
        self.id_token_issuer = None
        self.id_token_alg_none = False
        self.allow_code_reuse = False

    # ---- keys ------------------------------------------------------------

    def _new_key(self):
        if self.alg == "RS256":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    def _public_jwk(self, key) -> dict:
        """The public JWK members without kid (RFC 7518 6.2 / 6.3)."""
        pub = key.public_key().public_numbers()
        if self.alg == "RS256":
            return {"kty": "RSA", "e": _int_b64url(pub.e), "n": _int_b64url(pub.n)}
        return {"kty": "EC", "crv": "P-256", "x": _int_b64url(pub.x, 32),
                "y": _int_b64url(pub.y, 32)}

    def rotate_key(self) -> str:
        """Make a new signing key (new kid); the JWKS keeps serving the old ones."""
        key = self._new_key()
        members = self._public_jwk(key)
        # kid = RFC 7638 thumbprint: SHA-256 of the required members, sorted, compact
        kid = b64url(hashlib.sha256(json.dumps(
            members, sort_keys=True, separators=(",", ":")).encode()).digest())
        with self._lock:
            self._keys.append((kid, key))
        return kid

    @property
    def kid(self) -> str:
        """The kid of the current signing key."""
        return self._keys[-1][0]

    def jwks(self) -> dict:
        with self._lock:
            keys = list(self._keys)
        return {"keys": [dict(self._public_jwk(k), kid=kid, alg=self.alg, use="sig")
                         for kid, k in keys]}

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
        }

    # ---- /authorize ------------------------------------------------------

    def authorize(self, q: dict) -> str:
        """Validate an authorization request; the Location of the 302 answer."""
        with self._lock:
            self.authorize_requests.append(dict(q))
        bad = lambda d: OAuthError(400, "invalid_request", d)  # noqa: E731
        if q.get("client_id") != self.client_id:
            raise bad(f"unknown client_id {q.get('client_id')!r}")
        if q.get("response_type") != "code":
            raise bad("response_type must be 'code'")
        redirect_uri = q.get("redirect_uri", "")
        if urllib.parse.urlsplit(redirect_uri).scheme not in ("http", "https"):
            raise bad("redirect_uri missing or not an absolute http(s) URI")
        if "openid" not in q.get("scope", "").split():
            raise bad("scope must contain 'openid'")
        if not q.get("state"):
            raise bad("state is required")
        if q.get("code_challenge_method") != "S256":
            raise bad("code_challenge_method must be 'S256'")
        if not PKCE_RE.match(q.get("code_challenge", "")):
            raise bad("code_challenge missing or malformed")
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = {
                "client_id": q["client_id"], "redirect_uri": redirect_uri,
                "code_challenge": q["code_challenge"], "nonce": q.get("nonce"),
                "user": dict(self.next_user), "auth_time": int(time.time()),
                "used": False}
        sep = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
        return redirect_uri + sep + urllib.parse.urlencode({"code": code,
                                                            "state": q["state"]})

    # ---- /token ----------------------------------------------------------

    def token(self, form: dict, basic: tuple[str, str] | None) -> dict:
        """Exchange a code (RFC 6749 4.1.3, RFC 7636 4.6); the JSON answer."""
        auth_method = "client_secret_basic" if basic else (
            "client_secret_post" if "client_secret" in form else "none")
        with self._lock:
            self.token_requests.append({"form": dict(form), "auth_method": auth_method})
        if form.get("grant_type") != "authorization_code":
            raise OAuthError(400, "unsupported_grant_type",
                             f"grant_type {form.get('grant_type')!r} not supported")
        cid, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if basic and form.get("client_id") not in (None, cid):
            raise OAuthError(400, "invalid_request", "client_id differs from Basic auth")
        if cid != self.client_id or secret is None or not secrets.compare_digest(
                secret.encode(), self.client_secret.encode()):
            raise OAuthError(401, "invalid_client", "client authentication failed")
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                raise OAuthError(400, "invalid_request", f"{name} is required")
        grant = lambda d: OAuthError(400, "invalid_grant", d)  # noqa: E731
        with self._lock:
            c = self._codes.get(form["code"])
            if c is None:
                raise grant("unknown authorization code")
            if c["client_id"] != cid:
                raise grant("code was issued to another client")
            if c["redirect_uri"] != form["redirect_uri"]:
                raise grant("redirect_uri does not match the authorization request")
            challenge = b64url(hashlib.sha256(form["code_verifier"].encode()).digest())
            if challenge != c["code_challenge"]:
                raise grant("PKCE verification failed")
            if c["used"] and not self.allow_code_reuse:
                raise grant("authorization code already used")
            c["used"] = True
        return {"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                "expires_in": 3600, "id_token": self.make_id_token(c)}

    def make_id_token(self, c: dict) -> str:
        """The ID token for a code record, with the fault knobs applied."""
        now = int(time.time())
        iat = now - 600 if self.id_token_expired else now
        claims = dict(c["user"])  # sub, email, name, groups and any extras
        if "email" in claims:
            claims.setdefault("email_verified", True)
        claims.update(iss=self.id_token_issuer or self.url,
                      aud=self.id_token_audience or self.client_id,
                      iat=iat, exp=iat + ID_TOKEN_TTL_S, auth_time=c["auth_time"])
        nonce = self.id_token_nonce if self.id_token_nonce is not None else c["nonce"]
        if nonce is not None:
            claims["nonce"] = nonce
        with self._lock:
            kid, key = self._keys[-1]
        if self.id_token_alg_none:  # keeps the kid: the RP finds a key, must refuse alg
            return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
        if self.id_token_bad_signature:
            key = self._new_key()  # never published; same kid so the RP must check
        return jwt.encode(claims, key, algorithm=self.alg, headers={"kid": kid})


class _Handler(http.server.BaseHTTPRequestHandler):
    issuer: OidcIssuer  # set on the per-issuer subclass
    timeout = 10  # bound every socket read of a request
    # HTTP/1.0: one request per connection, so stop() leaves no idle keep-alive
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e: OAuthError, headers=None):
        self._send(e.status, {"error": e.error, "error_description": e.description},
                   headers)

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        iss = self.issuer
        if parts.path == "/.well-known/openid-configuration":
            self._send(200, iss.discovery())
        elif parts.path == "/jwks":
            self._send(200, iss.jwks())
        elif parts.path == "/authorize":
            q = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            try:
                self._send(302, None, {"Location": iss.authorize(q)})
            except OAuthError as e:
                self._error(e)
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/token":
            return self._send(404, {"error": "not_found"})
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return self._error(OAuthError(400, "invalid_request", "bad Content-Length"))
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self.rfile.read(length)
            return self._error(OAuthError(400, "invalid_request",
                                          "body must be application/x-www-form-urlencoded"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace"),
                                           keep_blank_values=True))
        basic = self._basic_auth()
        try:
            self._send(200, self.issuer.token(form, basic))
        except OAuthError as e:
            # RFC 6749 5.2: a 401 must carry WWW-Authenticate
            self._error(e, {"WWW-Authenticate": 'Basic realm="oidc-issuer"'}
                        if e.status == 401 else None)

    def _basic_auth(self) -> tuple[str, str] | None:
        """client_id and secret of HTTP Basic (RFC 6749 2.3.1: form-urlencoded)."""
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(h[6:].strip(), validate=True).decode("utf-8")
        except ValueError:
            return ("", "")  # malformed: fails client authentication
        cid, _, secret = raw.partition(":")
        return urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
