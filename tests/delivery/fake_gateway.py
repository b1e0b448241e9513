"""A real local HTTP server standing in for a push gateway (a webhook receiver or FCM).

It records every request (method, path, headers, raw body, parsed JSON, which connection) and
answers from a script, so tests see exactly what went over the wire and can make the other side
misbehave::

    with FakeGateway() as gw:
        gw.script(Reply(503, headers={"Retry-After": "2"}), Hang(5), Drop())   # the next three requests
        gw.on(lambda r: r.json["message"]["token"] == "gone", fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
        ... send to gw.url ...
        assert len(gw.requests) == 4

Answers are chosen in this order: the scripted queue (one action per request), then the first
matching rule, then ``gw.responder(request)`` (by default ``200 {"id": "gw-<n>"}``).

``FakeGateway(tls=True)`` answers over HTTPS with a self-signed certificate for 127.0.0.1 (made once
per process with the ``openssl`` command); ``gw.session()`` is a provider session that trusts it.

Actions:
- ``Reply(status, json=..., body=..., headers=...)``;
- ``Hang(seconds, then=None)``: wait (longer than the client's timeout) and then answer ``then``,
  or close the connection; ``stop()`` releases hung handlers at once;
- ``Drop()``: close the connection without answering.
"""

from __future__ import annotations

import functools
import json
import ssl
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    seconds: float = 5.0
    then: Reply | None = None


@dataclass(frozen=True)
class Drop:
    pass


@dataclass
class Recorded:
    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes
    json: Any
    connection: int  # the client's port: the same number means a reused (pooled) connection
    received_at: float


def fcm_error(http_status: int, status: str, error_code: str | None = None, message: str = "",
              retry_after: str | None = None) -> Reply:
    """A reply in FCM HTTP v1's error shape."""
    error: dict[str, Any] = {"code": http_status, "message": message or status, "status": status}
    if error_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(http_status, json={"error": error}, headers=headers)


def fcm_responder(request: Recorded) -> Reply:
    """FCM's success: ``{"name": "projects/<project>/messages/<n>"}``."""
    project = request.path.split("/projects/", 1)[-1].split("/", 1)[0]
    return Reply(200, json={"name": f"projects/{project}/messages/0:{int(request.received_at * 1e6)}"})


@functools.cache
def tls_certificate() -> tuple[str, str]:
    """(certificate, key) files: a self-signed certificate for 127.0.0.1, valid for two days."""
    folder = Path(tempfile.mkdtemp(prefix="fake-gateway-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)


class FakeGateway:
    def __init__(self, responder: Callable[[Recorded], Any] | None = None, *, tls: bool = False):
        self.tls = tls
        self.requests: list[Recorded] = []
        self.responder = responder or (lambda r: Reply(200, json={"id": f"gw-{len(self.requests)}"}))
        self._queue: deque = deque()
        self._rules: list[tuple[Callable[[Recorded], bool], Any]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._connections: set = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------
    def script(self, *actions) -> FakeGateway:
        with self._lock:
            self._queue.extend(actions)
        return self

    def on(self, predicate: Callable[[Recorded], bool], action) -> FakeGateway:
        with self._lock:
            self._rules.append((predicate, action))
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start the gateway first"
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def session(self):
        """A pooled provider session that trusts this gateway's certificate (``tls=True``)."""
        from apps.delivery.providers.transport import pooled_session

        session = pooled_session()
        session.verify = tls_certificate()[0] if self.tls else True
        session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override ``verify``
        return session

    def start(self) -> FakeGateway:
        gateway = self

        class Handler(_Handler):
            pass

        Handler.gateway = gateway
        self._server = _Server(("127.0.0.1", 0), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_certificate())
            # The handshake happens in the handler's thread (first read), not in the accept loop.
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            with self._lock:
                connections = list(self._connections)
            for sock in connections:  # idle keep-alive connections would keep their threads
                try:
                    sock.close()
                except OSError:
                    pass
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- inside the server ---------------------------------------------------------------------
    def _record(self, handler: BaseHTTPRequestHandler, body: bytes):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = Recorded(
            method=handler.command, path=handler.path, headers=CaseInsensitiveDict(dict(handler.headers.items())),
            body=body, json=parsed, connection=handler.client_address[1], received_at=time.time(),
        )
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return request, self._queue.popleft()
            for predicate, action in self._rules:
                if predicate(request):
                    return request, action
        return request, self.responder(request)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], ssl.SSLError):
            return  # a client that refused the certificate: the test checks what the client saw
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection pooling is visible
    disable_nagle_algorithm = True  # no 40 ms stalls between small writes
    gateway: FakeGateway

    def setup(self):
        super().setup()
        with self.gateway._lock:
            self.gateway._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.gateway._lock:
                self.gateway._connections.discard(self.connection)

    def log_message(self, format, *args):  # quiet
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _, action = self.gateway._record(self, body)
        if isinstance(action, Hang):
            self.gateway._release.wait(action.seconds)
            action = action.then
        if action is None or isinstance(action, Drop):
            self.close_connection = True
            return
        payload = action.body
        headers = dict(action.headers)
        if action.json is not None:
            payload = json.dumps(action.json).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        try:
            self.send_response(action.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self._headers_buffer.append(b"\r\n" + payload)  # headers and body in one write
            self.flush_headers()
        except OSError:  # the client gave up (timed out) first
            self.close_connection = True

    do_POST = do_GET = do_PUT = do_DELETE = _handle
