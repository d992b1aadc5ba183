from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from planning.notes.models import Note
from planning.quarters import current_quarter
from planning.reviews import services
from planning.reviews.models import BacklogItem, Commitment, PlanSnapshot, Review, StepNote
from tests.factories import FormFactorFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(team, owner):
    return services.start_review(team, owner)[0]


def url(name, review, **kw):
    return reverse(
        f"reviews:{name}", kwargs={"team": review.team.slug, "quarter": review.quarter, **kw}
    )


def add_notes(item, team, light=True, shade=True):
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(item)
    if light:
        Note.objects.create(team=team, content_type=ct, object_id=item.pk, kind="light", text="up")
    if shade:
        Note.objects.create(team=team, content_type=ct, object_id=item.pk, kind="shade", text="dn")


def test_start_review_for_current_quarter(editor_client, team):
    response = editor_client.post(reverse("reviews:start", kwargs={"team": team.slug}))
    review = Review.objects.get(team=team)
    assert review.quarter == str(current_quarter(team))
    assert response.url == review.step_url(1)
    # Starting again continues the same review.
    editor_client.post(reverse("reviews:start", kwargs={"team": team.slug}))
    assert Review.objects.filter(team=team).count() == 1


def test_review_list_empty_state(viewer_client, team):
    body = viewer_client.get(reverse("reviews:review_list", kwargs={"team": team.slug}))
    assert "No quarterly review yet" in body.content.decode()


@pytest.mark.parametrize("n", range(1, 9))
def test_every_step_renders_with_constant_queries(
    owner_client, review, team, owner, n, django_assert_max_num_queries
):
    for i in range(5):
        item = services.add_backlog_item(review, f"Item {i}")
        add_notes(item, team)
        services.add_commitment(review, owner=owner, what=f"Do {i}", due_date=date(2027, 1, i + 1))
    with django_assert_max_num_queries(16):
        response = owner_client.get(url("step", review, n=n))
    assert response.status_code == 200
    for i in range(20):
        item = services.add_backlog_item(review, f"More {i}")
        add_notes(item, team)
    with django_assert_max_num_queries(16):
        assert owner_client.get(url("step", review, n=n)).status_code == 200


def test_autosave_and_stale_write_refused(editor_client, review):
    first = editor_client.post(url("save_note", review, n=1), {"text": "Mine", "version": 0})
    assert first.status_code == 200
    assert 'name="version" value="1"' in first.content.decode()
    stale = editor_client.post(url("save_note", review, n=1), {"text": "Overwrite", "version": 0})
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "Not saved" in body and "Mine" in body
    assert StepNote.objects.get(review=review, step=1).text == "Mine"
    ok = editor_client.post(url("save_note", review, n=1), {"text": "Mine, edited", "version": 1})
    assert ok.status_code == 200
    assert StepNote.objects.get(review=review, step=1).version == 2


def test_over_long_notes_are_refused_not_cut_and_stay_in_the_textarea(editor_client, review):
    text = "x" * 100_000
    response = editor_client.post(url("save_note", review, n=1), {"text": text, "version": 0})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not saved: The note is 100,000 characters long; the limit is 20,000." in body
    assert not StepNote.objects.exists()
    # Only the status is swapped (the textarea keeps the text); exactly the limit is saved.
    assert "<textarea" not in body
    ok = editor_client.post(url("save_note", review, n=1), {"text": "é" * 20_000, "version": 0})
    assert ok.status_code == 200
    assert len(StepNote.objects.get(review=review).text) == 20_000


def test_an_over_long_decision_note_is_refused_and_shown_again(editor_client, team, owner):

    form_factor = FormFactorFactory(team=team, name="Chat")
    review = services.start_review(team, owner)[0]
    key = f"formfactor:{form_factor.pk}"
    data = {"step": 4, "subject_key": key, "choice": "hold", "version": 0}
    response = editor_client.post(url("decide", review), {**data, "note": "why " * 600})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not saved: The note is 2,400 characters long; the limit is 2,000." in body
    assert 'value="why why why' in body  # what was typed is in the field again
    assert not review.decisions.exists()
    assert (
        editor_client.post(url("decide", review), {**data, "note": "w" * 2000}).status_code == 200
    )
    with pytest.raises(services.TooLong):
        services.add_backlog_item(review, "t" * 201)


def test_backlog_add_move_and_score(editor_client, review):
    for title in ["A", "B", "C"]:
        editor_client.post(url("backlog_add", review), {"title": title})
    a, b, c = BacklogItem.objects.filter(review=review).order_by("rank")
    editor_client.post(url("backlog_move", review), {"moved": c.pk, "before": a.pk})
    assert [i.title for i in BacklogItem.objects.filter(review=review)] == ["C", "A", "B"]
    r = editor_client.post(
        url("backlog_score", review, pk=a.pk),
        {"version": 0, "impact": 8, "confidence": 5, "effort": 4},
    )
    assert r.status_code == 200 and "score 10.0" in r.content.decode()
    stale = editor_client.post(
        url("backlog_score", review, pk=a.pk),
        {"version": 0, "impact": 1, "confidence": 1, "effort": 1},
    )
    assert stale.status_code == 409
    a.refresh_from_db()
    assert a.impact == 8
    bad = editor_client.post(url("backlog_score", review, pk=a.pk), {"version": 1, "impact": 11})
    assert bad.status_code == 400


def test_one_sided_bet_blocks_closing_until_answered_or_waived(editor_client, review, team):
    item = services.add_backlog_item(review, "Agentic support")
    add_notes(item, team, shade=False)
    response = editor_client.post(url("close", review))
    assert response.status_code == 302
    review.refresh_from_db()
    assert not review.is_closed
    assert "has no shade" in " ".join(services.blockers(review))
    bad = editor_client.post(url("backlog_waive", review, pk=item.pk), {"version": 0, "waived": 1})
    assert bad.status_code == 400 and "Say why" in bad.content.decode()
    editor_client.post(
        url("backlog_waive", review, pk=item.pk),
        {"version": 0, "waived": 1, "waive_reason": "risk reviewed with legal"},
    )
    editor_client.post(url("close", review))
    review.refresh_from_db()
    assert review.is_closed


def test_close_freezes_plan_in_the_database(editor_client, owner_client, review, team, owner):
    editor_client.post(url("save_note", review, n=8), {"text": "Ship it", "version": 0})
    services.add_commitment(review, owner=owner, what="Weekly evals", due_date=date(2027, 2, 1))
    item = services.add_backlog_item(review, "Agentic QA")
    add_notes(item, team)
    response = editor_client.post(url("close", review))
    assert response.url == url("plan", review)
    snapshot = PlanSnapshot.objects.get(review=review)
    assert "Weekly evals" in snapshot.markdown and "Agentic QA" in snapshot.markdown
    page = editor_client.get(url("plan", review)).content.decode()
    assert snapshot.content_hash in page

    md = editor_client.get(url("plan_markdown", review))
    assert md["Content-Type"].startswith("text/markdown")
    assert md.content.decode() == snapshot.markdown
    assert md["X-Content-SHA256"] == snapshot.content_hash

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE reviews_plansnapshot SET markdown = 'forged' WHERE id = %s", [snapshot.pk]
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE reviews_stepnote SET text = 'forged' WHERE review_id = %s", [review.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        BacklogItem.objects.create(team=team, review=review, title="sneaked in")
    with pytest.raises(IntegrityError), transaction.atomic():
        Commitment.objects.filter(review=review).update(what="changed")
    # Recording whether a commitment was met stays possible after close.
    Commitment.objects.filter(review=review).update(status="done")

    # The app refuses edits to a closed review with a message, not a crash.
    closed = editor_client.post(url("save_note", review, n=8), {"text": "x", "version": 1})
    assert closed.status_code == 400 and "closed" in closed.content.decode()

    # Reopen (owner only) keeps the first plan; closing again makes v2.
    assert editor_client.post(url("reopen", review)).status_code == 403
    owner_client.post(url("reopen", review))
    editor_client.post(url("save_note", review, n=8), {"text": "Ship it later", "version": 1})
    editor_client.post(url("close", review))
    assert list(review.snapshots.values_list("number", flat=True)) == [2, 1]
    assert "Ship it later" in editor_client.get(url("plan", review)).content.decode()
    assert "Ship it later" not in editor_client.get(url("plan", review) + "?v=1").content.decode()


def test_next_review_starts_from_last_plan(editor_client, team, owner):
    previous = Review.objects.create(team=team, quarter="2020-Q1", started_by=owner)
    services.add_commitment(previous, owner=owner, what="Old promise", due_date=date(2020, 3, 1))
    services.close_review(previous, owner)
    current = services.start_review(team, owner)[0]
    body = editor_client.get(url("step", current, n=1)).content.decode()
    assert "Old promise" in body
    commitment = Commitment.objects.get(what="Old promise")
    editor_client.post(url("commitment_outcome", current, pk=commitment.pk), {"status": "done"})
    commitment.refresh_from_db()
    assert commitment.status == "done" and commitment.checked_in == current


def test_commitment_validation_keeps_input(editor_client, review):
    response = editor_client.post(
        url("commitment_add", review), {"what": "Adopt evals", "due_date": "not a date"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Adopt evals" in body and "field-error" in body
    assert not Commitment.objects.exists()


def test_another_teams_review_is_404(outsider_client, review):
    assert outsider_client.get(url("step", review, n=1)).status_code == 404
    other = TeamFactory()
    other_review = Review.objects.create(team=other, quarter=review.quarter)
    item = BacklogItem.objects.create(team=other, review=other_review, title="theirs")
    # A member of `review.team` cannot reach another team's backlog item through their review.
    assert (
        outsider_client.post(url("backlog_score", review, pk=item.pk), {"version": 0}).status_code
        == 404
    )


def test_viewer_cannot_change(viewer_client, review):
    assert viewer_client.post(url("save_note", review, n=1), {"text": "x"}).status_code == 403
    assert viewer_client.post(url("close", review)).status_code == 403


def test_demo_has_a_closed_and_an_open_review(owner):
    from planning.reviews import demo

    team = TeamFactory()
    demo.seed(team, owner)
    demo.seed(team, owner)
    reviews = list(Review.objects.filter(team=team).order_by("quarter"))
    assert [r.status for r in reviews] == ["closed", "in_progress"]
    assert reviews[0].snapshots.count() == 1


def test_dashboard_offers_to_start_then_continue_the_review(editor_client, team):
    dashboard = reverse("teams:dashboard", kwargs={"team": team.slug})
    body = editor_client.get(dashboard).content.decode()
    q = current_quarter(team)
    quarter = f'<span class="quarter" title="{q.months}">{q.label}</span>'  # e.g. Q4 2026
    assert f"Start the {quarter} review" in body
    editor_client.post(reverse("reviews:start", kwargs={"team": team.slug}))
    assert f"Continue the {quarter} review" in editor_client.get(dashboard).content.decode()


def test_demo_review_step_1_says_how_far_off_and_which_way(owner, client):
    """Issue 13: the demo's step 1 said "across 4 line(s), reality ran close to your median"
    while the lines ran 12× behind, 1.7×, 2.2× and 2.6× ahead with 0% inside the bands."""
    from predictions import demo as predictions_demo

    team = TeamFactory(fiscal_year_start_month=4)
    team.memberships.create(user=owner, role="owner")
    predictions_demo.seed(team, owner)
    review = services.start_review(team, owner, "2027-Q3")[0]  # October–December 2026
    client.force_login(owner)
    body = client.get(url("step", review, n=1)).content.decode()
    import html
    import re

    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))
    sentence = text.split("The team's misses:")[1].split("All of")[0].strip()
    assert sentence.startswith("Across 4 lines, reality was typically off by 3.")
    assert "in both directions: from 1" in sentence and "× behind to 2.6× ahead" in sentence
    assert "so the misses cancel out in the average (0.9" in sentence
    assert "0% of " in sentence and "fell inside the bands, against the 80% stated" in sentence
    assert "close" not in sentence and "(s)" not in text
    assert "reality ran 1" in text and "× behind your median" in text  # the ARR line
    assert "e+0" not in text and "$2" in text  # CRPS in dollars, never "2.23e+08"


def test_times_on_team_pages_are_on_the_teams_clock(editor_client, review, team):
    """The autosave's "Saved 08:27" was UTC; it is the team's wall clock (Tokyo is UTC+9)."""
    import time_machine

    team.time_zone = "Asia/Tokyo"
    team.save()
    with time_machine.travel("2026-07-01T08:27:00Z", tick=False):
        saved = editor_client.post(url("save_note", review, n=1), {"text": "Mine", "version": 0})
        page = editor_client.get(url("step", review, n=1))
    body = saved.content.decode()
    assert 'Saved <time datetime="2026-07-01T17:27:00+09:00">17:27 JST</time>' in body
    assert "08:27" not in body
    assert page.status_code == 200
    assert "1 Jul 17:27" in page.content.decode()
    # Outside team pages nothing is left activated.
    from django.utils import timezone

    assert timezone.get_current_timezone_name() == "UTC"


def test_a_closed_reviews_bets_keep_their_light_and_shade(editor_client, review, team, owner):
    """After closing, step 6 offers no way to add or delete a note, and the notes URLs refuse."""
    from django.contrib.contenttypes.models import ContentType

    item = services.add_backlog_item(review, "Voice agent")
    add_notes(item, team)
    services.close_review(review, owner)
    page = editor_client.get(url("step", review, n=6)).content.decode()
    assert "Voice agent" in page and "ls-form" not in page and "ls-del" not in page

    ct = ContentType.objects.get_for_model(item)
    add = reverse("notes:add", kwargs={"team": team.slug, "ct_id": ct.pk, "object_id": item.pk})
    response = editor_client.post(add, {"kind": "shade", "text": "late risk"})
    assert response.status_code == 400 and "frozen plan" in response.content.decode()
    note = Note.objects.filter(object_id=item.pk).first()
    delete = reverse("notes:delete", kwargs={"team": team.slug, "pk": note.pk})
    assert editor_client.post(delete).status_code == 400
    assert Note.objects.filter(object_id=item.pk).count() == 2

    services.reopen_review(review)
    page = editor_client.get(url("step", review, n=6)).content.decode()
    assert "ls-form" in page
    assert editor_client.post(add, {"kind": "shade", "text": "late risk"}).status_code == 200


def test_step_6_redraws_a_bets_badge_when_a_side_is_written(editor_client, review, team):
    """Adding or deleting a note tells the page (HX-Trigger), and step 6's bets listen for it
    and redraw, so "one side missing" and the waive form go once both sides are written."""
    from django.contrib.contenttypes.models import ContentType

    item = services.add_backlog_item(review, "Voice agent")
    ct = ContentType.objects.get_for_model(item)
    add = reverse("notes:add", kwargs={"team": team.slug, "ct_id": ct.pk, "object_id": item.pk})
    response = editor_client.post(add, {"kind": "light", "text": "cheaper support"})
    assert response["HX-Trigger"] == "light-shade-changed"
    note = Note.objects.get(object_id=item.pk)
    delete = reverse("notes:delete", kwargs={"team": team.slug, "pk": note.pk})
    assert editor_client.post(delete)["HX-Trigger"] == "light-shade-changed"

    page = editor_client.get(url("step", review, n=6)).content.decode()
    # the bet's header listens, and redraws itself and its waive form, not the notes panel
    assert f'<header id="bet-head-{item.pk}">' in page
    assert 'hx-trigger="light-shade-changed" hx-sync="this:replace"' in page
    assert f'hx-select="#bet-head-{item.pk}" hx-select-oob="#bet-waive-{item.pk}"' in page
    assert f'<div id="bet-waive-{item.pk}">' in page and "one-side-missing" in page


def test_a_commitment_dated_in_the_past_is_refused(editor_client, review, team, owner):
    from datetime import timedelta

    yesterday = team.today() - timedelta(days=1)
    response = editor_client.post(
        url("commitment_add", review),
        {"what": "Hire a PM", "owner": owner.pk, "due_date": yesterday.isoformat()},
    )
    assert response.status_code == 400
    assert f"That date has passed ({team.time_zone})" in response.content.decode()
    assert not Commitment.objects.exists()
    response = editor_client.post(
        url("commitment_add", review),
        {"what": "Hire a PM", "owner": owner.pk, "due_date": team.today().isoformat()},
    )
    assert response.status_code == 200 and Commitment.objects.count() == 1


def test_the_close_confirmation_names_the_quarter_in_words(editor_client, review, team):
    from planning.quarters import quarter_label

    page = editor_client.get(url("step", review, n=8)).content.decode()
    label = quarter_label(review.quarter, team.fiscal_year_start_month)[0]
    assert f'data-confirm-title="Close and freeze the {label} plan?"' in page
    assert f"the {review.quarter} plan" not in page


def test_every_empty_step_says_what_is_missing(editor_client, review, team):
    """On a new team, steps 3–5 each say which module has nothing yet (step 4 said nothing)."""
    expected = {
        3: "No capability audit has run",
        4: "No form factor is tracked yet.",
        5: "No bottleneck map yet",
    }
    for n, sentence in expected.items():
        assert sentence in editor_client.get(url("step", review, n=n)).content.decode()
    FormFactorFactory(team=team)
    assert (
        "No form factor is tracked"
        not in editor_client.get(url("step", review, n=4)).content.decode()
    )


def test_a_notes_saved_time_carries_the_teams_zone(editor_client, review, team):
    team.time_zone = "America/Los_Angeles"
    team.save()
    saved = editor_client.post(url("save_note", review, n=1), {"text": "Mine", "version": 0})
    assert "P" in saved.content.decode().split("Saved")[1].split("</time>")[0]  # PST or PDT
    page = editor_client.get(url("step", review, n=1)).content.decode()
    last = page.split("Last saved by")[1].split("</small>")[0]
    assert " PST." in last or " PDT." in last


def test_a_refused_note_keeps_the_version_so_the_next_save_is_not_a_false_conflict(
    editor_client, review
):
    """A too-long note used to reset the form's version to 0: shortening it then 'conflicted'
    with the writer's own earlier save ("… changed these notes meanwhile")."""
    editor_client.post(url("save_note", review, n=1), {"text": "Mine", "version": 0})
    long = editor_client.post(url("save_note", review, n=1), {"text": "x" * 20_001, "version": 1})
    assert long.status_code == 400
    assert '<input type="hidden" name="version" value="1">' in long.content.decode()
    ok = editor_client.post(url("save_note", review, n=1), {"text": "Mine, shorter", "version": 1})
    assert ok.status_code == 200 and "meanwhile" not in ok.content.decode()
    assert StepNote.objects.get(review=review, step=1).text == "Mine, shorter"


def test_a_closed_reviews_step_2_offers_no_line_to_draw(editor_client, review, team, owner):
    """Closed, step 2 showed "Draw a new line … After saving you come back here" with no button."""
    from tests.factories import MetricFactory

    MetricFactory(team=team, name="Tickets auto-resolved")
    assert "Draw a new line" in editor_client.get(url("step", review, n=2)).content.decode()
    services.close_review(review, owner)
    page = editor_client.get(url("step", review, n=2)).content.decode()
    assert "Draw a new line" not in page and "Add the first metric" not in page


def test_closing_again_after_a_reopening_says_the_reminders_exist(
    editor_client, owner_client, review, owner
):
    services.add_commitment(review, owner=owner, what="Evals weekly", due_date=date(2099, 1, 1))
    first = editor_client.post(url("close", review), follow=True).content.decode()
    assert "1 follow-up reminder scheduled." in first
    owner_client.post(url("reopen", review))
    again = editor_client.post(url("close", review), follow=True).content.decode()
    assert "1 commitment already has its reminder." in again
    assert "0 follow-up" not in again


def test_the_rail_says_what_its_green_mark_means(editor_client, review):
    """A step turns green when its notes are written, not when its work is done: it says so."""
    editor_client.post(url("save_note", review, n=1), {"text": "Mine", "version": 0})
    page = editor_client.get(url("step", review, n=2)).content.decode()
    assert page.count("(notes written)") == 1
    assert 'title="Look back: the team\'s notes are written"' in page
