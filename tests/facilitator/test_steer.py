"""Steering a draft with a real Celery worker and the fake Messages API: a steer mid-stream
ends the model's stream at the next token and the draft continues with the instruction and the
text so far (nothing lost or written twice); several steers apply in order, each once (also
on a redelivery); a steer after the end starts a revision; Stop during a steered continuation
ends it with one terminal event; usage of every turn is on the Draft.

The fake's hold (tests.audits.fake.Gate.hold) pauses every stream after its 3rd text delta,
so a test steers at a known token without sleeping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits import client as model_client
from devtools.fakeapi import chunks_of
from planning.facilitator import services
from planning.facilitator.citations import scripted_draft
from planning.facilitator.models import Draft, FacilitatorSetting
from planning.facilitator.steering import (
    STEER_MARKER,
    Turn,
    messages_for,
    scripted_answer,
    steer_message,
)
from planning.facilitator.tasks import draft_step
from planning.live import notify
from planning.live import services as live
from planning.live.models import TERMINAL, LiveEvent, LiveSession
from planning.live.writer import LiveWriter
from planning.reviews import services as review_services
from tests.audits import fake
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
HOLD = 3


@pytest.fixture
def review(team, owner, sim_model):
    from predictions import demo as predictions_demo

    FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=5)
    predictions_demo.seed(team, owner)
    return review_services.start_review(team, owner)[0]


@pytest.fixture
def gate(fake_api):
    gate = fake.Gate()
    gate.hold(HOLD)
    yield gate
    gate.hold(0)
    gate.open()


def steer(client, session, text, **headers):
    return client.post(reverse("live:steer", args=[session.pk]), {"text": text}, headers=headers)


def log(session):
    return list(LiveEvent.objects.filter(session=session).order_by("seq"))


def tokens(events) -> str:
    return "".join(e.data["text"] for e in events if e.type == "token")


def held(gate, n=1):
    assert wait_for(lambda: gate.held() == n, 30), "the stream never reached the hold"


def finished(session):
    assert wait_for(lambda: LiveSession.objects.get(pk=session.pk).status != "active", 30)


def test_steers_mid_stream_continue_the_draft_in_order_without_losing_text(
    celery_worker_process, gate, review, editor, editor_client
):
    draft = services.start_draft(review, 1, editor)
    session = draft.session
    held(gate)  # the first stream sent 3 deltas and waits
    assert steer(editor_client, session, "focus on the security risk").status_code == 202
    gate.resume()  # one more delta: the worker ends the stream at that token boundary
    held(gate)  # the continuation has sent 3 deltas
    assert steer(editor_client, session, "shorter").status_code == 202
    gate.hold(0)
    finished(session)

    draft.refresh_from_db()
    events = log(session)
    assert draft.status == Draft.Status.READY, draft.error
    assert [e.type for e in events].count("completed") == 1
    assert [e.type for e in events if e.type in TERMINAL] == ["completed"]
    # every token the tabs saw is the draft, once, in order
    assert tokens(events) == draft.text
    # the text is the first stream up to the steer, the first continuation up to the second
    # steer, then the second continuation whole: each cut at a token, nothing repeated
    one, two = (s["at"] for s in draft.steered)
    block = evidence_of(draft)
    full = scripted_draft(block)
    assert full.startswith(draft.text[:one]) and one >= len("".join(chunks_of(full)[: HOLD + 1]))
    assert continuation(block, "focus on the security risk").startswith(draft.text[one:two])
    assert draft.text[two:] == continuation(block, "shorter")
    assert draft.text.count("[Applying “focus") == 1
    assert draft.text.count("[Applying “shorter”]") == 1
    steers = [e for e in events if e.type == "steer"]
    applied = [e for e in events if e.type == "steer_applied"]
    assert [a.data["steer"] for a in applied] == [s.seq for s in steers]
    assert all(s.seq < a.seq for s, a in zip(steers, applied, strict=True))
    assert [s["text"] for s in draft.steered] == ["focus on the security risk", "shorter"]
    # three turns, all billed
    assert draft.turns == 3
    assert draft.output_tokens >= len(chunks_of(draft.text))  # interrupted turns estimated
    assert draft.cost_usd == model_client.cost_of(
        draft.model,
        {"input_tokens": draft.input_tokens, "output_tokens": draft.output_tokens},
    )
    result = next(e for e in events if e.type == "result")
    assert result.data["turns"] == 3 and result.data["output_tokens"] == draft.output_tokens


def evidence_of(draft) -> str:
    from planning.facilitator.citations import evidence_block
    from planning.reviews.models import STEPS

    return evidence_block(STEPS[draft.step - 1][1], draft.review.quarter, draft.items)


def continuation(block: str, instruction: str) -> str:
    """What the fake answers to a continuation steered by `instruction`."""
    ask = steer_message([instruction], drafted=True)
    return scripted_answer(
        [
            {"role": "user", "content": block},
            {"role": "assistant", "content": "The evidence"},
            {"role": "user", "content": ask},
        ]
    )


def test_two_steers_before_the_worker_takes_either_apply_together_in_order(
    celery_worker_process, gate, review, editor, editor_client
):
    draft = services.start_draft(review, 1, editor)
    held(gate)
    for text in ("name the owner", "add a date"):
        assert steer(editor_client, draft.session, text).status_code == 202
    gate.hold(0)
    finished(draft.session)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.READY
    assert draft.text.count("[Applying “name the owner”] [Applying “add a date”]") == 1
    assert draft.turns == 2 and tokens(log(draft.session)) == draft.text


def test_stop_during_a_steered_continuation_ends_it_with_one_terminal_event(
    celery_worker_process, gate, review, editor, editor_client
):
    draft = services.start_draft(review, 1, editor)
    session = draft.session
    held(gate)
    steer(editor_client, session, "focus on the security risk")
    gate.resume()
    held(gate)  # the steered continuation is streaming
    assert editor_client.post(session.cancel_url).status_code == 202
    gate.resume()  # its next token: the worker sees the stop
    finished(session)
    session.refresh_from_db()
    events = log(session)
    assert session.status == "cancelled"
    assert [e.type for e in events if e.type in TERMINAL] == ["cancelled"]
    assert "forced" not in events[-1].data  # the worker obeyed; the watchdog did not end it
    draft.refresh_from_db()
    assert draft.status == Draft.Status.FAILED and draft.error == "Stopped."
    assert draft.text == tokens(events) and draft.text.count("[Applying “focus") == 1
    assert draft.turns == 2 and draft.input_tokens > 0 and draft.cost_usd > 0
    assert steer(editor_client, session, "too late").status_code == 400  # stopped: no revision


def test_a_steer_after_the_end_starts_a_linked_revision(
    celery_worker_process, fake_api, review, editor, editor_client, viewer_client
):
    draft = services.start_draft(review, 1, editor)
    finished(draft.session)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.READY
    assert steer(viewer_client, draft.session, "shorter").status_code == 403

    response = steer(editor_client, draft.session, "shorter", **{"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Trigger"] == "live-follow-up"
    revision = Draft.objects.get(follows=draft)
    assert revision.session_id != draft.session_id
    first = log(revision.session)[0]
    assert (first.type, first.data["text"], first.data["revision"]) == ("steer", "shorter", True)
    finished(revision.session)
    revision.refresh_from_db()
    assert revision.status == Draft.Status.READY
    assert revision.text.startswith("Revised as asked (“shorter”)")
    assert revision.revision_request["text"] == "shorter" and revision.steered == []
    assert revision.turns == 1 and revision.cost_usd > 0
    draft.refresh_from_db()
    assert draft.status == Draft.Status.READY and "Revised" not in draft.text  # kept as it was

    panel = editor_client.get(
        reverse("facilitator:panel", args=[review.team.slug, review.quarter, 1])
    ).content.decode()
    assert "A revision of the draft of" in panel and "“shorter”" in panel
    # without htmx: back to the step
    response = steer(editor_client, revision.session, "add a date")
    assert response.status_code == 302 and response["Location"] == review.step_url(1)
    assert Draft.objects.filter(follows=revision).exists()


def test_a_redelivery_applies_every_steer_once_and_fences_the_old_delivery(
    fake_api, review, editor
):
    """A delivery took one steer and died; the task is redelivered: it starts the text again
    (as every redelivered task does) with both steers, each applied once, in order."""
    session = live.create_session(review.team, kind="review_draft", user=editor)
    draft = Draft.objects.create(  # not started: the task runs below, in this process
        team=review.team, review=review, step=1, session=session, model="sim-claude-4",
        created_by=editor,
    )  # fmt: skip
    old = LiveWriter.claim(session.pk)
    old.token("The evidence ")
    live.steer(session.pk, "first", editor)
    assert [r.data["text"] for r in old.take_steers()] == ["first"]
    old.emit("steer_applied", {"steer": old.steer_cursor, "text": "first"})
    live.steer(session.pk, "second", editor)

    draft_step.apply(args=[draft.pk], task_id="redelivered")
    draft.refresh_from_db()
    session.refresh_from_db()
    assert session.status == "completed" and draft.status == Draft.Status.READY
    events = log(session)
    restart = max(e.seq for e in events if e.type == "started")
    after = [e for e in events if e.seq > restart]
    assert [e.data["text"] for e in after if e.type == "steer_applied"] == ["first", "second"]
    assert tokens(after) == draft.text
    assert draft.text.count("[Applying “first”] [Applying “second”]") == 1
    assert [s["text"] for s in draft.steered] == ["first", "second"]
    with pytest.raises(Exception, match="stale|ended"):
        old.emit("progress", {})


def test_the_conversation_of_a_steered_turn():
    turns = [Turn("The evidence po", ["shorter"], True), Turn("", ["name the owner"], True)]
    messages = messages_for([{"role": "user", "content": "Evidence"}], turns)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "The evidence po"
    assert messages[2]["content"].count(STEER_MARKER) == 2
    assert "- shorter" in messages[2]["content"] and "- name the owner" in messages[2]["content"]
    assert "Continue it from exactly where it stops" in messages[2]["content"]
    before = messages_for([{"role": "user", "content": "Evidence"}], [Turn("", ["shorter"], True)])
    assert [m["role"] for m in before] == ["user"] and "Apply it to the draft" in before[0][
        "content"
    ]


def test_the_steer_box_is_for_editors_and_a_finished_draft_offers_a_revision(
    team, review, editor_client, viewer_client
):
    session = live.create_session(team, kind="review_draft")
    LiveWriter.claim(session.pk)
    draft = Draft.objects.create(team=team, review=review, step=1, session=session)
    url = reverse("facilitator:panel", args=[team.slug, review.quarter, 1])
    assert "Steer while it writes" in editor_client.get(url).content.decode()
    assert "Steer while it writes" not in viewer_client.get(url).content.decode()

    live.end_session(session.pk, "completed")
    Draft.objects.filter(pk=draft.pk).update(status="ready", text="A draft [P1].", turns=2)
    page = editor_client.get(url).content.decode()
    assert "Ask Claude for a revision" in page and "2 model calls" in page
    assert "Ask Claude for a revision" not in viewer_client.get(url).content.decode()
    assert steer(viewer_client, session, "shorter").status_code == 403


def spend(team, review, usd) -> Draft:
    """A finished draft of another step that cost `usd` this month."""
    return Draft.objects.create(
        team=team, review=review, step=2, status="ready", text="Spent [P1].", cost_usd=usd
    )


def test_a_steer_to_a_running_draft_is_refused_once_the_months_budget_is_spent(
    team, review, editor, editor_client
):
    session = live.create_session(team, kind="review_draft", user=editor)
    LiveWriter.claim(session.pk)
    Draft.objects.create(team=team, review=review, step=1, session=session, model="sim-claude-4")
    spent = spend(team, review, "5.00")  # the budget is $5.00: exactly spent
    before = log(session)

    response = steer(editor_client, session, "shorter", **{"HX-Request": "true"})
    assert response.status_code == 400
    assert (
        "Claude cannot take this instruction: this month&#x27;s facilitator budget is spent "
        "($5.00 of $5.00). An owner can raise it in the settings"
    ) in response.content.decode()
    assert 'value="shorter"' in response.content.decode()  # kept as typed
    assert (
        steer(editor_client, session, "shorter")
        .json()["error"]
        .startswith("Claude cannot take this instruction: this month's facilitator budget is spent")
    )
    assert log(session) == before and notify.steer_count(session.pk) == 0  # nothing used

    Draft.objects.filter(pk=spent.pk).update(cost_usd="4.99")  # just below: taken
    assert steer(editor_client, session, "shorter").status_code == 202
    assert [e.data["text"] for e in log(session) if e.type == "steer"] == ["shorter"]
    assert notify.steer_count(session.pk) == 1


def test_a_revision_is_refused_once_the_months_budget_is_spent(
    team, review, editor, editor_client, monkeypatch
):
    queued = []
    monkeypatch.setattr(draft_step, "apply_async", lambda *a, **kw: queued.append(a))
    session = live.create_session(team, kind="review_draft", user=editor)
    LiveWriter.claim(session.pk)
    live.end_session(session.pk, "completed")
    draft = Draft.objects.create(
        team=team, review=review, step=1, session=session, status="ready", text="A draft [P1].",
        cost_usd="1.00",
    )  # fmt: skip
    spent = spend(team, review, "4.00")  # with the draft's own $1.00: exactly $5.00
    before = log(session)

    response = steer(editor_client, session, "shorter", **{"HX-Request": "true"})
    assert response.status_code == 400 and "HX-Trigger" not in response
    assert "budget is spent ($5.00 of $5.00)" in response.content.decode()
    assert Draft.objects.count() == 2 and LiveSession.objects.count() == 1 and not queued
    assert log(session) == before

    Draft.objects.filter(pk=spent.pk).update(cost_usd="3.99")  # $4.99 of $5.00: allowed
    response = steer(editor_client, session, "shorter", **{"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Trigger"] == "live-follow-up"
    revision = Draft.objects.get(follows=draft)
    assert revision.revision_request["text"] == "shorter" and len(queued) == 1


def test_tabs_on_a_finished_draft_poll_until_a_revision_exists_then_link_to_it(
    team, review, owner, editor, viewer_client, outsider_client, django_assert_num_queries,
    monkeypatch,
):  # fmt: skip
    monkeypatch.setattr(draft_step, "apply_async", lambda *a, **kw: None)
    session = live.create_session(team, kind="review_draft", user=owner)
    LiveWriter.claim(session.pk)
    live.end_session(session.pk, "completed")
    draft = Draft.objects.create(
        team=team, review=review, step=1, session=session, status="ready", text="A draft [P1]."
    )
    panel_url = reverse("facilitator:panel", args=[team.slug, review.quarter, 1])
    url = reverse("facilitator:revised", args=[team.slug, draft.pk])
    page = viewer_client.get(panel_url).content.decode()
    assert f'hx-get="{url}" hx-trigger="every 5s"' in page and "Revised by" not in page

    # login session, user, membership and team, the draft, its revision (the session is not
    # written again: the panel's GET above set its team)
    with django_assert_num_queries(5):
        response = viewer_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.content == b""  # htmx keeps polling
    assert outsider_client.get(url).status_code == 404

    revision = services.revise(draft, "shorter", editor)
    response = viewer_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 286  # htmx shows the line and stops polling
    line = response.content.decode()
    assert f"Revised by {editor.display_name} — " in line and "hx-trigger" not in line
    assert f'href="{review.step_url(1)}#draft-panel"' in line and ">open the revision</a>" in line
    page = viewer_client.get(panel_url).content.decode()  # what the link loads: the revision
    assert f'id="live-{revision.session_id}"' in page and "Revised by" not in page

    Draft.objects.filter(pk=revision.pk).update(status="discarded")  # the original is back
    assert viewer_client.get(url).status_code == 204
