# RFC 6960 A.1: OCSP over HTTP. TEST PKI ONLY.
"""A tiny OCSP responder on 127.0.0.1 answering for a :class:`~kvportal.cardlib.testpki.TestPKI`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .testpki import TestPKI


class OcspServer:
    """HTTP OCSP responder for a :class:`TestPKI` on 127.0.0.1 (POST, RFC 6960 A.1).

    ``with OcspServer(pki, port=0) as srv: srv.url`` — port 0 picks a free port.
    """

    def __init__(self, pki: TestPKI, *, host: str = "127.0.0.1", port: int = 0):
        pki_ = pki

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > 65536:
                    self.send_error(400, "Bad Request")
                    return
                body = pki_.ocsp_response(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):  # typeshed allows bytes (AF_UNIX); ours is an IP socket
            host = host.decode()
        return f"http://{host}:{port}/ocsp"

    def start(self) -> OcspServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OcspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
