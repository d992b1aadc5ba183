"""The fake Messages API's own counters, which bench/audits.py reads."""

from __future__ import annotations

import threading

import httpx

from devtools.fakeapi import make_server
from tests.conftest import wait_for


def test_healthz_counts_the_calls_inside_their_latency():
    """`in_flight` is the number of requests waiting out their latency right now: the
    benchmark samples it to report the concurrency a client actually reached."""
    server = make_server(latency=0.0)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    body = {"model": "sim-claude-4", "max_tokens": 8, "stream": True,
            "messages": [{"role": "user", "content": "say yes"}]}  # fmt: skip
    answers: list[int] = []

    def call() -> None:
        response = httpx.post(f"{url}/v1/messages", json=body, timeout=10,
                              headers={"x-api-key": "test", "x-fake-latency": "0.5"})  # fmt: skip
        answers.append(response.status_code)

    try:
        assert httpx.get(f"{url}/healthz").json()["in_flight"] == 0
        calls = [threading.Thread(target=call) for _ in range(2)]
        for thread in calls:
            thread.start()
        assert wait_for(lambda: httpx.get(f"{url}/healthz").json()["in_flight"] == 2, 5)
        for thread in calls:
            thread.join(10)
        assert answers == [200, 200]
        assert httpx.get(f"{url}/healthz").json()["in_flight"] == 0
    finally:
        server.shutdown()
        server.server_close()
