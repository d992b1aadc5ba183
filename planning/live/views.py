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

from asgiref.sync import SyncToAsync
from django.contrib.auth import get_user
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning.teams.models import Membership, Team

from . import conf, services
from .access import LiveRequest, is_member, live_session_for, live_view
from .forms import SteerForm
from .hub import control, db, get_hub, read_log
from .models import TERMINAL, LiveEvent, LiveSession


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


def _open(request, session_id, cursor: int, read: bool):
    """Authorise the subscriber and (unless the hub's buffer covers it) read the log after
    the cursor: one pool-thread call on one pooled connection (`db`)."""
    user = get_user(request)
    session, _role = live_session_for(user, session_id)
    first = read_log(session.pk, cursor) if read else None
    return user.pk, session.team_id, first


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


class EventStreamResponse(StreamingHttpResponse):
    def __init__(self, content, lease: _Lease) -> None:
        super().__init__(content, content_type="text/event-stream")
        self.lease = lease

    def close(self) -> None:
        self.lease.release_soon()
        super().close()


async def events(request, session_id):
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    cursor = max(_int(request.headers.get("Last-Event-ID")), _int(request.GET.get("after")))
    hub = get_hub()
    if hub.closing:  # shutting down: come back (to another process) in a second
        return HttpResponse(b"retry: 1000\n\n", status=503, content_type="text/event-stream")
    # Watch before reading, so that nothing published after the read is missed.
    watch = await hub.watch(session_id)
    lease = _Lease(hub, watch)
    try:
        user_id, team_id, first = await db(_open)(
            request, session_id, cursor, watch.after(cursor) is None
        )
    except BaseException:
        await lease.release()
        raise
    response = EventStreamResponse(_stream(hub, lease, cursor, user_id, team_id, first), lease)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(hub, lease: _Lease, cursor: int, user_id, team_id, first):
    """Replay after the cursor, then tail. Waits only on the session's watch, which the hub
    wakes on a new seq, on its clock (heartbeat, deadline, membership check) and on shutdown."""
    loop = asyncio.get_running_loop()
    watch = lease.watch
    session_id = watch.session_id
    read = db(read_log)
    still_member = db(is_member)
    now = loop.time()
    deadline = now + conf.max_stream_seconds()
    next_check = now + conf.recheck_seconds()
    tick = hub.ticks
    try:
        _release_request_thread()
        yield b"retry: 1000\n: open\n\n"
        while True:
            changed = watch.changed()
            if hub.closing:
                return  # the client reconnects (to another process) from its cursor
            frames = watch.after(cursor)
            if first is not None or frames is None:
                if first is not None:
                    (frames, state), first = first, None
                else:
                    frames, state = await read(session_id, cursor)
                if state is None:
                    yield control("end", {"status": "gone"})
                    return
                watch.add(frames)
                watch.saw(state["last_seq"], state)
            state = watch.state or {}
            if 0 < cursor < state.get("compacted_through", 0):
                yield control("reset", {"reason": "compacted", "after": 0})
                return
            for f in frames:
                if f.seq <= cursor:
                    continue
                yield f.payload
                cursor = f.seq
                if f.terminal:
                    yield control("end", {"status": f.type, "seq": f.seq})
                    return
            if frames:
                continue
            if state.get("status") in TERMINAL and cursor >= watch.last_seq:
                yield control("end", {"status": state["status"], "seq": watch.last_seq})
                return
            if hub.ticks != tick:  # the hub's clock: one heartbeat for every stream
                tick = hub.ticks
                now = loop.time()
                if now >= deadline:
                    return  # the client resumes from its cursor
                if now >= next_check:
                    next_check = now + conf.recheck_seconds()
                    if not await still_member(user_id, team_id):
                        yield control("end", {"status": "forbidden"})
                        return
                yield b": ping\n\n"
                continue
            await watch.wait(changed)
    finally:
        await lease.release()


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


def _int(value) -> int:
    try:
        return max(0, int(value))
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
