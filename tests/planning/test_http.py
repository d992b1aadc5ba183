"""planning.http.render_form: the one way a form page answers (whole page or htmx partial)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from planning.http import render_form
from planning.teams.forms import TeamForm
from tests.factories import UserFactory

TEMPLATE = "teams/team_form.html"


def _request(htmx: bool = False):
    headers = {"HX-Request": "true"} if htmx else {}
    request = RequestFactory().post("/teams/new/", headers=headers)
    request.htmx = HtmxDetails(request)
    request.user = UserFactory.build()
    return request


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True])
def test_a_refused_form_answers_400_and_htmx_gets_the_partial(htmx):
    form = TeamForm({"name": ""})
    response = render_form(_request(htmx), TEMPLATE, {"form": form, "creating": True})
    body = response.content.decode()
    assert response.status_code == 400
    assert "field-error" in body
    assert ("<html" in body) is not htmx
    if htmx:
        assert body.lstrip().startswith("<form")


@pytest.mark.django_db
def test_an_unbound_form_answers_200_and_status_and_partial_can_be_chosen():
    context = {"form": TeamForm(), "creating": True}
    assert render_form(_request(), TEMPLATE, context).status_code == 200
    whole = render_form(_request(htmx=True), TEMPLATE, context, partial=None, status=409)
    assert whole.status_code == 409 and "<html" in whole.content.decode()
