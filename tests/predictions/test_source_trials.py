""" "Test the source" off the request (predictions/trials.py): the htmx post queues a task and
answers at once with a partial that polls; the worker's outcome is shown by the poll (286 ends
it); the credential travels encrypted; another user's, team's or metric's test is a 404."""

from __future__ import annotations

import html
import json
import re

import pytest
from celery.signals import before_task_publish
from django.urls import reverse

from planning.teams.models import Membership, Role
from predictions import secrets, tasks, trials
from predictions.models import MetricSource, Observation
from tests.conftest import wait_for
from tests.factories import MetricFactory, TeamFactory
from tests.predictions.sourceserver import SourceServer
from tests.predictions.test_source_views import _form, _url


@pytest.fixture
def metric(team, owner):
    return MetricFactory(team=team, created_by=owner, name="SWE-bench %", unit="%", scale="linear")


@pytest.fixture
def server(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the source listens on 127.0.0.1
    with SourceServer() as s:
        yield s


@pytest.fixture
def queued(monkeypatch):
    """The task's messages, kept here instead of sent: tests run them in-process."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.run_source_test, "delay", lambda *args: calls.append(args))
    return calls


def _start(client, metric, url, **over):
    response = client.post(_url(metric, "source_test"), _form(url, **over), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    text = response.content.decode()
    found = re.search(r'hx-get="([^"]+)" hx-trigger="every 1s"', text)
    assert found, text
    return html.unescape(found.group(1)), text


def _poll(client, url):
    return client.get(url, HTTP_HX_REQUEST="true")


@pytest.mark.django_db(transaction=True)
def test_the_worker_fetches_and_the_poll_shows_the_rows_the_credential_travels_encrypted(
    metric, editor_client, server, celery_worker_process
):
    published: list[tuple[str, str]] = []

    def record(sender=None, body=None, headers=None, **kwargs):
        published.append((sender, json.dumps([body, headers], default=str)))

    before_task_publish.connect(record, weak=False, dispatch_uid="record-source-test")
    try:
        poll, text = _start(
            editor_client, metric, server.url("/auth"), header_name="X-Token", header_value="s3cret"
        )
    finally:
        before_task_publish.disconnect(dispatch_uid="record-source-test")
    assert "Fetching 127.0.0.1… this can take up to 10 s." in text
    assert re.search(r"<button[^>]*disabled>Save source</button>", text)  # while it runs
    assert [name for name, _ in published] == ["predictions.tasks.run_source_test"]
    message = published[0][1]
    assert "s3cret" not in message
    token = json.loads(message)[0][0][1]["header_value_encrypted"]
    assert secrets.decrypt(token) == "s3cret"  # encrypted, as stored at rest

    done = wait_for(lambda: (r := _poll(editor_client, poll)).status_code == 286 and r, 20)
    assert done, "the worker never reported back"
    shown = done.content.decode()
    assert "2 rows read" in shown and "2026-02-01" in shown and "62.5%" in shown
    assert "every 1s" not in shown
    assert re.search(r'id="source-buttons" hx-swap-oob="true"', shown)  # buttons back
    assert " disabled>" not in shown
    assert server.headers["/auth"]["x-token"] == "s3cret"  # the worker decrypted it
    assert not MetricSource.objects.exists() and not Observation.objects.exists()


def test_the_poll_is_for_its_user_team_and_metric_only(
    metric, team, editor, editor_client, owner_client, outsider_client, server, queued
):
    poll, _ = _start(editor_client, metric, server.url("/csv"))
    pending = _poll(editor_client, poll)
    assert pending.status_code == 200 and "Fetching 127.0.0.1" in pending.content.decode()
    trial_id = poll.rstrip("/").rsplit("/", 1)[1]

    assert _poll(owner_client, poll).status_code == 404  # same team, another user
    assert _poll(outsider_client, poll).status_code == 404
    other_metric = MetricFactory(team=team, name="Other", unit="%", scale="linear")
    assert (
        _poll(
            editor_client, _url(other_metric, "source_test_result", trial_id=trial_id)
        ).status_code
        == 404
    )
    other_team = TeamFactory(name="Other Team", slug="other-team")
    Membership.objects.create(team=other_team, user=editor, role=Role.EDITOR)
    elsewhere = MetricFactory(team=other_team, name="Elsewhere", unit="%", scale="linear")
    assert (
        _poll(editor_client, _url(elsewhere, "source_test_result", trial_id=trial_id)).status_code
        == 404
    )
    for hostile in ("nope", "x" * 65, "a" * 24, "-_-"):
        assert (
            _poll(editor_client, _url(metric, "source_test_result", trial_id=hostile)).status_code
            == 404
        )
    base = reverse("predictions:source_test", kwargs={"team": team.slug, "pk": metric.pk})
    for hostile in ("..%2F..%2F", "%E2%80%AE"):
        assert _poll(editor_client, f"{base}{hostile}/").status_code == 404

    assert trials.run(*queued[0]) == "done"  # what the worker does
    done = _poll(editor_client, poll)
    assert done.status_code == 286 and "2 rows read" in done.content.decode()
    assert _poll(owner_client, poll).status_code == 404  # still not theirs once done


def test_a_stored_credential_is_passed_as_stored_and_a_failure_is_said_in_words(
    metric, editor_client, server, queued
):
    source = MetricSource.objects.create(
        metric=metric, url=server.url("/auth"), date_field="date", value_field="score",
        header_name="X-Token", header_value_encrypted=secrets.encrypt("s3cret"),
    )  # fmt: skip
    poll, _ = _start(editor_client, metric, server.url("/auth"), header_name="X-Token")
    args = queued[0]
    assert args[1]["header_value_encrypted"] == source.header_value_encrypted
    assert "s3cret" not in json.dumps(args)
    trials.run(*args)
    assert "2 rows read" in _poll(editor_client, poll).content.decode()

    poll, _ = _start(editor_client, metric, server.url("/fail"))
    assert trials.run(*queued[1]) == "error"
    failed = _poll(editor_client, poll)
    assert failed.status_code == 286
    assert "Nothing could be read." in failed.content.decode()
    assert "The source answered HTTP 500." in failed.content.decode()


def test_a_test_no_worker_takes_stops_waiting(metric, editor_client, server, queued, monkeypatch):
    poll, _ = _start(editor_client, metric, server.url("/csv"))
    assert _poll(editor_client, poll).status_code == 200
    monkeypatch.setattr(trials, "GRACE_SECONDS", -3600.0)  # as if long past the fetch's timeout
    late = _poll(editor_client, poll)
    assert late.status_code == 286 and trials.EXPIRED in late.content.decode()
    assert 'hx-swap-oob="true"' in late.content.decode()  # the buttons come back
