"""Tenancy in one place.

`team_view` resolves the team from the URL (`<slug:team>`) and the membership from the user:
a non-member gets 404 (the team's existence is not revealed), a read-only member who tries to
change anything gets 403. The team's time zone is active for the whole view, so every time a
team page shows is on the team's clock. Views then reach objects only through
`Model.objects.for_team(request.team)` (models.TeamScopedQuerySet) or
`team_get_object_or_404`, built on it, so another team's object is always a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, cast, overload

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from planning.http import SignedInRequest

from .models import Membership, Role, Team, TeamScopedQuerySet, may


class TeamRequest(SignedInRequest):
    """The request a team-scoped view receives (from `team_view` or `live_view`): a signed-in
    user, the team of the URL and the user's membership in it."""

    team: Team
    membership: Membership


type TeamViewFunc = Callable[Concatenate[TeamRequest, ...], HttpResponseBase]
type UrlViewFunc = Callable[Concatenate[HttpRequest, str, ...], HttpResponseBase]


def resolve_membership(user, slug: str) -> Membership:
    if not user.is_authenticated:
        raise Http404("No such team")
    try:
        return Membership.objects.select_related("team").get(team__slug=slug, user=user)
    except Membership.DoesNotExist:
        raise Http404("No such team") from None


@overload
def team_view(view: TeamViewFunc, /) -> UrlViewFunc: ...
@overload
def team_view(
    *, role: str | None = None, write_role: str = "editor"
) -> Callable[[TeamViewFunc], UrlViewFunc]: ...
def team_view(
    view: TeamViewFunc | None = None, *, role: str | None = None, write_role: str = "editor"
) -> UrlViewFunc | Callable[[TeamViewFunc], UrlViewFunc]:
    """Decorate a view that takes `team` (the slug) as its first URL kwarg.

    role:       minimum role for every method (default viewer).
    write_role: minimum role for unsafe methods (default editor).
    """

    def decorator(func: TeamViewFunc) -> UrlViewFunc:
        @functools.wraps(func)
        def wrapper(
            http_request: HttpRequest, team: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            request = cast(TeamRequest, http_request)  # .team and .membership are set below
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = resolve_membership(request.user, team)
            if membership.team.require_2fa and not has_two_factor(request.user):
                return two_factor_setup_redirect(request, membership.team)
            method = request.method or ""
            if not may(membership.role, method, role=role or Role.VIEWER, write_role=write_role):
                raise PermissionDenied("Your role in this team does not allow this.")
            request.team = membership.team
            request.membership = membership
            if request.session.get("last_team") != membership.team.slug:
                # only when it changes: assigning marks the session modified, and every team
                # page (polls included) would otherwise write the session row again
                request.session["last_team"] = membership.team.slug
            # Every time on a team page is on the team's clock ({% now %}, |date, forms).
            with timezone.override(membership.team.tz):
                return func(request, *args, **kwargs)

        # A marker for the test that every team URL is behind this decorator.
        wrapper.team_view = True  # type: ignore[attr-defined]  # a marker on the function
        return wrapper

    if view is not None:
        return decorator(view)
    return decorator


def has_two_factor(user) -> bool:
    """Whether the user has an authenticator app (TOTP) set up."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def two_factor_setup_redirect(request: HttpRequest, team: Team) -> HttpResponse:
    """Send a member of a team that requires two-factor authentication to set it up first."""
    messages.warning(
        request,
        f"{team.name} requires two-factor authentication. Set up an authenticator app to "
        "open its pages.",
    )
    return redirect("mfa_activate_totp")


def team_get_object_or_404[M: Model](
    request_or_team: TeamRequest | Team, model_or_qs: type[M] | QuerySet[M], **lookup: Any
) -> M:
    """The object of the team that `lookup` finds, or 404 (also for another team's object).
    `model_or_qs` is a model or queryset whose manager is a TeamScopedQuerySet."""
    team = request_or_team if isinstance(request_or_team, Team) else request_or_team.team
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    return get_object_or_404(cast(TeamScopedQuerySet, qs).for_team(team), **lookup)
