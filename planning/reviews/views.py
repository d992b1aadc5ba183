from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from planning.quarters import current_quarter, quarter_label
from planning.teams import audit
from planning.teams.models import Role
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view
from planning.templatetags.text import render_markdown

from . import services, sources
from .forms import BacklogItemForm, CommitmentForm, ScoreForm, WaiveForm
from .logic import follow_up_sentence
from .models import (
    DECISION_CHOICES,
    STEPS,
    BacklogItem,
    Commitment,
    Decision,
    Review,
    Step,
    StepNote,
)

STEP_TEMPLATE = "reviews/step.html"


def _review(request: TeamRequest, quarter: str) -> Review:
    return team_get_object_or_404(request, Review.objects.select_related("team"), quarter=quarter)


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@team_view
@require_GET
def review_list(request: TeamRequest) -> HttpResponse:
    reviews = (
        Review.objects.for_team(request.team).prefetch_related("snapshots").order_by("-quarter")
    )
    return render(
        request,
        "reviews/review_list.html",
        {"reviews": reviews, "current": str(current_quarter(request.team))},
    )


@team_view
@require_POST
def start(request: TeamRequest) -> HttpResponse:
    review, created = services.start_review(request.team, request.user)
    if created:
        label = quarter_label(review.quarter, request.team.fiscal_year_start_month)[0]
        messages.success(request, f"The {label} review has started. Step 1: look back.")
    return redirect(review.step_url(Step.LOOK_BACK))


@team_view
@require_GET
def review(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    if review.is_closed:
        return redirect("reviews:plan", team=request.team.slug, quarter=quarter)
    return redirect(review.step_url(Step.LOOK_BACK))


def _step_context(request: TeamRequest, review: Review, n: int) -> dict:
    notes = {note.step: note for note in review.step_notes.all()}
    decisions = {d.subject_key: d for d in review.decisions.all()}
    context: dict[str, Any] = {
        "review": review,
        "step": n,
        "steps": [
            {"n": num, "title": title, "blurb": blurb, "done": num in notes and notes[num].text}
            for num, title, blurb in STEPS
        ],
        "step_title": STEPS[n - 1][1],
        "step_blurb": STEPS[n - 1][2],
        "note": notes.get(n),
        "can_edit": request.membership.can_edit and not review.is_closed,
        "live": sources.step_context(review, n),
    }
    if n in DECISION_CHOICES:
        context["choices"] = DECISION_CHOICES[n]
        context["subjects"] = [
            {"subject": s, "decision": decisions.get(s.key)}
            for s in sources.step_subjects(review, n)
        ]
    if n == Step.LOOK_BACK:
        previous = services.previous_review(review)
        context["previous"] = previous
        context["previous_commitments"] = (
            list(previous.commitments.select_related("owner")) if previous else []
        )
    if n in (Step.LIGHT_AND_SHADE, Step.BACKLOG):
        context["bets"] = services.bets_of(review)
        context["rows"] = _rows(context["bets"])
    if n == Step.COMMITMENTS:
        context["commitments"] = list(review.commitments.select_related("owner"))
        context["commitment_form"] = CommitmentForm(team=request.team)
        context["blockers"] = services.blockers(review)
    return context


@team_view
@require_GET
def step(request: TeamRequest, quarter: str, n: int) -> HttpResponse:
    if not 1 <= n <= len(STEPS):
        raise Http404("No such step")
    review = team_get_object_or_404(
        request,
        Review.objects.select_related("team").prefetch_related(
            Prefetch("step_notes", queryset=StepNote.objects.select_related("updated_by")),
            Prefetch("decisions", queryset=Decision.objects.select_related("decided_by")),
        ),
        quarter=quarter,
    )
    return render(request, STEP_TEMPLATE, _step_context(request, review, n))


@team_view
@require_POST
def save_note(request: TeamRequest, quarter: str, n: int) -> HttpResponse:
    review = _review(request, quarter)
    if not 1 <= n <= len(STEPS):
        raise Http404("No such step")
    text = request.POST.get("text", "")
    version = _int(request.POST.get("version"))
    context = {"review": review, "step": n}
    try:
        note = services.save_step_note(review, n, text, version, request.user)
    except services.StaleWrite as stale:
        context.update(conflict=stale, mine=text, version=version)
        return render(request, f"{STEP_TEMPLATE}#note_status", context, status=409)
    except ValidationError as refused:  # closed, or notes too long: the textarea keeps them
        context["error"] = f"Not saved: {refused.messages[0]}"
        context["version"] = version  # still the saved one: the next save must not look stale
        return render(request, f"{STEP_TEMPLATE}#note_status", context, status=400)
    context.update(note=note, saved=True)
    return render(request, f"{STEP_TEMPLATE}#note_status", context)


@team_view
@require_POST
def decide(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    step_n = _int(request.POST.get("step"))
    key = request.POST.get("subject_key", "")
    subjects = {s.key: s for s in sources.step_subjects(review, step_n)}
    subject = subjects.get(key)
    if subject is None:
        raise Http404("No such subject in this step")
    context: dict[str, Any] = {
        "review": review,
        "item": {"subject": subject, "decision": None},
        "choices": DECISION_CHOICES.get(step_n, []),
        "step": step_n,
        "can_edit": True,
    }
    status = 200
    try:
        decision = services.decide(
            review,
            step=step_n,
            subject_key=key,
            subject_label=subject.label,
            choice=request.POST.get("choice", ""),
            note=request.POST.get("note", ""),
            version=_int(request.POST.get("version")),
            user=request.user,
        )
        context["item"]["decision"] = decision
        context["saved"] = True
    except services.StaleWrite as stale:
        context["item"]["decision"] = Decision.objects.filter(
            review=review, subject_key=key
        ).first()
        context["conflict"] = stale
        status = 409
    except ValidationError as error:
        context["item"]["decision"] = Decision.objects.filter(
            review=review, subject_key=key
        ).first()
        context["error"] = f"Not saved: {error.messages[0]}"
        context["typed_note"] = request.POST.get("note", "")  # shown again, not lost
        status = 400
    return render(request, f"{STEP_TEMPLATE}#subject", context, status=status)


def _rows(bets: list) -> list[tuple]:
    """Backlog rows with the ids of the items above and below each one (for ↑ and ↓)."""
    ids = [item.pk for item, _ in bets]
    previous = [None, *ids][: len(ids)]
    following = [*ids[1:], None][: len(ids)]
    return [
        (item, ls, prev, nxt)
        for (item, ls), prev, nxt in zip(bets, previous, following, strict=True)
    ]


def _backlog_response(request: HttpRequest, review: Review, n: int, **extra) -> HttpResponse:
    status = extra.pop("status", 200)
    bets = services.bets_of(review)
    context = {
        "review": review,
        "step": n,
        "bets": bets,
        "rows": _rows(bets),
        "can_edit": not review.is_closed,
        **extra,
    }
    partial = "backlog" if n == Step.BACKLOG else "bets"
    return render(request, f"{STEP_TEMPLATE}#{partial}", context, status=status)


@team_view
@require_POST
def backlog_add(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    form = BacklogItemForm(request.POST)
    if not form.is_valid():
        return _backlog_response(request, review, Step.BACKLOG, add_form=form, status=400)
    try:
        services.add_backlog_item(review, form.cleaned_data["title"])
    except services.ReviewClosed as closed:
        return _backlog_response(
            request, review, Step.BACKLOG, error=closed.messages[0], status=400
        )
    return _backlog_response(request, review, Step.BACKLOG)


@team_view
@require_POST
def backlog_move(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    moved = _int(request.POST.get("moved"), -1)
    before = _int(request.POST.get("before"), -1)
    team_get_object_or_404(request, BacklogItem, pk=moved, review=review)
    try:
        services.move_backlog_item(review, moved, before if before > 0 else None)
    except services.ReviewClosed as closed:
        return _backlog_response(
            request, review, Step.BACKLOG, error=closed.messages[0], status=400
        )
    return _backlog_response(request, review, Step.BACKLOG)


@team_view
@require_POST
def backlog_score(request: TeamRequest, quarter: str, pk: int) -> HttpResponse:
    review = _review(request, quarter)
    item = team_get_object_or_404(request, BacklogItem, pk=pk, review=review)
    form = ScoreForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items())
        return _backlog_response(
            request, review, Step.BACKLOG, error=f"Scores are 1–10 ({errors}).", status=400
        )
    data = form.cleaned_data
    try:
        services.update_backlog_item(
            item,
            data["version"],
            impact=data["impact"],
            confidence=data["confidence"],
            effort=data["effort"],
        )
    except services.StaleWrite:
        return _backlog_response(
            request,
            review,
            Step.BACKLOG,
            error=f"“{item.title}” was changed by a colleague meanwhile: here is the latest.",
            status=409,
        )
    except services.ReviewClosed as closed:
        return _backlog_response(
            request, review, Step.BACKLOG, error=closed.messages[0], status=400
        )
    return _backlog_response(request, review, Step.BACKLOG)


@team_view
@require_POST
def backlog_waive(request: TeamRequest, quarter: str, pk: int) -> HttpResponse:
    review = _review(request, quarter)
    item = team_get_object_or_404(request, BacklogItem, pk=pk, review=review)
    form = WaiveForm(request.POST)
    if not form.is_valid():
        message = next(iter(form.errors.values()))[0]
        return _backlog_response(request, review, Step.LIGHT_AND_SHADE, error=message, status=400)
    try:
        services.update_backlog_item(
            item,
            form.cleaned_data["version"],
            waived=form.cleaned_data["waived"],
            waive_reason=form.cleaned_data["waive_reason"].strip(),
        )
    except services.StaleWrite:
        return _backlog_response(
            request,
            review,
            Step.LIGHT_AND_SHADE,
            error="A colleague changed this bet meanwhile.",
            status=409,
        )
    except services.ReviewClosed as closed:
        return _backlog_response(
            request, review, Step.LIGHT_AND_SHADE, error=closed.messages[0], status=400
        )
    return _backlog_response(request, review, Step.LIGHT_AND_SHADE)


@team_view
@require_POST
def commitment_add(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    form = CommitmentForm(request.POST, team=request.team)
    status = 200
    if form.is_valid():
        try:
            services.add_commitment(review, **form.cleaned_data)
            form = CommitmentForm(team=request.team)
        except services.ReviewClosed as closed:
            form.add_error(None, closed.messages[0])
            status = 400
    else:
        status = 400
    context = {
        "review": review,
        "step": Step.COMMITMENTS,
        "commitments": list(review.commitments.select_related("owner")),
        "commitment_form": form,
        "can_edit": not review.is_closed,
    }
    return render(request, f"{STEP_TEMPLATE}#commitments", context, status=status)


@team_view
@require_POST
def commitment_outcome(request: TeamRequest, quarter: str, pk: int) -> HttpResponse:
    review = _review(request, quarter)
    commitment = team_get_object_or_404(request, Commitment, pk=pk)
    try:
        services.record_commitment_outcome(commitment, request.POST.get("status", ""), review)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect(review.step_url(Step.LOOK_BACK))


@team_view
@require_POST
def close(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    try:
        result = services.close_review(review, request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect(review.step_url(Step.COMMITMENTS))
    reminders = follow_up_sentence(result.follow_ups, review.commitments.count())
    messages.success(
        request,
        f"The {quarter_label(quarter, request.team.fiscal_year_start_month)[0]} plan is frozen "
        f"(SHA-256 {result.snapshot.content_hash[:12]}…). {reminders}",
    )
    return redirect("reviews:plan", team=request.team.slug, quarter=quarter)


@team_view(write_role=Role.OWNER)
@require_POST
def reopen(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    with transaction.atomic():
        services.reopen_review(review)
        audit.record(
            request.team, request.user, "review.reopened", f"Reopened the {quarter} review"
        )
    messages.info(request, "The review is open again. The frozen plan stays in its history.")
    return redirect(review.step_url(Step.COMMITMENTS))


def _snapshot(request: HttpRequest, review: Review):
    snapshots = list(review.snapshots.select_related("closed_by").order_by("-number"))
    if not snapshots:
        raise Http404("This review has not been closed yet.")
    wanted = _int(request.GET.get("v"), snapshots[0].number)
    chosen = next((s for s in snapshots if s.number == wanted), snapshots[0])
    return chosen, snapshots


@team_view
@require_GET
def plan(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    snapshot, snapshots = _snapshot(request, review)
    html = render_markdown(snapshot.markdown)
    return render(
        request,
        "reviews/plan.html",
        {"review": review, "snapshot": snapshot, "snapshots": snapshots, "plan_html": html},
    )


@team_view
@require_GET
def plan_markdown(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    snapshot, _ = _snapshot(request, review)
    response = HttpResponse(snapshot.markdown, content_type="text/markdown; charset=utf-8")
    filename = f"{request.team.slug}-plan-{quarter}-v{snapshot.number}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-SHA256"] = snapshot.content_hash
    return response
