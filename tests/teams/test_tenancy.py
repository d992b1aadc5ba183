"""Every page under /t/<team>/ answers 404 to a non-member and 403 to a viewer's change.

The URL patterns are walked, not listed, so a page added later cannot forget tenancy.
"""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

SAMPLE = {"int": "1", "uuid": str(uuid.uuid4()), "slug": "x", "str": "x", "path": "x"}
SAMPLE_BY_NAME = {"quarter": "2026-Q1", "year_quarter": "2026-Q1"}


def _walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route, p


def team_routes():
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("t/<slug:team>/"):
            routes.append((route, pattern))
    return routes


def fill(route: str, team_slug: str) -> str:
    def sub(match):
        conv, name = match.group(1) or "str", match.group(2)
        if name == "team":
            return team_slug
        return SAMPLE_BY_NAME.get(name, SAMPLE.get(conv, "x"))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", sub, route).replace("^", "").replace("$", "")


def test_there_are_team_routes_to_walk():
    assert len(team_routes()) >= 5


def test_every_team_url_is_404_for_a_non_member(team, outsider_client):
    for route, _pattern in team_routes():
        url = fill(route, team.slug)
        for method in ("get", "post"):
            response = getattr(outsider_client, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url} -> {response.status_code}"


def test_every_team_url_is_404_for_unknown_team(outsider_client):
    for route, _pattern in team_routes():
        url = fill(route, "no-such-team")
        assert outsider_client.get(url).status_code == 404, url


def test_every_team_url_refuses_a_viewers_change(team, viewer_client):
    for route, pattern in team_routes():
        if getattr(pattern.callback, "viewer_may_post", False):
            continue
        url = fill(route, team.slug)
        response = viewer_client.post(url)
        assert response.status_code == 403, f"POST {url} as viewer -> {response.status_code}"


def test_every_team_view_uses_the_tenancy_decorator():
    for route, pattern in team_routes():
        callback = pattern.callback
        view = getattr(callback, "view_class", None)
        assert getattr(callback, "team_view", False) or getattr(view, "team_view", False), route


def test_a_team_page_writes_the_session_only_when_the_team_changes(team, owner, owner_client):
    """The session remembers the last team (the chooser opens it); a page of the same team,
    an htmx poll included, does not write the session row again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests.factories import TeamFactory

    url = reverse("predictions:metric_list", kwargs={"team": team.slug})

    def session_writes() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(url).status_code == 200
        return sum(
            1 for q in ctx.captured_queries
            if q["sql"].startswith(("UPDATE", "INSERT")) and "django_session" in q["sql"]
        )  # fmt: skip

    assert session_writes() == 1  # the first visit remembers the team
    assert session_writes() == 0
    other = TeamFactory()
    other.memberships.create(user=owner, role="owner")
    assert owner_client.get(reverse("predictions:metric_list", kwargs={"team": other.slug}))
    assert owner_client.session["last_team"] == other.slug
    assert session_writes() == 1  # back to the first team: remembered again
