"""Steering a live session: the steer view (roles, CSRF, tenancy, length), the log event every
tab sees, and the writer's side (steers taken in order, each once; no end while one waits)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from planning.live import notify, services
from planning.live.models import LiveEvent, Status
from planning.live.summary import describe
from planning.live.writer import LiveWriter, Steered
from tests.conftest import wait_for

KIND = "steer-test"


@pytest.fixture(autouse=True)
def _steerable_kind():
    services.register_steerable(KIND)
    yield
    services._STEERABLE.pop(KIND, None)


@pytest.fixture
def session(team, owner):
    session = services.create_session(team, kind=KIND, title="Steer test", user=owner)
    LiveWriter.claim(session.pk)
    return session


def steer_url(session):
    return reverse("live:steer", kwargs={"session_id": session.pk})


def steers_of(session):
    return list(
        LiveEvent.objects.filter(session=session, type="steer")
        .order_by("seq")
        .values_list("seq", "data")
    )


@pytest.mark.django_db(transaction=True)  # commits: the Redis counter is bumped
def test_an_editor_steers_a_running_session_and_every_tab_sees_it(session, editor, editor_client):
    response = editor_client.post(steer_url(session), {"text": "  focus on\nthe security risk "})
    assert response.status_code == 202
    [(seq, data)] = steers_of(session)
    assert response.json() == {"seq": seq}
    assert data == {"text": "focus on the security risk", "by": editor.display_name}
    said = f"Steer from {editor.display_name}: “focus on the security risk”"
    assert describe("steer", data) == said
    assert describe("steer", data | {"revision": True}).startswith("Revision asked by ")
    assert notify.steer_count(session.pk) == 1  # the worker's fast check

    page = editor_client.post(
        steer_url(session), {"text": "shorter"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Sent “shorter”" in page and 'name="text" value=""' in page  # emptied for the next
    assert [d["text"] for _, d in steers_of(session)] == ["focus on the security risk", "shorter"]


@pytest.mark.django_db(transaction=True)
def test_viewers_403_other_teams_404_and_csrf_is_required(
    session, editor, viewer_client, outsider_client
):
    assert viewer_client.post(steer_url(session), {"text": "shorter"}).status_code == 403
    assert outsider_client.post(steer_url(session), {"text": "shorter"}).status_code == 404
    assert Client().post(steer_url(session), {"text": "shorter"}).status_code == 404  # anonymous
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    assert strict.post(steer_url(session), {"text": "shorter"}).status_code == 403
    assert viewer_client.get(steer_url(session)).status_code == 405
    assert not steers_of(session)


@pytest.mark.django_db(transaction=True)
def test_bad_instructions_get_a_clear_error_and_nothing_is_appended(session, editor_client):
    long = "x" * (services.STEER_MAX_CHARS + 1)
    response = editor_client.post(steer_url(session), {"text": long})
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"This is {len(long)} characters long; the limit is 300. Shorten it."
    )
    page = editor_client.post(steer_url(session), {"text": long}, headers={"HX-Request": "true"})
    body = page.content.decode()
    assert page.status_code == 400 and "the limit is 300" in body and f'value="{long}"' in body
    for text in ("", "   \n ", "a\x00b"):
        assert editor_client.post(steer_url(session), {"text": text}).status_code == 400
    assert editor_client.post(steer_url(session), {}).json()["error"].startswith("Write an")
    assert not steers_of(session)


@pytest.mark.django_db(transaction=True)
def test_steers_are_capped_stopping_and_ended_sessions_refuse(session, team, editor, editor_client):
    for n in range(services.STEERS_PER_SESSION):
        assert editor_client.post(steer_url(session), {"text": f"s{n}"}).status_code == 202
    refused = editor_client.post(steer_url(session), {"text": "one more"})
    assert refused.status_code == 400 and "the most it takes" in refused.json()["error"]

    other = services.create_session(team, kind=KIND)
    services.request_cancel(other.pk, editor)
    assert "stopping" in editor_client.post(steer_url(other), {"text": "x"}).json()["error"]
    ended = services.create_session(team, kind=KIND)
    services.end_session(ended.pk, Status.COMPLETED)
    response = editor_client.post(steer_url(ended), {"text": "x"})
    assert response.status_code == 400 and "has ended" in response.json()["error"]
    demo = services.create_session(team, kind="demo")
    assert "cannot be steered" in editor_client.post(steer_url(demo), {"text": "x"}).json()["error"]
    assert not LiveEvent.objects.filter(session__in=[other, ended, demo], type="steer").exists()


@pytest.mark.django_db(transaction=True)
def test_the_writer_takes_steers_in_order_once_and_cannot_end_past_one(session, editor):
    w = LiveWriter(session.pk, 1)
    assert not w.steer_waiting()
    first = services.steer(session.pk, "first", editor).event
    second = services.steer(session.pk, "second", editor).event
    assert wait_for(w.steer_waiting, 5)  # the Redis counter moved (read at most every 50 ms)
    w.token("some text ")
    with pytest.raises(Steered):  # a steer not taken: the session does not end
        w.finish(Status.COMPLETED, unless_steered=True)
    assert not w.closed and session.events.filter(type="completed").count() == 0
    assert [r.seq for r in w.take_steers()] == [first.seq, second.seq]
    assert w.take_steers() == [] and not w.steer_waiting()
    third = services.steer(session.pk, "third", editor).event
    assert [r.data["text"] for r in w.take_steers()] == ["third"] and w.steer_cursor == third.seq
    assert w.finish(Status.COMPLETED, before=[("result", {})], unless_steered=True) is True
    types = list(session.events.order_by("seq").values_list("type", flat=True))
    assert types[-2:] == ["result", "completed"]
    assert [e.data["text"] for e in session.events.filter(type="token")] == ["some text "]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_writer_sees_the_steers_sent_before_it(session, editor):
    services.steer(session.pk, "before the crash", editor)
    again = LiveWriter.claim(session.pk)  # a redelivery: cursor 0, first look reads the log
    assert again.steer_waiting()
    assert [r.data["text"] for r in again.take_steers()] == ["before the crash"]


@pytest.mark.django_db(transaction=True)
def test_a_steer_is_shown_as_text_and_costs_a_constant_number_of_queries(
    session, editor_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = editor_client.post(
            steer_url(session), {"text": "<b>bold</b> & “quoted”"}, headers={"HX-Request": "true"}
        )
    body = response.content.decode()
    assert response.status_code == 200 and "<b>bold</b>" not in body
    assert "Sent “&lt;b&gt;bold&lt;/b&gt; &amp; “quoted””" in body
    [(_, data)] = steers_of(session)
    assert data["text"] == "<b>bold</b> & “quoted”"  # stored as typed; escaped when shown


@pytest.mark.django_db(transaction=True)
def test_the_session_page_offers_the_steer_box_to_editors_of_steerable_work(
    session, team, editor_client, viewer_client
):
    assert "Steer while it writes" in editor_client.get(session.get_absolute_url()).content.decode()
    assert (
        "Steer while it writes"
        not in viewer_client.get(session.get_absolute_url()).content.decode()
    )
    demo = services.create_session(team, kind="demo")
    assert (
        "Steer while it writes" not in editor_client.get(demo.get_absolute_url()).content.decode()
    )
