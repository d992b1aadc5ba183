"""Operations on a review. Each runs in one transaction; stale writes raise StaleWrite."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from planning.inputs import InputError, check_text, shorten
from planning.notes.services import LightShade, notes_for
from planning.quarters import current_quarter, parse_quarter

from . import sources
from .logic import (
    Bet,
    PlanData,
    Step,
    closing_blockers,
    content_hash,
    render_plan_markdown,
    reorder,
)
from .models import (
    DECISION_CHOICES,
    STEPS,
    BacklogItem,
    Commitment,
    Decision,
    PlanSnapshot,
    Review,
    StepNote,
)

STEP_TITLES: dict[int, str] = {n: title for n, title, _ in STEPS}

BACKLOG_CHOICES: dict[tuple[int, str], tuple[str, str]] = {
    (Step.AUDIT, "promote"): (BacklogItem.Source.AUDIT, "Build {label}"),
    (Step.SATURATION, "shift"): (BacklogItem.Source.SATURATION, "Shift from {label}"),
    (Step.SATURATION, "invest"): (BacklogItem.Source.SATURATION, "Invest in {label}"),
    (Step.BOTTLENECKS, "invest"): (BacklogItem.Source.BOTTLENECK, "Speed up {label}"),
}


class StaleWrite(Exception):
    """Someone saved this field after the version the writer started from."""

    def __init__(self, current_text: str, current_version: int, by: str) -> None:
        super().__init__("stale write")
        self.current_text = current_text
        self.current_version = current_version
        self.by = by


class ReviewClosed(ValidationError):
    pass


class TooLong(ValidationError):
    """Text over its column's limit: refused with a message, never cut."""


NOTE_MAX = Decision._meta.get_field("note").max_length or 2000
STEP_NOTE_MAX = StepNote._meta.get_field("text").max_length or 20_000
TITLE_MAX = BacklogItem._meta.get_field("title").max_length or 200


def checked_text(text: str, max_chars: int, label: str) -> str:
    """`text` when it can be stored whole; TooLong (or ValidationError for a NUL or a lone
    surrogate) with a message for the person otherwise."""
    try:
        return check_text(text, max_chars=max_chars, label=label)
    except InputError as error:
        raise (TooLong if len(text) > max_chars else ValidationError)(str(error)) from None


def _ensure_open(review: Review) -> None:
    if review.is_closed:
        raise ReviewClosed("This review is closed. Reopen it to change anything.")


@transaction.atomic
def start_review(team, user, quarter: str | None = None) -> tuple[Review, bool]:
    label = quarter or str(current_quarter(team))
    parse_quarter(label)  # validates
    review, created = Review.objects.get_or_create(
        team=team, quarter=label, defaults={"started_by": user}
    )
    return review, created


def previous_review(review: Review) -> Review | None:
    return (
        Review.objects.for_team(review.team)
        .filter(quarter__lt=review.quarter, status="closed")
        .order_by("-quarter")
        .first()
    )


# --------------------------------------------------------------------------- autosave
@transaction.atomic
def save_step_note(review: Review, step: int, text: str, version: int, user) -> StepNote:
    checked_text(text, STEP_NOTE_MAX, "The note")
    review = Review.objects.select_for_update().get(pk=review.pk)
    _ensure_open(review)
    note = StepNote.objects.select_for_update().filter(review=review, step=step).first()
    if note is None:
        if version != 0:
            raise StaleWrite("", 0, "someone")
        try:
            with transaction.atomic():
                return StepNote.objects.create(
                    review=review, step=step, text=text, version=1, updated_by=user
                )
        except IntegrityError:
            note = StepNote.objects.select_for_update().get(review=review, step=step)
    if note.version != version:
        who = note.updated_by.display_name if note.updated_by else "someone"
        raise StaleWrite(note.text, note.version, who)
    note.text = text
    note.version = F("version") + 1
    note.updated_by = user
    note.save(update_fields=["text", "version", "updated_by", "updated_at"])
    note.refresh_from_db()
    return note


@transaction.atomic
def decide(
    review: Review,
    *,
    step: int,
    subject_key: str,
    subject_label: str,
    choice: str,
    note: str,
    version: int,
    user,
) -> Decision:
    checked_text(note, NOTE_MAX, "The note")
    review = Review.objects.select_for_update().get(pk=review.pk)
    _ensure_open(review)
    allowed = {value for value, _ in DECISION_CHOICES.get(step, [])}
    if choice not in allowed:
        raise ValidationError("Choose one of the offered decisions.")
    decision = (
        Decision.objects.select_for_update().filter(review=review, subject_key=subject_key).first()
    )
    if decision is None:
        if version != 0:
            raise StaleWrite("", 0, "someone")
        decision = Decision(review=review, step=step, subject_key=subject_key, version=0)
    elif decision.version != version:
        who = decision.decided_by.display_name if decision.decided_by else "someone"
        raise StaleWrite(decision.choice, decision.version, who)
    decision.subject_label = subject_label
    decision.choice = choice
    decision.note = note
    decision.version += 1
    decision.decided_by = user
    decision.save()
    _sync_backlog_for(review, decision)
    sources.apply_decision(review, decision, user)
    return decision


def _sync_backlog_for(review: Review, decision: Decision) -> None:
    """A decision that makes a bet puts it on the backlog; changing it takes it off again."""
    item = BacklogItem.objects.filter(review=review, subject_key=decision.subject_key).first()
    spec = BACKLOG_CHOICES.get((decision.step, decision.choice))
    if spec is None:
        if item is not None:
            item.delete()
        return
    source, template = spec
    title = shorten(template.format(label=decision.subject_label), TITLE_MAX)
    if item is None:
        rank = (BacklogItem.objects.filter(review=review).aggregate(m=Max("rank"))["m"] or 0) + 1
        BacklogItem.objects.create(
            team=review.team,
            review=review,
            title=title,
            source=source,
            subject_key=decision.subject_key,
            rank=rank,
        )
    elif item.title != title or item.source != source:
        item.title, item.source = title, source
        item.save(update_fields=["title", "source"])


def review_for_promotion(team, user) -> Review:
    """The team's open review for this quarter or a later one; else this quarter's review
    (started now), or next quarter's when this quarter's is closed already."""
    this_quarter = current_quarter(team)
    open_review = (
        Review.objects.for_team(team)
        .filter(status=Review.Status.IN_PROGRESS, quarter__gte=str(this_quarter))
        .order_by("quarter")
        .first()
    )
    if open_review is not None:
        return open_review
    review, _ = start_review(team, user, str(this_quarter))
    if review.is_closed:
        review, _ = start_review(team, user, str(this_quarter.next()))
    return review


@transaction.atomic
def promote_idea(idea, user, note: str = "") -> tuple[Review, BacklogItem]:
    """Promote an idea from the audits: step 3 of the open (or next) review records the
    decision and step 7's backlog gets an item linked to the idea. Idempotent: promoting
    twice (a double click, a retry) finds both in place and changes nothing."""
    review = review_for_promotion(idea.team, user)
    review = Review.objects.select_for_update().get(pk=review.pk)
    _ensure_open(review)
    key = f"idea:{idea.pk}"
    decision = Decision.objects.select_for_update().filter(review=review, subject_key=key).first()
    if decision is None or decision.choice != "promote":
        decision = decision or Decision(review=review, step=Step.AUDIT, subject_key=key, version=0)
        decision.subject_label = idea.title  # at most 200 characters; the column holds 300
        decision.choice = "promote"
        decision.note = checked_text(note, NOTE_MAX, "The note")
        decision.version += 1
        decision.decided_by = user
        decision.save()
    _sync_backlog_for(review, decision)
    sources.apply_decision(review, decision, user)
    return review, BacklogItem.objects.get(review=review, subject_key=key)


# --------------------------------------------------------------------------- backlog
@transaction.atomic
def add_backlog_item(review: Review, title: str) -> BacklogItem:
    checked_text(title, TITLE_MAX, "The title")
    review = Review.objects.select_for_update().get(pk=review.pk)
    _ensure_open(review)
    rank = (BacklogItem.objects.filter(review=review).aggregate(m=Max("rank"))["m"] or 0) + 1
    return BacklogItem.objects.create(team=review.team, review=review, title=title, rank=rank)


@transaction.atomic
def move_backlog_item(review: Review, moved: int, before: int | None) -> list[int]:
    review = Review.objects.select_for_update().get(pk=review.pk)
    _ensure_open(review)
    ids = list(BacklogItem.objects.filter(review=review).values_list("pk", flat=True))
    order = reorder(ids, moved, before)
    items = BacklogItem.objects.in_bulk(order)
    for rank, pk in enumerate(order, start=1):
        items[pk].rank = rank
    BacklogItem.objects.bulk_update(items.values(), ["rank"])
    return order


@transaction.atomic
def update_backlog_item(item: BacklogItem, version: int, **fields) -> BacklogItem:
    _ensure_open(Review.objects.select_for_update().get(pk=item.review_id))
    updated = BacklogItem.objects.filter(pk=item.pk, version=version).update(
        version=F("version") + 1, **fields
    )
    if not updated:
        current = BacklogItem.objects.get(pk=item.pk)
        raise StaleWrite(current.title, current.version, "a colleague")
    item.refresh_from_db()
    return item


# --------------------------------------------------------------------------- commitments
@transaction.atomic
def add_commitment(review: Review, *, owner, what: str, due_date) -> Commitment:
    _ensure_open(Review.objects.select_for_update().get(pk=review.pk))
    return Commitment.objects.create(
        team=review.team, review=review, owner=owner, what=what, due_date=due_date
    )


@transaction.atomic
def record_commitment_outcome(commitment: Commitment, status: str, in_review: Review) -> None:
    if status not in {Commitment.Status.DONE, Commitment.Status.MISSED, Commitment.Status.OPEN}:
        raise ValidationError("Mark a commitment done, missed or open.")
    _ensure_open(in_review)
    Commitment.objects.filter(pk=commitment.pk).update(status=status, checked_in=in_review)


# --------------------------------------------------------------------------- closing
def bets_of(review: Review) -> list[tuple[BacklogItem, LightShade]]:
    items = list(
        BacklogItem.objects.filter(review=review).select_related("team").order_by("rank", "pk")
    )
    notes = notes_for(items)
    from planning.notes.services import key_of

    return [(item, notes[key_of(item)]) for item in items]


def blockers(review: Review) -> list[str]:
    return closing_blockers(
        Bet(item.title, ls.balance, item.waived) for item, ls in bets_of(review)
    )


@dataclass
class CloseResult:
    snapshot: PlanSnapshot
    follow_ups: int


@transaction.atomic
def close_review(review: Review, user) -> CloseResult:
    review = Review.objects.select_for_update().select_related("team").get(pk=review.pk)
    _ensure_open(review)
    problems = blockers(review)
    if problems:
        raise ValidationError(
            "Answer light and shade for every bet, or waive it: " + "; ".join(problems) + "."
        )
    now = timezone.now()
    markdown = render_plan_markdown(gather_plan(review, user, now), STEP_TITLES)
    number = (review.snapshots.aggregate(m=Max("number"))["m"] or 0) + 1
    snapshot = PlanSnapshot.objects.create(
        review=review,
        number=number,
        markdown=markdown,
        content_hash=content_hash(markdown),
        closed_at=now,
        closed_by=user,
    )
    follow_ups = sources.schedule_follow_ups(review)
    review.status = Review.Status.CLOSED
    review.closed_at = now
    review.closed_by = user
    review.save(update_fields=["status", "closed_at", "closed_by"])
    sources.complete_review_cadence(review, user)
    return CloseResult(snapshot, follow_ups)


@transaction.atomic
def reopen_review(review: Review) -> Review:
    review = Review.objects.select_for_update().get(pk=review.pk)
    review.status = Review.Status.IN_PROGRESS
    review.save(update_fields=["status"])
    return review


def _quarter_words(review: Review) -> str:
    """ "FY2027 Q3 (Oct–Dec 2026)" for the plan's title."""
    q = parse_quarter(review.quarter, review.team.fiscal_year_start_month)
    return f"{q.label} ({q.months})"


def gather_plan(review: Review, user, when) -> PlanData:
    tz = review.team.tz
    notes = {n.step: n.text for n in review.step_notes.all()}
    plan = PlanData(
        team=review.team.name,
        quarter=_quarter_words(review),
        closed_at=when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
        closed_by=user.display_name,
        step_notes=notes,
    )
    plan.look_back = sources.look_back_lines(review)
    plan.predictions = sources.prediction_lines(review)
    plan.bottleneck = sources.bottleneck_lines(review)
    plan.saturation = sources.saturation_lines(review)
    plan.decisions = [
        (d.step, d.subject_label, d.choice_label, d.note)
        for d in review.decisions.order_by("step", "subject_label")
    ]
    for item, ls in bets_of(review):
        plan.bets.append(
            (
                item.title,
                [n.text for n in ls.light],
                [n.text for n in ls.shade],
                item.waived,
                item.waive_reason,
            )
        )
        plan.backlog.append((item.rank, item.title, item.get_source_display(), item.score))
    plan.backlog.sort()
    plan.commitments = [
        (c.what, c.owner.display_name, c.due_date.isoformat())
        for c in review.commitments.select_related("owner")
    ]
    return plan
