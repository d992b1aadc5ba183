"""The one role rule that team pages, live sessions and the API share."""

from __future__ import annotations

import pytest

from planning.teams.models import Role, may, required_role

V, E, OWN = Role.VIEWER, Role.EDITOR, Role.OWNER


@pytest.mark.parametrize(
    ("method", "role", "write_role", "required"),
    [
        ("GET", V, E, V),
        ("HEAD", V, E, V),
        ("options", V, E, V),
        ("POST", V, E, E),
        ("DELETE", V, E, E),
        ("POST", V, V, V),  # a viewer may post (reading a notification)
        ("GET", OWN, OWN, OWN),  # an owners' page
        ("POST", V, OWN, OWN),
        ("POST", OWN, E, OWN),  # a write role below the page's role changes nothing
    ],
)
def test_required_role(method, role, write_role, required):
    assert required_role(method, role=role, write_role=write_role) == required


def test_may_ranks_roles():
    assert may(V, "GET") and not may(V, "POST")
    assert may(E, "POST") and may(OWN, "POST")
    assert not may(E, "POST", write_role=OWN) and may(OWN, "PATCH", write_role=OWN)
    assert not may(E, "GET", role=OWN)
