""" "Find the missing side": sub-agents writing one live session (real worker, fake API),
prompt caching and its cost, accept / edit / discard, never overwriting, budget, tenancy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from planning.facilitator import sides
from planning.facilitator.models import Draft, FacilitatorSetting, SideProposal, SideRun
from planning.live.models import TERMINAL, LiveEvent, LiveSession
from planning.notes.models import Note
from planning.notes.services import light_shade_of
from planning.reviews import services as review_services
from planning.reviews.models import BacklogItem
from planning.teams.models import AuditEvent
from tests.audits.fake import Gate
from tests.conftest import wait_for


@pytest.fixture
def review(team, owner):
    return review_services.start_review(team, owner)[0]


@pytest.fixture
def enabled(team, sim_model):
    return FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=5)


def _bet(review, title, light="", shade="", **fields):
    bet = BacklogItem.objects.create(team=review.team, review=review, title=title, **fields)
    for kind, text in (("light", light), ("shade", shade)):
        if text:
            Note.objects.create(team=review.team, target=bet, kind=kind, text=text)
    return bet


def _start_url(review):
    return reverse("facilitator:sides_start", args=[review.team.slug, review.quarter])


def _step6(review):
    return reverse("reviews:step", args=[review.team.slug, review.quarter, 6])


def _price(p: SideProposal) -> Decimal:
    """By hand: sim-claude-4 costs $3 (input), $15 (output), and with no cache rates of its
    own $3.75 for a cache write (1.25 x 3) and $0.30 for a cache read (0.1 x 3) per Mtok."""
    total = (
        Decimal(3) * p.input_tokens
        + Decimal(15) * p.output_tokens
        + Decimal("3.75") * p.cache_creation_tokens
        + Decimal("0.30") * p.cache_read_tokens
    )
    return (total / 1_000_000).quantize(Decimal("0.000001"))


LONG = (
    "Customers asked for this in every interview this quarter, and the newest model passes "
    "the probes that failed in spring, so the work that was blocked is now possible; "
) * 3  # the evidence of ten such bets is over the 1024-token minimum the prompt cache needs


@pytest.mark.django_db(transaction=True)
def test_one_task_per_bet_writes_its_part_to_one_session_without_gaps(
    celery_worker_process, fake_api, team, review, editor_client, enabled
):
    bets = [
        _bet(review, f"Bet {i}", **({"light": LONG} if i % 2 else {"shade": LONG}))
        for i in range(10)
    ]
    waived = _bet(review, "Waived bet", light=LONG, waived=True, waive_reason="later")
    both = _bet(review, "Balanced bet", light="up", shade="down")
    _bet(review, "Empty bet")  # neither side: a person writes one first
    notes_before = Note.objects.count()

    response = editor_client.post(_start_url(review), headers={"HX-Request": "true"})
    assert response.status_code == 200, response.content
    run = SideRun.objects.get(review=review)
    assert run.parts_total == 11  # ten one-sided bets and the waived one
    assert f'id="live-{run.session_id}"' in response.content.decode()
    assert wait_for(lambda: LiveSession.objects.get(pk=run.session_id).status != "active", 60)

    session = LiveSession.objects.get(pk=run.session_id)
    events = list(LiveEvent.objects.filter(session=session).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, session.last_seq + 1))  # no gap
    assert [e.type for e in events if e.type in TERMINAL] == ["completed"]
    assert events[-1].type == "completed" and events[-1].data["proposals"] == 11
    assert [e.type for e in events].count("started") == 1  # parts join, they do not claim

    run.refresh_from_db()  # the evidence sent: every bet with the side it has
    assert sum(LONG[:60] in item["detail"] for item in run.evidence) == 11
    proposals = list(run.proposals.select_related("bet").order_by("order"))
    assert {p.bet for p in proposals} == {*bets, waived}
    assert all(p.status == SideProposal.Status.READY for p in proposals)
    streams: dict[str, str] = {}
    for e in events:
        if e.type == "token":  # every token is a bet's own: the orchestrator relays none
            streams[e.data["stream"]] = streams.get(e.data["stream"], "") + e.data["text"]
    assert set(streams) == {p.stream for p in proposals}
    for p in proposals:
        assert streams[p.stream].strip() == p.text and f"[B{p.bet_id}]" in p.text
        assert p.kind == ("shade" if light_shade_of(p.bet).light else "light")
        missing = "risk" if p.kind == "shade" else "opportunity"
        assert p.text.startswith(f"The {missing}:")

    # the shared evidence was written to the prompt cache once, then read by every other bet
    first, *rest = proposals
    assert first.cache_creation_tokens > 1024 and first.cache_read_tokens == 0
    assert all(p.cache_creation_tokens == 0 for p in rest)
    assert all(p.cache_read_tokens == first.cache_creation_tokens for p in rest)
    for p in proposals:
        assert p.input_tokens > 0 and p.output_tokens > 0
        assert p.cost_usd == _price(p)
    assert events[-1].data["cost_usd"] == str(sum(p.cost_usd for p in proposals))

    # nothing was written, waived or changed on its own
    assert Note.objects.count() == notes_before
    waived.refresh_from_db()
    both.refresh_from_db()
    assert waived.waived and not both.waived
    assert not BacklogItem.objects.filter(review=review, waived=True).exclude(pk=waived.pk)

    page = editor_client.get(_step6(review)).content.decode()
    assert page.count("Proposal: not accepted") == 11
    assert f"{first.cache_creation_tokens:,} written to the prompt cache" in page
    total = sum(p.cost_usd for p in proposals)
    assert f"${total:.4f}" in page


@pytest.mark.django_db(transaction=True)
def test_stop_ends_the_session_once_as_cancelled(
    celery_worker_process, fake_api, team, review, editor_client, enabled
):
    for i in range(3):
        _bet(review, f"Bet {i}", light="A chance.")
    gate = Gate()
    gate.close()
    try:
        editor_client.post(_start_url(review), headers={"HX-Request": "true"})
        run = SideRun.objects.get(review=review)
        assert wait_for(lambda: gate.waiting() >= 1, 30)  # the first bet's call is held
        session = LiveSession.objects.get(pk=run.session_id)
        assert editor_client.post(session.cancel_url).status_code == 202
    finally:
        gate.open()
    assert wait_for(lambda: LiveSession.objects.get(pk=run.session_id).status != "active", 60)
    session.refresh_from_db()
    events = list(LiveEvent.objects.filter(session=session).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, session.last_seq + 1))
    assert [e.type for e in events if e.type in TERMINAL] == ["cancelled"]
    assert session.status == "cancelled"
    assert wait_for(
        lambda: not run.proposals.filter(status=SideProposal.Status.RUNNING).exists(), 30
    )
    assert not Note.objects.filter(author=None, text__contains="AI-drafted").exists()


def _proposal(review, bet, kind="shade", text="The risk: it may not hold up [B1].", **fields):
    run = SideRun.objects.get_or_create(
        team=review.team, review=review, defaults={"model": "sim-claude-4-20260115"}
    )[0]
    return SideProposal.objects.create(
        team=review.team,
        run=run,
        bet=bet,
        kind=kind,
        text=text,
        model="sim-claude-4-20260115",
        status=fields.pop("status", SideProposal.Status.READY),
        **fields,
    )


def _accept(client, proposal, text, htmx=True):
    url = reverse("facilitator:side_accept", args=[proposal.team.slug, proposal.pk])
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, {"text": text}, headers=headers)


@pytest.mark.django_db
def test_accept_as_edited_adds_the_missing_side_marked_ai_drafted(
    team, review, editor, editor_client, enabled
):
    bet = _bet(review, "Agents in QA", light="Faster releases.", waived=True, waive_reason="x")
    proposal = _proposal(review, bet)
    response = _accept(editor_client, proposal, "  The risk: flaky agents block releases.  ")
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(
        f"?accepted={proposal.pk}#bet-{bet.pk}"
    )
    shade = light_shade_of(bet).shade
    assert len(shade) == 1 and shade[0].author == editor
    assert shade[0].text.startswith("The risk: flaky agents block releases.\n\n")
    assert "(AI-drafted with sim-claude-4-20260115, accepted by" in shade[0].text
    proposal.refresh_from_db()
    assert proposal.status == "accepted" and proposal.edited and proposal.note == shade[0]
    event = AuditEvent.objects.get(team=team, action="review.ai_draft_accepted")
    assert "AI-drafted shade (risk)" in event.summary and "edited before accepting" in event.summary
    bet.refresh_from_db()
    assert bet.waived  # accepting changes no waiver
    # a second accept is refused: decided proposals stay as they are
    response = _accept(editor_client, proposal, "again")
    assert response.status_code == 400 and "already decided" in response.content.decode()
    assert len(light_shade_of(bet).shade) == 1


@pytest.mark.django_db
def test_accept_never_overwrites_a_side_written_meanwhile_and_discard_keeps_the_bet(
    team, review, editor_client, enabled
):
    bet = _bet(review, "Voice mode", light="New users.")
    proposal = _proposal(review, bet)
    Note.objects.create(team=team, target=bet, kind="shade", text="Our own risk.")
    response = _accept(editor_client, proposal, proposal.text)
    body = response.content.decode()
    assert response.status_code == 400
    assert "has its shade (risk) by now" in body and "nothing is overwritten" in body
    assert [n.text for n in light_shade_of(bet).shade] == ["Our own risk."]
    proposal.refresh_from_db()
    assert proposal.status == "ready"
    url = reverse("facilitator:side_discard", args=[team.slug, proposal.pk])
    assert editor_client.post(url, headers={"HX-Request": "true"}).status_code == 200
    proposal.refresh_from_db()
    assert proposal.status == "discarded"
    assert [n.text for n in light_shade_of(bet).shade] == ["Our own risk."]
    assert not AuditEvent.objects.filter(action="review.ai_draft_accepted").exists()


@pytest.mark.django_db
def test_an_empty_or_too_long_edit_is_refused_with_the_text_kept(
    team, review, editor_client, enabled
):
    bet = _bet(review, "Search", shade="Costs.")
    proposal = _proposal(review, bet, kind="light", text="The opportunity: reach [B1].")
    for typed, message in (
        ("   ", "This field is required."),
        ("x" * (sides.TEXT_LIMIT + 1), f"at most {sides.TEXT_LIMIT} characters"),
    ):
        response = _accept(editor_client, proposal, typed)
        body = response.content.decode()
        assert response.status_code == 400 and message in body
        if typed.strip():
            assert typed in body  # what was typed is still there
    assert not light_shade_of(bet).light
    proposal.refresh_from_db()
    assert proposal.status == "ready"


@pytest.mark.django_db
def test_budget_off_roles_and_nothing_to_do_refuse_a_run(
    team, review, owner_client, editor_client, viewer_client, sim_model
):
    _bet(review, "One-sided", light="Yes.")
    # off by default
    page = editor_client.get(_step6(review)).content.decode()
    assert "Find the missing side with Claude" not in page and "owner can turn on" in page
    assert editor_client.post(_start_url(review)).status_code == 302
    assert not SideRun.objects.exists()
    setting = FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=1)
    assert (
        "Find the missing side with Claude (1 bet)"
        in editor_client.get(_step6(review)).content.decode()
    )
    assert viewer_client.post(_start_url(review)).status_code == 403
    # this month's drafts and proposals together spend the budget
    Draft.objects.create(team=team, review=review, step=1, status="ready", cost_usd=Decimal("0.6"))
    _proposal(review, BacklogItem.objects.get(title="One-sided"), cost_usd=Decimal("0.4"))
    response = editor_client.post(_start_url(review), headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "budget is spent ($1.00 of $1.00)" in response.content.decode()
    assert SideRun.objects.count() == 1 and not LiveSession.objects.exists()
    setting.monthly_budget_usd = 50
    setting.save()
    Note.objects.create(team=team, target=BacklogItem.objects.get(), kind="shade", text="No.")
    response = editor_client.post(_start_url(review), headers={"HX-Request": "true"})
    assert response.status_code == 400 and "No bet has only one side" in response.content.decode()


@pytest.mark.django_db
def test_another_teams_proposal_and_review_are_404(
    team, other_team, review, outsider_client, enabled
):
    bet = _bet(review, "Theirs", light="x")
    proposal = _proposal(review, bet)
    for slug in (team.slug, other_team.slug):
        for name in ("side_accept", "side_discard"):
            url = reverse(f"facilitator:{name}", args=[slug, proposal.pk])
            assert outsider_client.post(url, {"text": "mine"}).status_code == 404
    url = reverse("facilitator:sides_start", args=[other_team.slug, review.quarter])
    assert outsider_client.post(url).status_code == 404
    url = reverse("facilitator:sides_panel", args=[other_team.slug, review.quarter])
    assert outsider_client.get(url).status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == "ready" and not light_shade_of(bet).shade


def test_pure_rules():
    assert sides.missing_kind("light-only") == "shade"
    assert sides.missing_kind("shade-only") == "light"
    assert sides.missing_kind("both") is None and sides.missing_kind("none") is None
    request = sides.bet_request("B7", "Agents", "shade", ["Faster."])
    assert "Bet [B7] “Agents”." in request and request.endswith("Propose its shade (risk).")
    assert sides.scripted_side(request).startswith("The risk: “Agents” [B7]")
    assert "opportunity" in sides.scripted_side(sides.bet_request("B7", "A", "light", ["x"]))
    words = sides.usage_words(
        {"input_tokens": 1200, "output_tokens": 40, "cache_creation_tokens": 0,
         "cache_read_tokens": 3000}
    )  # fmt: skip
    assert words == "1,200 tokens in (3,000 read from the prompt cache), 40 out"
    blocks = sides.system_blocks("Light and shade", "2026-Q4", [])
    assert blocks[1]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in blocks[0]


@pytest.mark.django_db
def test_settings_page_says_what_is_sent_and_what_each_run_cost(
    team, review, owner_client, enabled
):
    bet = _bet(review, "Agents", light="x")
    _proposal(
        review, bet, input_tokens=150, output_tokens=40, cache_creation_tokens=1200,
        cache_read_tokens=0, cost_usd=Decimal("0.005550"),
    )  # fmt: skip
    _proposal(
        review, _bet(review, "Voice", shade="y"), kind="light", input_tokens=150,
        output_tokens=40, cache_read_tokens=1200, cost_usd=Decimal("0.001410"),
    )  # fmt: skip
    page = owner_client.get(reverse("facilitator:settings", args=[team.slug])).content.decode()
    assert escape(sides.SIDE_SYSTEM_PROMPT) in page and "prompt cache" in page
    assert "300 / 80 tokens" in page and "1200 / 1200 tokens" in page
    assert "$0.0070" in page  # 0.005550 + 0.001410


@pytest.mark.django_db
def test_the_step_page_queries_do_not_grow_with_the_proposals(
    team, review, editor, editor_client, enabled
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert editor_client.get(_step6(review)).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for i in range(n):
            bet = _bet(review, f"Bet {BacklogItem.objects.count()}", light="x")
            status = "accepted" if i % 2 else "ready"
            _proposal(review, bet, status=status, decided_by=editor if i % 2 else None)

    add(2)
    queries()  # warm the content-type cache
    few = queries()
    add(6)
    assert queries() == few


@pytest.mark.django_db
def test_each_part_counts_once_and_the_last_one_ends_the_session(team, review, enabled):
    from planning.facilitator.side_tasks import finish_part
    from planning.live import services as live
    from planning.live.writer import LiveWriter

    bets = [_bet(review, f"Bet {i}", light="x") for i in range(2)]
    session = live.create_session(team, kind="missing_side")
    run = SideRun.objects.create(team=team, review=review, session=session, parts_total=2)
    first, second = (
        SideProposal.objects.create(team=team, run=run, bet=b, kind="shade", order=i)
        for i, b in enumerate(bets)
    )
    stale = LiveWriter.claim(session.pk).epoch
    epoch = LiveWriter.claim(session.pk).epoch  # the orchestrator was delivered again

    def finish(proposal, at, outcome):
        return finish_part(proposal, run, at, LiveWriter.join(session.pk, at), outcome)

    ready = {"status": "ready", "text": "The risk: x."}
    assert finish(first, stale, ready) == "fenced"  # the older delivery's part: undone
    first.refresh_from_db()
    run.refresh_from_db()
    assert first.status == "running" and run.parts_done == 0
    assert finish(first, epoch, ready) == "ready"
    assert finish(first, epoch, ready) == "already decided"  # the same part delivered again
    run.refresh_from_db()
    assert run.parts_done == 1
    assert LiveSession.objects.get(pk=session.pk).status == "active"
    assert finish(second, epoch, {"status": "failed", "error": "The model call failed."})
    session.refresh_from_db()
    events = list(session.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, session.last_seq + 1))
    assert session.status == "completed"
    assert [e.type for e in events if e.type in TERMINAL] == ["completed"]
    assert events[-1].data["proposals"] == 1 and events[-1].data["bets"] == 2
    assert any(e.type == "error" and "Bet 1" in e.data["message"] for e in events)


@pytest.mark.django_db
def test_settings_page_puts_the_switch_first_and_the_instructions_on_request(
    team, owner_client, enabled
):
    """On a phone the switch and the budget were below four screens of instructions: now
    they come first, and each instruction (word for word) opens on request."""
    page = owner_client.get(reverse("facilitator:settings", args=[team.slug])).text
    assert page.index('name="monthly_budget_usd"') < page.index("What is sent")
    assert page.count('<details class="instruction">') == 4
    assert "Nothing generated yet." in page  # shown while no usage table is (CSS :has)
