"""A local SMTP sink and a webhook target that can misbehave, for fault tests and the bench.

Both run in a thread of the current process, speak the real protocols on 127.0.0.1, record
what they accepted, and can be switched at any time to:

    "ok"      answer normally
    "slow"    answer after `delay` seconds
    "refuse"  SMTP: 554 at DATA (the message is not taken); webhook: HTTP 503
    "drop"    take the message, then close the connection without answering
    "hang"    take the message, never answer (until the mode changes or the sink stops)

`down()` closes the listening socket (connection refused) and `up()` reopens it on the same
port.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Gate:
    """Mode and delay shared with the server threads; `released` ends a hang."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.released = threading.Event()

    def set(self, mode: str, delay: float = 0.0) -> None:
        if self.mode == "hang" and mode != "hang":
            self.released.set()
        if mode == "hang":
            self.released.clear()
        self.mode, self.delay = mode, delay


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        gate = self.sink.gate
        mode = gate.mode
        if mode == "refuse":
            return "554 5.7.1 Refused by the test sink"
        if mode == "slow" and gate.delay:
            await asyncio.sleep(gate.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.sink.record(message)
        if mode == "drop":
            server.transport.abort()
            return "421 dropped"  # never reaches the client
        if mode == "hang":
            while not gate.released.is_set():
                await asyncio.sleep(0.02)
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1:<port>; `.messages` in arrival order, `.by_key()` counts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.gate = _Gate()
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()
        self.controller: Controller | None = None

    def record(self, message) -> None:
        with self._lock:
            self.messages.append(message)

    def up(self) -> SmtpSink:
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def down(self) -> None:
        if self.controller is not None:
            self.gate.released.set()
            self.controller.stop()
            self.controller = None

    def mailer(self, timeout: float = 2.0) -> dict:
        """A MAILERS entry pointing Django's SMTP backend here."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": timeout},
        }

    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def keys(self) -> list[str]:
        with self._lock:
            return [m["X-Exponent-Idempotency-Key"] for m in self.messages]

    def by_key(self) -> Counter:
        return Counter(self.keys())

    def message_ids(self) -> set[str]:
        with self._lock:
            return {m["Message-ID"] for m in self.messages}


class _HookHandler(BaseHTTPRequestHandler):
    target: WebhookTarget

    def do_POST(self):  # noqa: N802
        target = self.server.target  # type: ignore[attr-defined]  # the sink rides on its server
        gate = target.gate
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        mode = gate.mode
        if mode == "refuse":
            self.send_response(503)
            self.end_headers()
            return
        if mode == "slow" and gate.delay:
            time.sleep(gate.delay)
        target.record(dict(self.headers.items()), body)
        if mode == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "hang":
            gate.released.wait(30)
        self.send_response(target.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class WebhookTarget:
    """An HTTP server taking POSTs on 127.0.0.1; `.received` holds (headers, json body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.gate = _Gate()
        self.status = 200
        self.received: list[tuple[dict, dict]] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def record(self, headers: dict, body: bytes) -> None:
        with self._lock:
            self.received.append((headers, json.loads(body)))
            self.raw.append(body)

    def up(self) -> WebhookTarget:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _HookHandler)
        server.daemon_threads = True
        server.target = self  # type: ignore[attr-defined]  # the sink rides on its server
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self.server is not None:
            self.gate.released.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def by_key(self) -> Counter:
        with self._lock:
            return Counter(h["X-Exponent-Idempotency-Key"] for h, _ in self.received)
