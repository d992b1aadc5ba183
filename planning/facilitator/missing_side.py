"""Operations of "Find the missing side": start a run, accept, discard. Views call these; the
Celery tasks (the orchestrator and one part per bet) are in side_tasks.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from planning.live import services as live
from planning.notes.models import Note
from planning.notes.services import LightShade, light_shade_of
from planning.reviews import services as review_services
from planning.reviews.models import BacklogItem, Review
from planning.teams import audit

from . import sides
from .models import SideProposal, SideRun
from .services import NotAvailable, Refused, model_for, refusal, settings_for


@dataclass
class OneSided:
    bet: BacklogItem
    ls: LightShade
    missing: str  # "light" or "shade"

    @property
    def written(self) -> list[str]:
        return [n.text for n in (self.ls.light if self.missing == "shade" else self.ls.shade)]


def one_sided_bets(review: Review) -> list[OneSided]:
    """The review's bets with only light or only shade (waived ones too: a waiver lets the
    review close, it does not write the side), in the bets' order."""
    found = []
    for bet, ls in review_services.bets_of(review):
        missing = sides.missing_kind(ls.balance)
        if missing:
            found.append(OneSided(bet, ls, missing))
    return found


def running_run(review: Review) -> SideRun | None:
    return (
        SideRun.objects.filter(review=review, session__status="active")
        .select_related("session")
        .first()
    )


def start_run(review: Review, user) -> SideRun:
    """Create the run, its proposals and its live session and start the orchestrating task;
    Refused says why not (off, budget spent, closed, one already running, nothing to do)."""
    from .side_tasks import find_missing_sides

    with transaction.atomic():
        Review.objects.select_for_update().filter(pk=review.pk).first()  # one start at a time
        reason = refusal(review.team, review)
        if reason:
            raise Refused(reason)
        if running_run(review):
            raise Refused("Claude is already proposing missing sides here: follow it or stop it.")
        bets = one_sided_bets(review)
        if not bets:
            raise Refused(
                "No bet has only one side: every bet has both light and shade, or neither "
                "(write one side first and Claude can propose the other)."
            )
        n = len(bets)
        session = live.create_session(
            review.team,
            kind="missing_side",
            title=f"Missing sides of {n} bet{'s' if n != 1 else ''}, {review.quarter}",
            user=user,
        )
        model = model_for(settings_for(review.team))
        run = SideRun.objects.create(
            team=review.team,
            review=review,
            session=session,
            model=model,
            parts_total=n,
            created_by=user,
        )
        SideProposal.objects.bulk_create(
            SideProposal(team=review.team, run=run, bet=b.bet, kind=b.missing, order=i, model=model)
            for i, b in enumerate(bets)
        )
        live.start(session, find_missing_sides, run.pk)
    return run


def accept(proposal: SideProposal, user, text: str | None = None) -> Note:
    """Add the proposal (as edited, if `text` is given) to the bet as a note of its missing
    side, marked AI-drafted, and record it in the team's audit log. Refused when the bet has
    that side by now: an existing side is never overwritten or doubled."""
    chosen = sides.clean(proposal.text if text is None else text)
    if not chosen:
        raise NotAvailable("The proposal is empty: write the side or discard it.")
    with transaction.atomic():
        locked = SideProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != SideProposal.Status.READY:
            raise NotAvailable("This proposal was already decided.")
        bet = BacklogItem.objects.select_for_update().select_related("review").get(pk=locked.bet_id)
        if bet.review.is_closed:
            raise NotAvailable("This review is closed. Reopen it to change its bets.")
        side = sides.SIDES[locked.kind]
        if getattr(light_shade_of(bet), locked.kind):
            raise NotAvailable(
                f"“{bet.title}” has its {side} by now, so the proposal was not added "
                "(nothing is overwritten). Discard it, or add to the side by hand."
            )
        by = getattr(user, "display_name", "") or str(user)
        note = Note.objects.create(
            team=proposal.team,
            target=bet,
            kind=locked.kind,
            text=sides.marked(chosen, locked.model, by)[: sides.NOTE_LIMIT],
            author=user,
        )
        edited = chosen != sides.clean(locked.text)
        SideProposal.objects.filter(pk=locked.pk).update(
            status=SideProposal.Status.ACCEPTED,
            note=note,
            accepted_text=chosen,
            edited=edited,
            decided_by=user,
            decided_at=timezone.now(),
        )
        audit.record(
            proposal.team,
            user,
            "review.ai_draft_accepted",
            f"Accepted an AI-drafted {side} ({locked.model}) for the bet “{bet.title}” in the "
            f"{bet.review.quarter} review" + (" (edited before accepting)" if edited else ""),
        )
    return note


def discard(proposal: SideProposal, user) -> None:
    """Set a proposal aside (the bet is untouched). A decided one stays as it was."""
    SideProposal.objects.filter(
        pk=proposal.pk, status__in=[SideProposal.Status.READY, SideProposal.Status.FAILED]
    ).update(status=SideProposal.Status.DISCARDED, decided_by=user, decided_at=timezone.now())


def usage_of(run: SideRun) -> dict:
    """The run's tokens and cost, summed over its bets (one query)."""
    totals = run.proposals.aggregate(
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cache_creation_tokens=Sum("cache_creation_tokens"),
        cache_read_tokens=Sum("cache_read_tokens"),
        cost_usd=Sum("cost_usd"),
    )
    return {k: v or 0 for k, v in totals.items()}


def panel_context(review: Review, membership, **extra) -> dict:
    """What the "Find the missing side" panel of the light-and-shade step shows."""
    from .services import spent_this_month

    setting = settings_for(review.team)
    run = (
        SideRun.objects.filter(review=review)
        .select_related("session", "created_by")
        .order_by("-created_at")
        .first()
    )
    proposals = (
        list(run.proposals.select_related("bet", "decided_by").order_by("order")) if run else []
    )
    errors, typed = extra.pop("errors", {}), extra.pop("typed", {})
    for p in proposals:  # a refused accept shows its message and the text as typed
        p.form_error = errors.get(p.pk, "")  # type: ignore[attr-defined]  # for the template
        p.form_text = typed.get(p.pk, p.text)  # type: ignore[attr-defined]  # for the template
    running = bool(run and run.session and not run.session.is_finished)
    usage = usage_of(run) if run and not running else None
    return {
        "review": review,
        "setting": setting,
        "run": run,
        "running": running,
        "proposals": proposals,
        "streams": [(p.stream, f"The {sides.SIDES[p.kind]} of “{p.bet.title}”") for p in proposals],
        "usage": usage,
        "usage_words": sides.usage_words(usage) if usage else "",
        "one_sided": len(one_sided_bets(review)) if setting.enabled else 0,
        "can_edit": membership.can_edit and not review.is_closed,
        "is_owner": membership.is_owner,
        "spent": spent_this_month(review.team) if setting.enabled else None,
        "text_limit": sides.TEXT_LIMIT,
        **extra,
    }
