"""A fake Anthropic Messages API that speaks real HTTP, for tests, demos and benchmarks.

A development tool: `make run` starts it when no ANTHROPIC_API_KEY is set, the tests and
`bench/audits.py` start their own; `pip install .` does not ship it (devtools/ is not in
pyproject's package list). What it answers comes from audits/simulated.py, which is shipped.

    python -m devtools.fakeapi --port 8010 [--latency 0.3] [--tokens-per-second 200]
                               [--rules audits/fake_rules.json] [--error-rate 0.0]

Endpoints: POST /v1/messages (JSON, or server-sent events with "stream": true: message_start,
ping, content_block_start, content_block_delta…, content_block_stop, message_delta,
message_stop) and GET /v1/models (paginated like the real one). It also serves the demo's
connected metric source, GET /demo/sources/benchmark.csv (with an ETag; see `make seed`).

What a model answers is scripted in a rules file (audits/fake_rules.json): the first rule whose
`models` include the requested model and whose `contains`/`pattern` match the prompt (system +
messages, case-insensitive) gives the text; so an idea can pass on a newer model and fail on an
older one. Aliases resolve to a dated id (the response's `model` carries it); retired models
answer 404 like the real API.

Errors can be injected three ways:
- a rule with "error": {"type": "rate_limit" | "overloaded" | "server" | "mid_stream",
  "times": N, "retry_after": seconds} fails the first N identical requests;
- a request header `x-fake-error: <type>;times=N;retry_after=S;key=K` does the same for one
  caller (K separates counters; the SDK's own retries send the same header, so "429 then 200"
  is `rate_limit;times=1`);
- `--error-rate p` fails a random share of requests with 529 (demos of flaky upstreams).
`x-fake-latency: seconds` overrides the latency for one request.

Prompt caching is modelled (`FakeAPI.cache_usage`): system blocks up to one marked
`cache_control` are written to the cache by the first request (`cache_creation_input_tokens`)
and read by later ones once that answer has begun (`cache_read_input_tokens`), for 5 minutes
after the last read; a prefix under `--cache-min-tokens` (1024, like Sonnet) is not cached.

A gate lets a test decide when answers arrive: `POST /gate` with {"open": false} holds every
/v1/messages request (counted as it arrives) until {"release": N} lets N of them through or
{"open": true} lets all through; `GET /healthz` reports how many are `waiting`. The gate
starts open. A hold pauses answers mid-stream: {"hold_after": N} makes every stream stop after
its Nth text delta (counted as `held`) until {"resume": n} lets n of them go on or
{"hold_after": 0} ends the hold (a test steers a generation at a known token that way).

The server is a ThreadingHTTPServer: one thread per connection, so hundreds of slow concurrent
requests overlap as they would against the real API. Connections are kept alive between
requests (streamed ones too, as the real API does), so a client's pool reuses them.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from audits import proposals
from audits.simulated import DEFAULT_RULES, Rules, approx_tokens
from planning.facilitator import steering
from planning.facilitator.citations import SYSTEM_MARKER, scripted_draft
from planning.facilitator.sides import SIDE_MARKER, scripted_side
from predictions import critique

ERRORS = {
    # type: (HTTP status, API error type, message)
    "rate_limit": (429, "rate_limit_error", "Number of requests has exceeded your rate limit."),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server": (500, "api_error", "Internal server error"),
    "mid_stream": (200, "overloaded_error", "Overloaded (mid-stream)"),
}


@dataclass
class ErrorSpec:
    type: str
    times: int = 1
    retry_after: float = 0.0
    key: str = ""

    @classmethod
    def parse_header(cls, value: str) -> ErrorSpec:
        kind, *params = [p.strip() for p in value.split(";") if p.strip()]
        options = dict(p.split("=", 1) for p in params if "=" in p)
        return cls(
            type=kind,
            times=int(options.get("times", 1)),
            retry_after=float(options.get("retry_after", 0)),
            key=options.get("key", ""),
        )


def prompt_of(body: dict[str, Any]) -> str:
    """System prompt and every message's text, joined (what rules match against)."""
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts.extend(block.get("text", "") for block in system if isinstance(block, dict))
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict))
    return "\n".join(parts)


def chunks_of(text: str) -> list[str]:
    """Split text into token-sized pieces (words with their trailing space)."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def scripted_assist(system: str, prompt: str) -> str:
    """The facilitator's assists, answered from the prompt: probes from an idea (a JSON block
    derived from the idea's text) and a critique of a rationale (naming the metric)."""
    if proposals.SYSTEM_MARKER in system:
        return proposals.scripted_answer(prompt)
    if critique.SYSTEM_MARKER in system:
        return critique.scripted_critique(prompt)
    return ""


class FakeAPI:
    """State shared by the handler threads: rules, options and the error counters."""

    def __init__(
        self,
        rules: Rules,
        latency: float = 0.0,
        tokens_per_second: float = 0.0,
        error_rate: float = 0.0,
        cache_min_tokens: int = 1024,
        cache_ttl: float = 300.0,
    ) -> None:
        self.rules = rules
        self.latency = latency
        self.tokens_per_second = tokens_per_second
        self.error_rate = error_rate
        self._counts: dict[str, int] = {}
        self._cache: dict[str, float] = {}  # cached prefix -> when it expires (monotonic)
        self.cache_min_tokens = cache_min_tokens
        self.cache_ttl = cache_ttl
        self._lock = threading.Lock()
        self.requests = 0
        self._gate = threading.Condition()
        self.gate_open = True
        self.passes = 0  # requests the closed gate may still let through
        self.waiting = 0
        self.in_flight = 0  # requests inside their latency now (a benchmark samples it)
        self.hold_after = 0  # streams pause after this many deltas (0: no hold)
        self.resumes = 0
        self.held = 0

    def set_gate(self, *, opened: bool | None = None, release: int = 0) -> None:
        """Open or close the gate (either clears the passes), or let `release` more through."""
        with self._gate:
            if opened is not None:
                self.gate_open, self.passes = opened, 0
            self.passes += release
            self._gate.notify_all()

    def pass_gate(self) -> None:
        """Wait at the gate until it is open or a pass is left for this request."""
        with self._gate:
            self.waiting += 1
            try:
                self._gate.wait_for(lambda: self.gate_open or self.passes > 0)
                if not self.gate_open:
                    self.passes -= 1
            finally:
                self.waiting -= 1

    def set_hold(self, *, after: int | None = None, resume: int = 0) -> None:
        with self._gate:
            if after is not None:
                self.hold_after, self.resumes = max(0, after), 0
            self.resumes += resume
            self._gate.notify_all()

    def hold_point(self) -> None:
        """A stream at its hold point: wait until resumed or the hold ends."""
        with self._gate:
            self.held += 1
            try:
                self._gate.wait_for(lambda: not self.hold_after or self.resumes > 0)
                if self.hold_after:
                    self.resumes -= 1
            finally:
                self.held -= 1

    def should_fail(self, spec: ErrorSpec, key: str) -> bool:
        """True for the first `spec.times` requests with this key."""
        with self._lock:
            seen = self._counts.get(key, 0)
            self._counts[key] = seen + 1
            return seen < spec.times

    def cache_usage(
        self, body: dict[str, Any], input_tokens: int
    ) -> tuple[int, int, int, str | None]:
        """(input, cache_creation, cache_read, key) as prompt caching reports them.

        The cached prefix is the system blocks up to the last one marked `cache_control`, per
        model. Like the real API: a prefix under `cache_min_tokens` is not cached (both counts
        0); an entry lives `cache_ttl` seconds, refreshed by every read; and it can be read only
        once the response that wrote it has begun (`remember(key)`), so requests that arrive
        together all write it. `key` is the entry to remember (None when nothing is written).
        """
        system = body.get("system")
        if not isinstance(system, list):
            return input_tokens, 0, 0, None
        marked = [i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")]
        if not marked:
            return input_tokens, 0, 0, None
        blocks = system[: marked[-1] + 1]
        prefix = "".join(b.get("text", "") for b in blocks if isinstance(b, dict))
        cached = approx_tokens(prefix)
        if cached < self.cache_min_tokens:
            return input_tokens, 0, 0, None
        key = hashlib.sha256(f"{body.get('model')}\n{prefix}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key, 0.0) > now
            if hit:
                self._cache[key] = now + self.cache_ttl
        rest = max(1, input_tokens - cached)
        return (rest, 0, cached, None) if hit else (rest, cached, 0, key)

    def remember(self, key: str | None) -> None:
        """The response that writes this cache entry has begun: later requests read it."""
        if key:
            with self._lock:
                self._cache[key] = time.monotonic() + self.cache_ttl


DEMO_SOURCE_PATH = "/demo/sources/benchmark.csv"


def demo_source_csv(today: datetime.date) -> str:
    """The demo's connected metric (predictions/demo.py): a benchmark's monthly scores as
    fractions for two models, one row per model on the 1st of each month up to `today`, so a
    new month brings a new row. Made-up, smooth figures."""
    lines = ["date,model,score"]
    year, month = 2025, 1
    n = 0
    while (year, month) <= (today.year, today.month):
        best = 0.42 + 0.5 * (1 - math.exp(-n / 14))
        lines.append(f"{year:04d}-{month:02d}-01,best,{best:.4f}")
        lines.append(f"{year:04d}-{month:02d}-01,baseline,{best * 0.7:.4f}")
        n += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeAnthropic/1.0"
    protocol_version = "HTTP/1.1"
    # Kept-alive connections carry a response as several writes (head, chunks): with Nagle
    # on, a write after the head waits for the client's delayed ACK, 40 ms on Linux, on every
    # call. A real API server sets TCP_NODELAY; so does this one.
    disable_nagle_algorithm = True
    api: FakeAPI  # set on the subclass by make_server
    _frames: list[bytes]  # the events of a streamed answer not written yet

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: hundreds of requests per second in benchmarks

    # ----------------------------------------------------------------- helpers
    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None):
        self._json(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)

    def _demo_source(self) -> None:
        body = demo_source_csv(datetime.date.today()).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        status = 304 if self.headers.get("If-None-Match") == etag else 200
        self.send_response(status)
        self.send_header("content-type", "text/csv; charset=utf-8")
        self.send_header("etag", etag)
        self.send_header("content-length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if status == 200:
            self.wfile.write(body)

    def _sse(self, event: str, data: dict[str, Any]) -> None:
        """Queue one server-sent event; `_send` writes what is queued as one chunk."""
        self._frames.append(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

    def _send(self, last: bool = False) -> None:
        """Write the queued events (one chunk, one write), and the final chunk if `last`.
        Events with no pause between them go out together, as a fast server's would."""
        frame = b"".join(self._frames)
        self._frames = []
        out = b"%x\r\n%s\r\n" % (len(frame), frame) if frame else b""
        self.wfile.write(out + b"0\r\n\r\n" if last else out)
        self.wfile.flush()

    # ----------------------------------------------------------------- routes
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path, _, query = self.path.partition("?")
        if path.rstrip("/") == "/v1/models":
            return self._models(query)
        if path.startswith("/v1/models/"):
            model_id = self.api.rules.resolve(path.rsplit("/", 1)[1])
            info = next((m for m in self.api.rules.models if m["id"] == model_id), None)
            if info is None:
                return self._error(404, "not_found_error", "model not found")
            return self._json(200, self._model_info(info))
        if path == DEMO_SOURCE_PATH:
            return self._demo_source()
        if path == "/healthz":
            return self._json(
                200,
                {
                    "ok": True,
                    "requests": self.api.requests,
                    "waiting": self.api.waiting,
                    "in_flight": self.api.in_flight,
                    "held": self.api.held,
                },
            )
        self._error(404, "not_found_error", f"No route for GET {path}")

    def _model_info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "model",
            "id": info["id"],
            "display_name": info.get("display_name", info["id"]),
            "created_at": info.get("created_at", "2025-01-01T00:00:00Z"),
            "lifecycle": info.get("lifecycle", "active"),
        }

    def _models(self, query: str) -> None:
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        limit = int(params.get("limit", 20))
        models = sorted(self.api.rules.models, key=lambda m: m.get("created_at", ""), reverse=True)
        ids = [m["id"] for m in models]
        start = ids.index(params["after_id"]) + 1 if params.get("after_id") in ids else 0
        page = models[start : start + limit]
        self._json(
            200,
            {
                "data": [self._model_info(m) for m in page],
                "has_more": start + limit < len(models),
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.partition("?")[0]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if path == "/gate":
            return self._set_gate(raw)
        if path != "/v1/messages":
            return self._error(404, "not_found_error", f"No route for POST {path}")
        if not self.headers.get("x-api-key") and not self.headers.get("authorization"):
            return self._error(401, "authentication_error", "x-api-key header is required")
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return self._error(400, "invalid_request_error", "Body is not valid JSON")
        for required in ("model", "messages", "max_tokens"):
            if required not in body:
                return self._error(400, "invalid_request_error", f"{required}: Field required")
        api = self.api
        with api._lock:
            api.requests += 1
        api.pass_gate()
        requested = body["model"]
        model = api.rules.resolve(requested)
        if model is None:
            return self._error(404, "not_found_error", f"model: {requested}")
        if model in api.rules.retired:
            return self._error(404, "not_found_error", f"model: {requested} has been retired")

        prompt = prompt_of(body)
        rule = api.rules.match(model, prompt)
        latency = (rule or {}).get("latency", api.latency)
        latency = float(self.headers.get("x-fake-latency") or latency)

        spec: ErrorSpec | None = None
        key = ""
        if header := self.headers.get("x-fake-error"):
            spec = ErrorSpec.parse_header(header)
            key = f"h:{header}"
        elif rule and rule.get("error"):
            spec = ErrorSpec(**rule["error"])
            key = "r:" + hashlib.sha256(raw).hexdigest()
        if spec and spec.type != "mid_stream" and api.should_fail(spec, key):
            time.sleep(min(latency, 0.05))
            status, kind, message = ERRORS[spec.type]
            headers = {"retry-after": f"{spec.retry_after:g}"} if spec.retry_after else {}
            return self._error(status, kind, message, headers)
        if api.error_rate and random.random() < api.error_rate:
            return self._error(529, "overloaded_error", "Overloaded", {"retry-after": "0.5"})

        text = rule.get("text", api.rules.default_text) if rule else api.rules.default_text
        if SYSTEM_MARKER in str(body.get("system", "")):  # the review facilitator: cite its ids
            text = steering.scripted_answer(body["messages"]) or scripted_draft(prompt)
        elif SIDE_MARKER in str(body.get("system", "")):  # "find the missing side" of one bet
            text = scripted_side(prompt)
        text = scripted_assist(str(body.get("system", "")), prompt) or text
        pieces = chunks_of(text)[: max(1, int(body["max_tokens"]))]
        stop_reason = "end_turn" if len(pieces) == len(chunks_of(text)) else "max_tokens"
        text = "".join(pieces)
        usage_in, cache_create, cache_read, cache_key = api.cache_usage(body, approx_tokens(prompt))
        message_id = f"msg_fake_{uuid.uuid4().hex[:20]}"
        mid_stream = bool(spec and spec.type == "mid_stream" and api.should_fail(spec, key))

        if latency:
            with api._lock:
                api.in_flight += 1
            try:
                time.sleep(latency)
            finally:
                with api._lock:
                    api.in_flight -= 1
        api.remember(cache_key)  # the answer begins: from now on the prefix is read
        if body.get("stream"):
            return self._stream(
                message_id, model, pieces, stop_reason, (usage_in, cache_create, cache_read),
                mid_stream,
            )  # fmt: skip
        if api.tokens_per_second:
            time.sleep(len(pieces) / api.tokens_per_second)
        self._json(
            200,
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage_in,
                    "output_tokens": len(pieces),
                    "cache_creation_input_tokens": cache_create,
                    "cache_read_input_tokens": cache_read,
                },
            },
        )

    def _set_gate(self, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
            self.api.set_gate(opened=body.get("open"), release=int(body.get("release", 0)))
            if "hold_after" in body or "resume" in body:
                after = body.get("hold_after")
                self.api.set_hold(
                    after=None if after is None else int(after), resume=int(body.get("resume", 0))
                )
        except (ValueError, TypeError, AttributeError):
            message = 'Send {"open": bool}, {"release": n}, {"hold_after": n} or {"resume": n}'
            return self._error(400, "invalid_request_error", message)
        self._json(
            200, {"open": self.api.gate_open, "waiting": self.api.waiting, "held": self.api.held}
        )

    def _stream(self, message_id, model, pieces, stop_reason, usage, mid_stream) -> None:
        usage_in, cache_create, cache_read = usage
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:16]}")
        self.end_headers()
        self._frames = []
        try:
            self._sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id, "type": "message", "role": "assistant",
                        "model": model, "content": [], "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": usage_in, "output_tokens": 1,
                            "cache_creation_input_tokens": cache_create,
                            "cache_read_input_tokens": cache_read,
                        },
                    },
                },
            )  # fmt: skip
            self._sse("ping", {"type": "ping"})
            self._sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}},
            )  # fmt: skip
            delay = 1 / self.api.tokens_per_second if self.api.tokens_per_second else 0
            for n, piece in enumerate(pieces):
                if mid_stream and n >= max(1, len(pieces) // 2):
                    _, kind, message = ERRORS["mid_stream"]
                    error = {"type": kind, "message": message}
                    self._sse("error", {"type": "error", "error": error})
                    break
                if self.api.hold_after and n == self.api.hold_after:
                    self._send()  # the deltas so far reach the client before the hold
                    self.api.hold_point()
                if delay:
                    self._send()
                    time.sleep(delay)
                self._sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": piece}},
                )  # fmt: skip
            else:
                self._sse("content_block_stop", {"type": "content_block_stop", "index": 0})
                self._sse(
                    "message_delta",
                    {"type": "message_delta",
                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                     "usage": {"output_tokens": len(pieces)}},
                )  # fmt: skip
                self._sse("message_stop", {"type": "message_stop"})
            self._send(last=True)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a cancelled call)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many concurrent connections arrive at once in benchmarks
    allow_reuse_address = True


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    rules: Rules | None = None,
    latency: float = 0.0,
    tokens_per_second: float = 0.0,
    error_rate: float = 0.0,
    cache_min_tokens: int = 1024,
) -> Server:
    api = FakeAPI(rules or Rules.load(), latency, tokens_per_second, error_rate, cache_min_tokens)
    handler = type("BoundHandler", (Handler,), {"api": api})
    server = Server((host, port), handler)
    server.api = api  # type: ignore[attr-defined]  # handlers reach the API via the server
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic Messages API server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--rules", default=str(DEFAULT_RULES))
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before the answer")
    parser.add_argument("--tokens-per-second", type=float, default=150.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of random 529s")
    parser.add_argument(
        "--cache-min-tokens", type=int, default=1024, help="shortest prefix prompt caching keeps"
    )
    args = parser.parse_args(argv)
    server = make_server(
        args.host, args.port, Rules.load(args.rules), args.latency, args.tokens_per_second,
        args.error_rate, args.cache_min_tokens,
    )  # fmt: skip
    print(f"fake Messages API on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
