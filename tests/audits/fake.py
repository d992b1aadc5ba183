"""The fake Messages API for the audits tests: a real server process on a free port.

Imported at collection time (by tests/audits/conftest.py and the browser test), it points
ANTHROPIC_BASE_URL at the port before any Celery worker process starts, so the worker
inherits it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import wait_until_serving

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = int(os.environ.get("AUDITS_TEST_FAKE_PORT") or _free_port())
URL = f"http://127.0.0.1:{PORT}"
os.environ["AUDITS_TEST_FAKE_PORT"] = str(PORT)
os.environ["ANTHROPIC_BASE_URL"] = URL
os.environ["ANTHROPIC_API_KEY"] = "test-key"


def start(
    port: int = PORT, latency: float = 0.02, tokens_per_second: float = 2000
) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.fakeapi", "--port", str(port), "--latency", str(latency),
         "--tokens-per-second", str(tokens_per_second)],
        cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until_serving(proc, f"http://127.0.0.1:{port}/healthz", 15, "fake API server")
    return proc


def requests_seen(port: int = PORT) -> int:
    """Messages requests the server has received (those waiting at the gate included)."""
    return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["requests"]


def waiting(port: int = PORT) -> int:
    """Messages requests held at the closed gate."""
    return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["waiting"]


class Gate:
    """The fake server's gate: while closed, every Messages request waits there until the
    test lets it through, so a test decides when answers arrive instead of sleeping."""

    def __init__(self, port: int = PORT) -> None:
        self.url = f"http://127.0.0.1:{port}/gate"
        self.port = port

    def _post(self, body: dict) -> None:
        httpx.post(self.url, json=body).raise_for_status()

    def close(self) -> None:
        self._post({"open": False})

    def open(self) -> None:
        self._post({"open": True})

    def release(self, n: int = 1) -> None:
        """Let `n` requests through (waiting ones first, then the next to arrive)."""
        self._post({"release": n})

    def waiting(self) -> int:
        return waiting(self.port)

    def hold(self, after: int) -> None:
        """Pause every stream after its `after`th text delta (0 ends the hold)."""
        self._post({"hold_after": after})

    def resume(self, n: int = 1) -> None:
        """Let `n` held streams go on (they do not pause again)."""
        self._post({"resume": n})

    def held(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz").json()["held"]
