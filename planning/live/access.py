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
from collections.abc import Callable
from typing import Any, Concatenate, cast, overload

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from planning.teams.models import Membership, Role, may
from planning.teams.tenancy import TeamRequest

from .models import LiveSession


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


def is_member(user_id, team_id) -> bool:
    return Membership.objects.filter(user_id=user_id, team_id=team_id).exists()


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
