"""Tenancy for live sessions, in the style of `planning.teams.tenancy`.

Live URLs (/live/<uuid>/…) carry no team slug, so the team comes from the session itself:
the user must be a member of the session's team (else 404, the session's existence is not
revealed), and changes (cancel) need an editor (else 403). One query answers both.

    session, membership = live_session_for(request.user, session_id, method="POST")

`live_view` is the decorator for synchronous views taking `session_id`; it sets
`request.live_session`, `request.team` and `request.membership` like `team_view` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Concatenate, cast, overload
from uuid import UUID

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from planning.teams.models import Membership, Role, may
from planning.teams.tenancy import TeamRequest

from .hub import Frame, frame
from .models import LiveEvent, LiveSession


def live_session_for(
    user, session_id, *, method: str = "GET", write_role: str = Role.EDITOR
) -> tuple[LiveSession, str]:
    """The session and the user's role in its team: 404 for non-members, 403 when the role
    does not allow `method` (teams.models.required_role: changes need `write_role`)."""
    if user is None or not user.is_authenticated:
        raise Http404("No such live session")
    membership = Membership.objects.filter(team=OuterRef("team"), user=user).values("role")[:1]
    session = (
        LiveSession.objects.select_related("team")
        .annotate(member_role=Subquery(membership))
        .filter(pk=session_id, member_role__isnull=False)
        .first()
    )
    if session is None:
        raise Http404("No such live session")
    if not may(session.member_role, method, write_role=write_role):
        raise PermissionDenied("Your role in this team does not allow this.")
    return session, session.member_role


class LiveRequest(TeamRequest):
    """The request a `live_view` receives: the session of the URL, its team, the membership."""

    live_session: LiveSession


type LiveViewFunc = Callable[Concatenate[LiveRequest, ...], HttpResponseBase]
type UrlViewFunc = Callable[Concatenate[HttpRequest, Any, ...], HttpResponseBase]


@overload
def live_view(view: LiveViewFunc, /) -> UrlViewFunc: ...
@overload
def live_view(*, write_role: str = Role.EDITOR) -> Callable[[LiveViewFunc], UrlViewFunc]: ...
def live_view(
    view: LiveViewFunc | None = None, *, write_role: str = Role.EDITOR
) -> UrlViewFunc | Callable[[LiveViewFunc], UrlViewFunc]:
    """Decorate a sync view taking `session_id`: viewers may read, `write_role` may change."""

    def decorator(func: LiveViewFunc) -> UrlViewFunc:
        @functools.wraps(func)
        def wrapper(
            http_request: HttpRequest, session_id: Any, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            request = cast(LiveRequest, http_request)  # the session and team are set below
            if not request.user.is_authenticated:
                if request.method == "GET" and not request.path.endswith(("/events", "/log")):
                    return redirect_to_login(request.get_full_path())
                raise Http404("No such live session")
            session, role = live_session_for(
                request.user, session_id, method=request.method or "", write_role=write_role
            )
            request.live_session = session
            request.team = session.team
            request.membership = Membership(team=session.team, user=request.user, role=role)
            return func(request, *args, **kwargs)

        return wrapper

    if view is not None:
        return decorator(view)
    return decorator


# --------------------------------------------------------------------------- SSE subscribers
# New streams arrive in bursts (a deploy reconnects every client at once), so they are
# authorised in batches: everything that arrived while the previous batch was in the database
# is answered by the next one, in one pool-thread call of a few queries, whatever its size.
# The rules are Django's own: the session cookie must name a live login session whose user
# (still active, password unchanged) a configured backend returns (django.contrib.auth's
# get_user), and that user must be a member of the live session's team; otherwise the
# subscriber is refused like an outsider (404).
DB_SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
READ_LIMIT = 500  # frames read for a new subscriber; the stream reads on from the hub after


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A subscriber to authorise: its login session key (the cookie), the live session, its
    cursor, and whether to read the log after the cursor (the hub's buffer does not cover it)."""

    session_key: str | None
    session_id: str
    cursor: int = 0
    read: bool = False


@dataclass(frozen=True, slots=True)
class StreamGrant:
    user_id: Any
    team_id: Any
    state: Mapping[str, Any]  # last_seq, status, compacted_through of the live session
    # The log after the lowest cursor of the batch for this session (the stream skips what
    # it has), when asked to read and the read reached past this request's cursor.
    frames: list[Frame] | None


def valid_session_key(key: str | None) -> str | None:
    """The cookie's value if it can be a session key (Django's: 32 of [a-z0-9]); else None."""
    if key and 8 <= len(key) <= 40 and SESSION_KEY_CHARS.issuperset(key):
        return key
    return None


def _login_sessions(keys: set[str]) -> dict[str, Mapping[str, Any]]:
    """The unexpired login sessions among `keys`, decoded (one query with the db engine)."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if settings.SESSION_ENGINE != DB_SESSION_ENGINE:  # cache, cached_db, signed cookies…
        return {key: data for key in keys if (data := store_class(key).load())}
    rows = (
        store_class.get_model_class()
        .objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
    )
    return {key: store_class(key).decode(data) for key, data in rows}


def _session_verified(user, session: Mapping[str, Any]) -> bool:
    """django.contrib.auth.get_user's check: the session's hash of the user's password."""
    if not hasattr(user, "get_session_auth_hash"):
        return True
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    return any(
        constant_time_compare(session_hash, h) for h in user.get_session_auth_fallback_hash()
    )


def logged_in_users(keys: set[str]) -> dict[str, Any]:
    """The user each login session key belongs to, by the rules of django.contrib.auth's
    get_user (a key without a verified, active user is left out); users of the usual
    backends are loaded in one query."""
    user_model = get_user_model()
    claims: dict[str, tuple[Any, str, Mapping[str, Any]]] = {}
    for key, session in _login_sessions(keys).items():
        try:
            user_id = user_model._meta.pk.to_python(session[SESSION_KEY])
            backend_path = session[BACKEND_SESSION_KEY]
        except (KeyError, ValidationError):
            continue
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            claims[key] = (user_id, backend_path, session)
    batched = {
        path
        for _, path, _ in claims.values()
        if type(load_backend(path)).get_user is ModelBackend.get_user
    }
    loaded = {
        u.pk: u
        for u in user_model._default_manager.filter(
            pk__in={uid for uid, path, _ in claims.values() if path in batched}
        )
    }
    users: dict[str, Any] = {}
    for key, (user_id, path, session) in claims.items():
        backend: Any = load_backend(path)  # a ModelBackend when `path in batched`
        if path in batched:
            user = loaded.get(user_id)
            user = user if user is not None and backend.user_can_authenticate(user) else None
        else:
            user = backend.get_user(user_id)
        if user is not None and _session_verified(user, session):
            users[key] = user
    return users


def authorise_streams(requests: Sequence[StreamRequest]) -> list[StreamGrant | None]:
    """Answer a batch of new (or re-checked) subscribers in a few queries: a grant with the
    session's state (and the log after the cursor when asked), or None (refused: 404)."""
    users = logged_in_users({r.session_key for r in requests if r.session_key})
    asked = {r.session_id for r in requests if r.session_key in users and _is_uuid(r.session_id)}
    states = {
        str(s["id"]): s
        for s in LiveSession.objects.filter(pk__in=asked).values(
            "id", "team_id", "last_seq", "status", "compacted_through"
        )
    }
    members = set(
        Membership.objects.filter(
            team_id__in={s["team_id"] for s in states.values()},
            user_id__in={u.pk for u in users.values()},
        ).values_list("team_id", "user_id")
    )
    granted: list[tuple[Any, Mapping[str, Any]] | None] = []
    for r in requests:
        user, state = users.get(r.session_key or ""), states.get(r.session_id)
        if user is not None and state is not None and (state["team_id"], user.pk) in members:
            granted.append((user.pk, state))
        else:
            granted.append(None)
    reads: dict[str, int] = {}
    for r, g in zip(requests, granted, strict=True):
        if g is not None and r.read:
            reads[r.session_id] = min(reads.get(r.session_id, r.cursor), r.cursor)
    logs = {sid: _read_frames(sid, after) for sid, after in reads.items()}
    out: list[StreamGrant | None] = []
    for r, g in zip(requests, granted, strict=True):
        if g is None:
            out.append(None)
            continue
        user_id, found = g
        frames = logs[r.session_id] if r.read else None
        if frames is not None and len(frames) == READ_LIMIT and frames[-1].seq <= r.cursor:
            frames = None  # read from a lower cursor in the batch, not far enough: it reads on
        out.append(StreamGrant(user_id, found["team_id"], found, frames))
    return out


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _read_frames(session_id: str, after: int) -> list[Frame]:
    rows = LiveEvent.objects.filter(session_id=UUID(session_id), seq__gt=after).order_by("seq")
    return [frame(r.seq, r.type, r.data) for r in rows[:READ_LIMIT]]
