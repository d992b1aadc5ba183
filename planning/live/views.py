"""Live session endpoints (no team slug in the URL; membership comes from the session).

GET  /live/<id>/          the session page (snapshot + stream), for the demo and direct links
GET  /live/<id>/events    server-sent events: replay after the cursor, then tail (async view)
GET  /live/<id>/log       JSON events after ?after= (tabs use it to fill a gap)
POST /live/<id>/cancel    stop request (editors; idempotent)
POST /live/<id>/steer     an instruction to the running generation (editors; see steer())
GET  /live/               recent sessions of the user's teams; POST starts a demo (staff)

The SSE protocol: `id:` is the event's seq on durable events only; `data:` is one line of
JSON {"seq", "type", "data"}; `event: end` closes a finished stream (do not reconnect);
`event: reset` says the cursor points into compacted history (reload the snapshot);
`: ping` comments every 15 s. The cursor is max(Last-Event-ID, ?after=).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning.teams.models import Membership, Team

from . import conf, services
from .access import (
    LiveRequest,
    StreamGrant,
    StreamRequest,
    authorise_streams,
    live_view,
    valid_session_key,
)
from .forms import SteerForm
from .hub import control, db, get_hub, read_log
from .models import TERMINAL, LiveEvent, LiveSession

logger = logging.getLogger(__name__)


@require_GET
@live_view
def session_page(request: LiveRequest):
    return render(
        request,
        "live/session_page.html",
        {"session": request.live_session, "can_stop": request.membership.can_edit},
    )


@require_GET
@live_view
def log(request: LiveRequest):
    """Events after ?after= as JSON (at most 1000), with the session's state."""
    session = request.live_session
    after = _int(request.GET.get("after"))
    rows = LiveEvent.objects.filter(session=session, seq__gt=after).order_by("seq")[:1000]
    return JsonResponse(
        {
            "status": session.status,
            "last_seq": session.last_seq,
            "events": [{"seq": e.seq, "type": e.type, "data": e.data} for e in rows],
        }
    )


@require_POST
@live_view
def cancel(request: LiveRequest):
    session = request.live_session
    services.request_cancel(session.pk, request.user)
    session.refresh_from_db()
    if request.htmx:
        return render(request, "live/session.html#controls", {"session": session, "can_stop": True})
    return JsonResponse(
        {"status": session.status, "cancel_requested": session.cancel_requested_at is not None},
        status=202,
    )


class _Batched:
    """Calls `fn(items)` (sync, in a pool thread through `db`) for every item that arrived
    while its previous call ran: a burst of a thousand callers costs a few calls, not a
    thousand, and a lone caller waits for nobody."""

    def __init__(self, fn, limit: int = 1000) -> None:
        self.call, self.limit = db(fn), limit
        self.pending: list[tuple[Any, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def __call__(self, item):
        future = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if self.task is None:
            self.task = asyncio.create_task(self._drain(), name="live-authorise")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Any, asyncio.Future]] = []
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.limit], self.pending[self.limit :]
                try:
                    results = await self.call([item for item, _ in batch])
                except Exception as error:  # noqa: BLE001 - handed to every caller of the batch
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                batch = []
        finally:
            self.task = None
            for _, future in batch + self.pending:  # cancelled (the loop ends): nobody waits
                future.cancel()


_authorisers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batched] = (
    weakref.WeakKeyDictionary()
)


async def authorise(request: StreamRequest) -> StreamGrant | None:
    """`access.authorise_streams` for one subscriber, batched with everyone else's."""
    loop = asyncio.get_running_loop()
    batched = _authorisers.get(loop)
    if batched is None:
        batched = _authorisers[loop] = _Batched(authorise_streams)
    return await batched(request)


class _Lease:
    """The stream's hold on its watch, released exactly once: by the stream when it ends, or
    by the response's close() when the stream never started (client gone before the body)."""

    def __init__(self, hub, watch) -> None:
        self.hub, self.watch, self.loop = hub, watch, asyncio.get_running_loop()
        self.held = True

    async def release(self) -> None:
        if self.held:
            self.held = False
            await self.hub.unwatch(self.watch)

    def release_soon(self) -> None:  # from Django's response.close(), in a thread
        if self.held:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to release
                self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self.release()))


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a stream answered: 200 with the lease and the body, or a refusal."""

    status: int
    lease: _Lease | None = None
    body: AsyncIterator[bytes] | None = None


RETRY_SOON = b"retry: 1000\n\n"  # a refusal the client may retry (shutting down, database busy)


async def open_stream(session_key: str | None, session_id, cursor: int) -> Opened:
    """Authorise a subscriber and start its stream: 200, 404 (not logged in, not a member of
    the session's team, no such session) or 503 (this process is shutting down, or the
    database could not be reached: the client retries)."""
    hub = get_hub()
    if hub.closing:  # shutting down: come back (to another process) in a second
        return Opened(503)
    # Watch before reading, so that nothing published after the read is missed.
    watch = await hub.watch(session_id)
    lease = _Lease(hub, watch)
    try:
        grant = await authorise(
            StreamRequest(session_key, watch.session_id, cursor, watch.after(cursor) is None)
        )
    except DatabaseError:
        logger.warning("live: could not authorise a subscriber", exc_info=True)
        await lease.release()
        return Opened(503)
    except BaseException:
        await lease.release()
        raise
    if grant is None:
        await lease.release()
        return Opened(404)
    return Opened(200, lease, _stream(hub, lease, cursor, session_key, grant))


class EventStreamResponse(StreamingHttpResponse):
    def __init__(self, content, lease: _Lease) -> None:
        super().__init__(content, content_type="text/event-stream")
        self.lease = lease

    def close(self) -> None:
        self.lease.release_soon()
        super().close()


async def events(request, session_id):
    """The stream under Django (planning.asgi answers it before Django, by the same rules)."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    cursor = max(_int(request.headers.get("Last-Event-ID")), _int(request.GET.get("after")))
    key = valid_session_key(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    opened = await open_stream(key, session_id, cursor)
    if opened.status == 404:
        raise Http404("No such live session")
    if opened.lease is None or opened.body is None:
        return HttpResponse(RETRY_SOON, status=opened.status, content_type="text/event-stream")
    response = EventStreamResponse(opened.body, opened.lease)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(
    hub, lease: _Lease, cursor: int, session_key: str | None, grant: StreamGrant | None = None
):
    """Replay after the cursor, then tail. Waits only on the session's watch, which the hub
    wakes on a new seq, on its clock (heartbeat, deadline, membership check) and on shutdown.
    `grant` is what authorising the subscriber read (the session's state, maybe the log)."""
    loop = asyncio.get_running_loop()
    watch = lease.watch
    session_id = watch.session_id
    read = db(read_log)
    first = None
    if grant is not None and grant.frames is not None:
        first = (grant.frames, grant.state)
    elif grant is not None:
        watch.saw(grant.state["last_seq"], dict(grant.state))
    now = loop.time()
    deadline = now + conf.max_stream_seconds()
    next_check = now + conf.recheck_seconds()
    tick = hub.ticks
    try:
        _release_request_thread()
        # Frames go out together until the stream waits: a replay of 500 events is one write.
        out = [b"retry: 1000\n: open\n\n"]
        while True:
            changed = watch.changed()
            if hub.closing:
                if out:
                    yield b"".join(out)
                return  # the client reconnects (to another process) from its cursor
            frames = watch.after(cursor)
            if first is not None or frames is None:
                if first is not None:
                    (frames, state), first = first, None
                else:
                    if out:
                        yield b"".join(out)
                        out = []
                    frames, state = await read(session_id, cursor)
                if state is None:
                    yield b"".join([*out, control("end", {"status": "gone"})])
                    return
                watch.add(frames)
                watch.saw(state["last_seq"], dict(state))
            state = watch.state or {}
            if 0 < cursor < state.get("compacted_through", 0):
                yield b"".join([*out, control("reset", {"reason": "compacted", "after": 0})])
                return
            for f in frames:
                if f.seq <= cursor:
                    continue
                out.append(f.payload)
                cursor = f.seq
                if f.terminal:
                    yield b"".join([*out, control("end", {"status": f.type, "seq": f.seq})])
                    return
            if frames:
                continue
            if state.get("status") in TERMINAL and cursor >= watch.last_seq:
                end = control("end", {"status": state["status"], "seq": watch.last_seq})
                yield b"".join([*out, end])
                return
            if hub.ticks != tick:  # the hub's clock: one heartbeat for every stream
                tick = hub.ticks
                now = loop.time()
                if now >= deadline:
                    if out:
                        yield b"".join(out)
                    return  # the client resumes from its cursor
                if now >= next_check:  # still logged in, still a member (batched with others)
                    next_check = now + conf.recheck_seconds()
                    if await authorise(StreamRequest(session_key, session_id)) is None:
                        yield b"".join([*out, control("end", {"status": "forbidden"})])
                        return
                out.append(b": ping\n\n")
                continue
            if out:
                yield b"".join(out)
                out = []
            await watch.wait(changed)
    finally:
        await lease.release()


# --------------------------------------------------------------------------- before Django
# A reconnect storm opens a thousand streams at once; through Django's middleware (sessions,
# auth, CSRF, messages… several of them sync, each in a thread) a process opened about 70 a
# second. planning.asgi answers GET /live/<id>/events itself, by the same rules (the session
# cookie as django.contrib.auth reads it, membership of the session's team, batched in
# `authorise`), and hands Django every request it would treat differently.
EVENTS_PATH = re.compile(
    r"/live/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/events"
)  # the path of live:events (Django's uuid converter)


def _headers(scope) -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        text = value.decode("latin-1")
        out[name] = f"{out[name]}; {text}" if name == b"cookie" and name in out else text
    return out


def _is_secure(scope, headers: dict[bytes, str]) -> bool:
    """HttpRequest.is_secure() on the ASGI scope (SECURE_PROXY_SSL_HEADER first)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        name = header.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if name in headers:
            return headers[name].split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") == "https"


def fast_path(scope) -> str | None:
    """The live session of a /live/<id>/events request planning.asgi answers itself; None
    leaves the request to Django: any other path, and what Django's middleware would refuse or
    redirect first (a Host not in ALLOWED_HOSTS, plain HTTP under SECURE_SSL_REDIRECT)."""
    if scope["type"] != "http" or scope.get("root_path"):
        return None
    match = EVENTS_PATH.fullmatch(scope["path"])
    if match is None or settings.USE_X_FORWARDED_HOST:
        return None
    headers = _headers(scope)
    domain, _port = split_domain_port(headers.get(b"host", ""))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    if settings.SECURE_SSL_REDIRECT and not _is_secure(scope, headers):
        return None
    return match.group(1)


def _response_headers(scope, headers: dict[bytes, str]) -> list[tuple[bytes, bytes]]:
    """What the endpoint and Django's SecurityMiddleware would send with the stream."""
    out = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
        (b"vary", b"Cookie"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        out.append((b"referrer-policy", str(settings.SECURE_REFERRER_POLICY).encode()))
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope, headers):
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        out.append((b"strict-transport-security", hsts.encode()))
    return out


async def _answer(send, status: int, body: bytes, headers=()) -> None:
    content_type = b"text/event-stream" if status == 503 else b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def events_asgi(scope, receive, send, session_id: str) -> None:
    """GET /live/<id>/events as a bare ASGI app (see `fast_path`): the same answers as the
    Django view `events`, and the stream ends when the client goes away."""
    if scope["method"] != "GET":
        await _answer(send, 405, b"Method not allowed", [(b"allow", b"GET")])
        return
    headers = _headers(scope)
    key = valid_session_key(
        parse_cookie(headers.get(b"cookie", "")).get(settings.SESSION_COOKIE_NAME)
    )
    after = parse_qs(scope["query_string"].decode("latin-1")).get("after", [""])[-1]
    cursor = max(_int(headers.get(b"last-event-id")), _int(after))
    opened = await open_stream(key, session_id, cursor)
    if opened.lease is None or opened.body is None:
        await _answer(send, opened.status, RETRY_SOON if opened.status == 503 else b"Not found")
        return
    lease, body = opened.lease, opened.body
    me = asyncio.current_task()
    gone = False

    async def listen() -> None:  # the one task a stream has besides its own
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        if me is not None:
            me.cancel()

    listener = asyncio.create_task(listen())
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _response_headers(scope, headers),
            }
        )
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except asyncio.CancelledError:
        if not gone or me is None:
            raise
        me.uncancel()  # the client went away: the stream is over, not the server
    finally:
        listener.cancel()
        await body.aclose()  # type: ignore[attr-defined]  # an async generator
        await lease.release()  # a body that never started has no finally of its own


def _release_request_thread() -> None:
    """Give back the request's private sync thread while the stream idles.

    Under ASGI, Django runs sync middleware in a per-request thread (asgiref's
    ThreadSensitiveContext) that lives until the response ends; for a stream that idles for
    minutes that is one parked thread per subscriber. Middleware has run by now, so shut the
    executor down; a later thread-sensitive call (Django's response.close) starts a new one.
    """
    context_var = getattr(SyncToAsync, "thread_sensitive_context", None)
    executors = getattr(SyncToAsync, "context_to_thread_executor", None)
    context = context_var.get(None) if context_var is not None else None
    if context is None or executors is None:
        return
    executor = executors.pop(context, None)
    if executor is not None:
        executor.shutdown(wait=False)


MAX_SEQ = 2**63 - 1  # PostgreSQL's bigint


def _int(value) -> int:
    try:
        return min(max(0, int(value)), MAX_SEQ)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------- index and demo
@login_required
@require_http_methods(["GET", "POST"])
def index(request):
    memberships = list(Membership.objects.filter(user=request.user).select_related("team"))
    if request.method == "POST":
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can start a demo.")
        team = get_object_or_404(Team, slug=request.POST.get("team", ""))
        membership = next((m for m in memberships if m.team_id == team.pk), None)
        if membership is None:
            raise Http404("No such team")
        if not membership.can_edit:
            raise PermissionDenied("Your role in this team does not allow this.")
        session = services.start_demo(team, request.user)
        return redirect(session)
    sessions = (
        LiveSession.objects.filter(team__in=[m.team_id for m in memberships])
        .select_related("team", "created_by")
        .order_by("-created_at")[:50]
    )
    editable = [m for m in memberships if m.can_edit]
    return render(request, "live/index.html", {"sessions": sessions, "editable": editable})


# --------------------------------------------------------------------------- steering
@require_POST
@live_view
def steer(request: LiveRequest):
    """An editor's instruction: appended to the log as a `steer` event every tab sees (the
    worker picks it up at the next token boundary), or after the end a follow-up turn.
    htmx gets the steer form back (emptied, or with the error and the text as typed)."""
    session = request.live_session
    form = SteerForm(request.POST)
    error = ""
    outcome = None
    if form.is_valid():
        try:
            outcome = services.steer(session.pk, form.cleaned_data["text"], request.user)
        except services.SteerRefused as refused:
            error = str(refused)
    else:
        error = str(form.errors["text"][0])
    if not request.htmx:
        if error:
            return JsonResponse({"error": error}, status=400)
        assert outcome is not None
        if outcome.follow_up is not None:
            return redirect(outcome.next_url or outcome.follow_up.get_absolute_url())
        assert outcome.event is not None
        return JsonResponse({"seq": outcome.event.seq}, status=202)
    context = {
        "session": session,
        "can_steer": True,
        "steer_error": error,
        "steer_text": request.POST.get("text", "") if error else "",
        "steer_sent": form.cleaned_data.get("text", "") if outcome else "",
    }
    response = render(request, "live/session.html#steer", context, status=400 if error else 200)
    if outcome is not None and outcome.follow_up is not None:
        response["HX-Trigger"] = "live-follow-up"
    return response
