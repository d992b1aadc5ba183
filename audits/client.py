"""The one way Exponent talks to models: the official anthropic SDK, configured from settings.

- Base URL and key come from settings.ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY (tests, demos and
  `make run` without a key point it at devtools.fakeapi).
- The SDK retries 408/409/429/5xx/529 itself and honours retry-after (`max_retries`); an error
  that arrives in the middle of a stream is not retried by the SDK, so `call` retries it.
- A per-team Redis semaphore caps concurrent calls (settings.AUDITS_TEAM_CONCURRENCY).
- Calls stream, handing each text delta to `on_text`; `should_stop` is checked between deltas
  so a cancelled call ends promptly.
- Usage (input, output, cache write, cache read) and cost from the Price table are returned.
- Models come from the Models API and are cached in the Model table.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import anthropic
import httpx2  # the SDK's HTTP client (anthropic depends on it)
import redis
from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)

MODELS_CACHE_TTL = timedelta(hours=1)


def team_concurrency() -> int:
    return settings.AUDITS_TEAM_CONCURRENCY


# ----------------------------------------------------------------------------- errors
class CallError(Exception):
    """A call that failed after every retry; `kind` groups errors on the audit page."""

    def __init__(self, kind: str, message: str, usage: dict[str, int] | None = None):
        super().__init__(message)
        self.kind = kind
        self.usage = usage or {}


class Cancelled(Exception):
    """should_stop() said stop: the call was abandoned. `usage` is what was billed up to then
    (an interrupted stream reports no final usage: its output tokens are estimated from the
    text received, see interrupted_usage)."""

    def __init__(self, usage: dict[str, int] | None = None):
        super().__init__("cancelled")
        self.usage = usage or {}


def interrupted_usage(started: dict[str, int], deltas: int, chars: int) -> dict[str, int]:
    """The usage of a stream abandoned before its end: the input of its message_start, and as
    output the larger of the text deltas received and about four characters a token."""
    usage = dict(started)
    usage["output_tokens"] = max(usage.get("output_tokens", 0), deltas, -(-chars // 4))
    return usage


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, anthropic.RateLimitError):
        return "rate_limit"
    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 529 or "overloaded" in str(exc).lower():
            return "overloaded"
        if exc.status_code == 404:
            return "not_found"
        if exc.status_code in (401, 403):
            return "authentication"
        if exc.status_code == 400:
            return "invalid_request"
        return "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection"
    return type(exc).__name__


# ----------------------------------------------------------------------------- SDK client
_local = threading.local()  # this thread's SDK clients, by configuration
_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for the process, built as the SDK builds its own (building one, CA
    bundle included, is about 0.2 s of CPU): every thread's client verifies with it."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx2.create_ssl_context()
        return _ssl_context


def get_client() -> anthropic.Anthropic:
    """This thread's SDK client (and connection pool) for the configuration in settings.

    One client per thread, not per process: an audits worker runs up to a hundred calls at
    once in threads, and one shared connection pool makes them queue on its lock (a convoy:
    the holder waits for the GIL while the others wait for it), which at concurrency 200 kept
    a third of the threads off the network. Worker threads live as long as the worker, so
    each keeps its connections alive between calls."""
    key = (
        settings.ANTHROPIC_BASE_URL,
        settings.ANTHROPIC_API_KEY,
        settings.AUDITS_MAX_RETRIES,
    )
    clients: dict[tuple, anthropic.Anthropic] = _local.__dict__.setdefault("clients", {})
    client = clients.get(key)
    if client is None:
        client = clients[key] = anthropic.Anthropic(
            api_key=settings.ANTHROPIC_API_KEY or "missing-key",
            base_url=settings.ANTHROPIC_BASE_URL or None,
            max_retries=key[2],
            timeout=anthropic.Timeout(settings.AUDITS_CALL_TIMEOUT, connect=10.0),
            http_client=anthropic.DefaultHttpxClient(verify=_shared_ssl_context()),
        )
    return client


_WARM_UP_EVENTS = (
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_warm_up", "type": "message", "role": "assistant", "model": "warm-up",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "ok"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 1},
                       "delta": {"stop_reason": "end_turn", "stop_sequence": None}}),
    ("message_stop", {"type": "message_stop"}),
)  # fmt: skip


def warm_up() -> str:
    """Stream one canned message through the SDK, in memory, so the process builds the SDK's
    pydantic validators now (about 50 ms of CPU, once) rather than inside the first audit
    calls, where a thread-pool worker builds them in several threads at once. Returns the
    canned text ("ok")."""
    import json

    try:
        import httpx2 as httpx  # the SDK's HTTP client
    except ImportError:  # an SDK on plain httpx
        import httpx  # type: ignore[no-redef]  # the same API under its older name

    body = "".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in _WARM_UP_EVENTS
    ).encode()

    def answer(request):
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        client = anthropic.Anthropic(
            api_key="warm-up", base_url="http://warm-up.invalid", http_client=http, max_retries=0
        )
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "warm up"}]
        with client.messages.create(
            model="warm-up", max_tokens=1, messages=messages, stream=True
        ) as stream:
            return read_stream(stream).text


# ----------------------------------------------------------------------------- concurrency
SLOT_LEASE = 900.0  # seconds a slot is held at most by a holder that never released it

_TAKE_SLOT = """
local function take_slot(key, now, lease_end, limit, token)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) < tonumber(limit) then
    redis.call('ZADD', key, lease_end, token)
    redis.call('EXPIRE', key, 3600)
    return 1
  end
  return 0
end
"""
_ACQUIRE = _TAKE_SLOT + "return take_slot(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])"
# KEYS: the call's claim, the team's slots, n stop flags, claims to forget;
# ARGV: claim ttl, n, now, lease end, limit, slot token ("" takes no slot)
_CLAIM = (
    _TAKE_SLOT
    + """
local n = tonumber(ARGV[2])
for i = 3 + n, #KEYS do redis.call('DEL', KEYS[i]) end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {0, 0, 0} end
if n > 0 and redis.call('EXISTS', unpack(KEYS, 3, 2 + n)) > 0 then return {1, 1, 0} end
if ARGV[6] == '' then return {1, 0, 0} end
return {1, 0, take_slot(KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])}
"""
)
_redis_client: redis.Redis | None = None
_acquire_script: redis.commands.core.Script | None = None
_claim_script: redis.commands.core.Script | None = None


def get_redis() -> redis.Redis:
    global _redis_client, _acquire_script, _claim_script
    if _redis_client is None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        _acquire_script = client.register_script(_ACQUIRE)
        _claim_script = client.register_script(_CLAIM)
        _redis_client = client
    return _redis_client


def slot_key(team_id: int) -> str:
    return f"audits:slots:{team_id}"


@dataclass
class Claim:
    claimed: bool  # False: another delivery holds the call
    stopped: bool  # a stop flag was raised (no slot was taken)
    slot: str | None  # the team slot taken for the call (pass it to `call`), if one was free


def claim_call(
    claim_key: str,
    ttl: int,
    stop_keys: list[str],
    team_id: int | None = None,
    forget: list[str] | tuple[str, ...] = (),
) -> Claim:
    """One Redis round trip before an audit call: delete `forget` (the claims of calls this
    worker has finished and recorded), claim this call for `ttl` seconds (unless another
    delivery holds it), read the stop flags, and when claimed and not stopped take one of
    the team's slots if one is free (`team_id` given), so `call` need not ask again. A slot
    taken here is the caller's to release (`release_slot`) if it does not make the call."""
    get_redis()
    script = _claim_script
    assert script is not None  # registered by get_redis() above
    token = uuid.uuid4().hex if team_id is not None else ""
    now = time.time()
    claimed, stopped, slot = script(
        keys=[claim_key, slot_key(team_id or 0), *stop_keys, *forget],
        args=[ttl, len(stop_keys), now, now + SLOT_LEASE, team_concurrency(), token],
    )
    return Claim(bool(claimed), bool(stopped), token if slot else None)


def release_slot(team_id: int, token: str, forget: list[str] | tuple[str, ...] = ()) -> None:
    """Give a slot back and wake one waiter (one round trip; `forget` deletes keys too)."""
    key = slot_key(team_id)
    wake = f"{key}:wake"
    limit = team_concurrency()
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.zrem(key, token)
        pipe.lpush(wake, 1)
        pipe.ltrim(wake, 0, limit - 1)  # wake-ups nobody took must not pile up
        pipe.expire(wake, 60)
        if forget:
            pipe.delete(*forget)
        pipe.execute()


@contextlib.contextmanager
def team_slot(
    team_id: int,
    should_stop: Callable[[], bool] | None = None,
    lease: float = SLOT_LEASE,
    held: str | None = None,
) -> Iterator[None]:
    """Hold one of the team's concurrent-call slots (a Redis sorted-set semaphore); `held`
    is a slot the caller has taken already (claim_call), released here all the same.

    Each holder has a lease; a holder that died without releasing frees its slot when the
    lease ends, so a crashed worker cannot starve the team. A release pushes a wake-up that
    one waiter (blocked on it for at most 0.25 s, then checking should_stop) takes at once, so
    a freed slot does not sit idle until the next poll.
    """
    r = get_redis()
    key = slot_key(team_id)
    token = held or uuid.uuid4().hex
    script = _acquire_script
    assert script is not None  # registered by get_redis() above
    limit = team_concurrency()
    while not held:
        now = time.time()
        if script(keys=[key], args=[now, now + lease, limit, token]):
            break
        if should_stop and should_stop():
            raise Cancelled()
        r.blpop([f"{key}:wake"], timeout=0.25)
    try:
        yield
    finally:
        release_slot(team_id, token)  # one round trip: release, wake a waiter


# ----------------------------------------------------------------------------- prices
def price_for(model_id: str, prices=None):
    """The Price for a resolved model id: exact id, else the longest matching prefix.
    `prices` is the Price table when the caller has already read it (an audit call reads it
    with the rest of what it needs, in one query)."""
    from .models import Price

    if prices is None:
        prices = Price.objects.all()
    matching = [p for p in prices if model_id.startswith(p.model_id)]
    return max(matching, key=lambda p: len(p.model_id), default=None)


def cost_of(model_id: str, usage: dict[str, int], prices=None) -> Decimal:
    price = price_for(model_id, prices)
    if price is None:
        return Decimal(0)
    return price.cost(
        usage.get("input_tokens", 0),
        usage.get("output_tokens", 0),
        usage.get("cache_creation_input_tokens", 0),
        usage.get("cache_read_input_tokens", 0),
    )


# ----------------------------------------------------------------------------- calls
@dataclass
class CallResult:
    text: str
    model: str  # the resolved model id the API answered with
    usage: dict[str, int]
    stop_reason: str | None
    latency_ms: int
    attempts: int
    cost_usd: Decimal

    @property
    def input_tokens(self) -> int:
        return self.usage.get("input_tokens", 0)

    @property
    def output_tokens(self) -> int:
        return self.usage.get("output_tokens", 0)


def _usage_dict(usage: Any) -> dict[str, int]:
    return {
        "input_tokens": getattr(usage, "input_tokens", 0) or 0,
        "output_tokens": getattr(usage, "output_tokens", 0) or 0,
        "cache_creation_input_tokens": getattr(usage, "cache_creation_input_tokens", 0) or 0,
        "cache_read_input_tokens": getattr(usage, "cache_read_input_tokens", 0) or 0,
    }


def _add_usage(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value


@dataclass
class StreamedMessage:
    """What a streamed answer adds up to (the parts of the SDK's final message we use)."""

    text: str
    model: str
    usage: dict[str, int]
    stop_reason: str | None


def read_stream(
    stream: Iterable[Any],
    on_text: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    usage: dict[str, int] | None = None,
) -> StreamedMessage:
    """Add up a stream of the Messages API's raw events (`messages.create(stream=True)`):
    the text deltas (each handed to `on_text`, then `should_stop` asked: Cancelled, with the
    usage so far (interrupted_usage), if it says stop), the resolved model, the usage and
    the stop reason.

    The SDK's MessageStream does the same and more (a snapshot of the whole message rebuilt
    at every event, a second event per text delta): a third of an audit call's CPU in the
    worker. `usage` is filled in as the events arrive (the tokens billed so far, should the
    stream break)."""
    parts: list[str] = []
    model, stop_reason = "", None
    usage = {} if usage is None else usage
    for event in stream:
        kind = event.type
        if kind == "content_block_delta":
            if event.delta.type == "text_delta":
                parts.append(event.delta.text)
                if on_text:
                    on_text(event.delta.text)
                if should_stop and should_stop():
                    chars = sum(len(part) for part in parts)
                    raise Cancelled(interrupted_usage(usage, len(parts), chars))
        elif kind == "message_start":
            model = event.message.model
            usage.update(_usage_dict(event.message.usage))
        elif kind == "message_delta":
            stop_reason = event.delta.stop_reason
            delta = event.usage
            usage["output_tokens"] = delta.output_tokens or 0
            for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
                value = getattr(delta, name, None)
                if value is not None:  # the final count, when the delta carries it
                    usage[name] = value
    return StreamedMessage("".join(parts), model, usage, stop_reason)


def call(
    *,
    team_id: int,
    model: str,
    messages: list[dict[str, Any]],
    system: str | list[dict[str, Any]] = "",
    max_tokens: int = 512,
    temperature: float | None = None,
    on_text: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_restart: Callable[[int], None] | None = None,
    stream_retries: int | None = None,
    extra_headers: dict[str, str] | None = None,
    prices: list | None = None,
    slot: str | None = None,
) -> CallResult:
    """Stream one message. Raises CallError after the retries, Cancelled when told to stop.

    An error mid-stream restarts the call (up to `stream_retries` times, with backoff);
    `on_restart(attempt)` lets the caller discard the partial text it has shown. Tokens of
    abandoned attempts are still counted in the usage: they were billed. `prices` (the Price
    rows, if the caller has them) saves reading the Price table. `system` may be a list of
    text blocks, one marked `{"cache_control": {"type": "ephemeral"}}` to cache the prefix up
    to it; the usage then counts the tokens written to and read from the cache, priced by
    cost_of. `slot` is a team slot the caller has taken already (claim_call): the call does
    not ask for one, and gives it back at the end as it would its own.
    """
    client = get_client()
    retries = stream_retries
    if retries is None:
        retries = settings.AUDITS_STREAM_RETRIES
    params: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if system:
        params["system"] = system
    if temperature is not None:
        # SDK 2.14 has no `temperature` argument; the API still accepts the field.
        params["extra_body"] = {"temperature": temperature}
    if extra_headers:
        params["extra_headers"] = extra_headers
    usage: dict[str, int] = {}
    started = time.monotonic()
    attempt = 0
    with team_slot(team_id, should_stop, held=slot):
        while True:
            attempt += 1
            if should_stop and should_stop():
                raise Cancelled(usage)
            attempt_usage: dict[str, int] = {}
            try:
                with client.messages.create(stream=True, **params) as stream:
                    message = read_stream(stream, on_text, should_stop, attempt_usage)
            except Cancelled as cancelled:  # carries this attempt's usage (read_stream)
                _add_usage(usage, cancelled.usage)
                cancelled.usage = usage
                raise
            except anthropic.APIStatusError as exc:
                _add_usage(usage, attempt_usage)
                # status 200 = the error arrived inside the stream: the SDK does not retry it.
                mid_stream = exc.status_code == 200
                kind = "mid_stream_" + error_kind(exc) if mid_stream else error_kind(exc)
                if mid_stream and attempt <= retries:
                    log.info("retrying %s after a mid-stream error (attempt %s)", model, attempt)
                    if on_restart:
                        on_restart(attempt)
                    time.sleep(min(0.25 * 2 ** (attempt - 1), 4.0))
                    continue
                raise CallError(kind, str(exc), usage) from exc
            except anthropic.APIError as exc:
                _add_usage(usage, attempt_usage)
                raise CallError(error_kind(exc), str(exc), usage) from exc
            _add_usage(usage, message.usage)
            resolved = message.model or model
            return CallResult(
                text=message.text,
                model=resolved,
                usage=usage,
                stop_reason=message.stop_reason,
                latency_ms=int((time.monotonic() - started) * 1000),
                attempts=attempt,
                cost_usd=cost_of(resolved, usage, prices),
            )


def ask(team_id: int) -> Callable[[str, str, str], tuple[str, str]]:
    """An `ask(model, system, user) -> (text, resolved id)` for the LLM judge."""

    def _ask(model: str, system: str, user: str) -> tuple[str, str]:
        result = call(
            team_id=team_id,
            model=model,
            system=system,
            max_tokens=400,
            temperature=0.0,
            messages=[{"role": "user", "content": user}],
        )
        return result.text, result.model

    return _ask


# ----------------------------------------------------------------------------- models
_simulated_priced = threading.Event()


def sync_models(force: bool = False) -> list:
    """Refresh the Model table from the Models API (at most hourly unless forced).

    Models the API no longer lists are marked retired (aliases excepted: they are resolved
    on use); returns the active, non-alias models, newest first.
    """
    from .models import Model

    now = timezone.now()
    fresh = Model.objects.filter(is_alias=False, last_seen_at__gte=now - MODELS_CACHE_TTL)
    if force or not fresh.exists():
        seen: list[str] = []
        for info in get_client().models.list(limit=100):
            lifecycle = getattr(info, "lifecycle", None) or "active"
            Model.objects.update_or_create(
                model_id=info.id,
                defaults={
                    "display_name": info.display_name,
                    "released_at": info.created_at,
                    "lifecycle": lifecycle,
                    "retired": lifecycle == "retired",
                    "is_alias": False,
                    "last_seen_at": now,
                },
            )
            seen.append(info.id)
        Model.objects.filter(is_alias=False).exclude(model_id__in=seen).update(
            retired=True, lifecycle="retired"
        )
    if settings.SIMULATED_MODELS and not _simulated_priced.is_set():
        # make run without a key: the fake API's models are priced (once per process, so an
        # installation that already knew them gets the prices too)
        from .simulated import seed_simulated_prices

        seed_simulated_prices()
        _simulated_priced.set()
    return list(Model.objects.filter(is_alias=False, retired=False))


def register_model(name: str):
    """A model a team typed in: a listed id, or an alias resolved through the Models API."""
    from .models import Model

    existing = Model.objects.filter(model_id=name).first()
    if existing:
        return existing
    info = get_client().models.retrieve(name)  # raises NotFoundError for unknown names
    if info.id == name:
        return Model.objects.create(
            model_id=info.id,
            display_name=info.display_name,
            released_at=info.created_at,
            last_seen_at=timezone.now(),
        )
    return Model.objects.create(
        model_id=name,
        display_name=f"{name} (alias of {info.id})",
        is_alias=True,
        resolves_to=info.id,
        released_at=info.created_at,
        last_seen_at=timezone.now(),
    )
