"""The session page, the index with the staff-only demo button, and the live_demo command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from planning.live import services
from planning.live.models import LiveSession
from planning.live.writer import LiveWriter

pytestmark = pytest.mark.django_db


def test_session_page_renders_the_snapshot_and_stream_cursor(
    team, owner, viewer_client, django_assert_max_num_queries
):
    session = services.create_session(team, kind="demo", title="Drafting", user=owner)
    w = LiveWriter.claim(session.pk)
    w.token("Hello <b>world</b>")
    w.flush()
    w.emit("progress", {"done": 1, "total": 2})
    with django_assert_max_num_queries(8):
        response = viewer_client.get(session.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-live-after="3"' in html
    assert "Hello &lt;b&gt;world&lt;/b&gt;" in html  # escaped
    assert "js/live.js" in html and "data-live-stop" not in html  # viewers get no Stop


def test_editor_sees_stop_and_outsider_gets_404(team, owner, editor_client, outsider_client):
    session = services.create_session(team, kind="demo", user=owner)
    assert "data-live-stop" in editor_client.get(session.get_absolute_url()).content.decode()
    assert outsider_client.get(session.get_absolute_url()).status_code == 404
    assert outsider_client.get(session.log_url).status_code == 404


def test_log_returns_events_after_the_cursor(team, owner, editor_client):
    session = services.create_session(team, kind="demo", user=owner)
    w = LiveWriter.claim(session.pk)
    w.emit("progress", {"done": 1})
    body = editor_client.get(session.log_url + "?after=1").json()
    assert body["last_seq"] == 2 and [e["seq"] for e in body["events"]] == [2]


def test_demo_button_is_for_staff_only(team, editor, editor_client):
    assert "Start a demo session" not in editor_client.get("/live/").content.decode()
    assert editor_client.post("/live/", {"team": team.slug}).status_code == 403
    editor.is_staff = True
    editor.save()
    assert "Start a demo session" in editor_client.get("/live/").content.decode()
    response = editor_client.post("/live/", {"team": team.slug})
    session = LiveSession.objects.get(team=team, kind="demo")
    assert response.status_code == 302 and response["Location"] == session.get_absolute_url()


def test_live_demo_command_starts_a_session(team):
    out = StringIO()
    call_command("live_demo", "--team", team.slug, "--words", "5", stdout=out)
    session = LiveSession.objects.get(team=team, kind="demo")
    assert str(session.pk) in out.getvalue()
