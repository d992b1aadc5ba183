""" "Find the missing side" on the workers: sub-agents that write to one live session directly.

`find_missing_sides` (the orchestrator) claims the run's session, gathers the review's
evidence once, and starts one `write_side` task per bet. It relays nothing: each part joins
the session under the orchestrator's epoch (`LiveWriter.join`) and streams its own tokens to
the stream `bet-<pk>`, so every tab following the session sees each bet's part grow under its
bet. Every write locks the session row and takes the next seq, so parts writing at the same
time interleave without gaps.

The session ends with exactly one terminal event, written by whichever part ends last: each
part records its outcome and increments the run's `parts_done` in one transaction with its
last events (the run row locked), and the part that makes it `parts_total` appends the
terminal event in that same transaction (completed; cancelled after a stop; failed when no
bet got a proposal). A part delivered twice finds its proposal decided and counts nothing.

Prompt caching: every part sends the same evidence as a cached system block. A cache entry can
be read only once the answer that writes it has begun, so the first bet's part goes alone and
the others wait (at most `WARM_WAIT` seconds) until its answer starts streaming: one write, then
reads at a tenth of the input price, instead of every part writing the cache at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from audits import client
from planning.live.models import Status
from planning.live.writer import Fenced, LiveWriter, append
from planning.notes.services import light_shade_of
from planning.reviews.logic import Step
from planning.reviews.models import STEPS

from . import sides
from .citations import EvidenceItem
from .evidence import gather
from .missing_side import usage_of
from .models import SideProposal, SideRun
from .services import settings_for, spent_this_month

log = logging.getLogger(__name__)

MAX_TOKENS = 400
WARM_WAIT = 60.0  # seconds a part waits for the first part's answer to begin
EVIDENCE_STEPS = (Step.AUDIT, Step.SATURATION, Step.BOTTLENECKS, Step.LIGHT_AND_SHADE)
STEP_TITLE = STEPS[Step.LIGHT_AND_SHADE - 1][1]
STOPPED = "Stopped."


def shared_evidence(review) -> list[EvidenceItem]:
    """What every bet's call sends first: the lit-up ideas, form factors, bottleneck stages
    and every bet with its light and shade (ids unique, the first wins)."""
    seen: dict[str, EvidenceItem] = {}
    for step in EVIDENCE_STEPS:
        for item in gather(review, step):
            seen.setdefault(item.cid, item)
    return list(seen.values())


# ----------------------------------------------------------------------------- the cache gate
def _warm_key(run: SideRun) -> str:
    return f"facilitator:sides:{run.session_id}:warm"  # a UUID: unique across databases too


def signal_warm(run: SideRun) -> None:
    client.get_redis().set(_warm_key(run), 1, ex=3600)


def wait_warm(run: SideRun, writer: LiveWriter, limit: float = WARM_WAIT) -> None:
    """Until the first part's answer has begun (or it ended, or a stop, or `limit` s)."""
    r = client.get_redis()
    deadline = time.monotonic() + limit
    while not r.exists(_warm_key(run)) and time.monotonic() < deadline:
        if writer.should_stop():
            return
        time.sleep(0.05)


# ----------------------------------------------------------------------------- orchestrator
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def find_missing_sides(self, run_id: int) -> str:
    run = SideRun.objects.select_related("review__team").get(pk=run_id)
    if run.dispatched_at is not None:
        return "already dispatched"  # a redelivery after the parts were started
    try:
        w = LiveWriter.claim(run.session_id, task_id=self.request.id)
    except Fenced:
        return "session ended"  # stopped while queued: the page shows the bets as stopped
    pending = list(run.proposals.filter(status=SideProposal.Status.RUNNING).order_by("order"))
    n = run.parts_total
    try:
        if w.should_stop():
            run.proposals.filter(status=SideProposal.Status.RUNNING).update(
                status=SideProposal.Status.FAILED, error=STOPPED
            )
            w.finish(Status.CANCELLED)
            return "stopped"
        w.emit("progress", {"done": 0, "total": n, "label": "Gathering the review's evidence"})
        items = shared_evidence(run.review)
        SideRun.objects.filter(pk=run.pk).update(evidence=[i.as_dict() for i in items])
        label = f"Proposing the missing side of {n} bet{'s' if n != 1 else ''} with {run.model}"
        w.emit("progress", {"done": 0, "total": n, "label": label})
    except Fenced:
        return "fenced"
    except Exception:
        run.proposals.filter(status=SideProposal.Status.RUNNING).update(
            status=SideProposal.Status.FAILED, error="The evidence could not be gathered."
        )
        if not w.closed:
            w.finish(Status.FAILED, {"error": "The evidence could not be gathered."})
        raise
    for proposal in pending:  # the first bet's part first: it writes the prompt cache
        write_side.apply_async((proposal.pk, w.epoch))
    SideRun.objects.filter(pk=run.pk).update(dispatched_at=timezone.now())
    return f"{len(pending)} parts"


# ----------------------------------------------------------------------------- one bet
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def write_side(self, proposal_id: int, epoch: int) -> str:
    proposal = SideProposal.objects.select_related("run__review__team", "bet").get(pk=proposal_id)
    if proposal.status != SideProposal.Status.RUNNING:
        return "already decided"
    run = proposal.run
    writer = LiveWriter.join(run.session_id, epoch)
    first = proposal.order == 0
    try:
        if not first:
            wait_warm(run, writer)
        outcome = _propose(proposal, run, writer, first)
    except Fenced:
        outcome = {"status": SideProposal.Status.FAILED, "error": STOPPED}
    finally:
        if first:
            signal_warm(run)
    return finish_part(proposal, run, epoch, writer, outcome)


def _propose(proposal: SideProposal, run: SideRun, w: LiveWriter, first: bool) -> dict[str, Any]:
    """Stream the model's proposal into the bet's stream; the fields to record."""
    failed = SideProposal.Status.FAILED
    if w.should_stop():
        return {"status": failed, "error": STOPPED}
    team = run.review.team
    setting = settings_for(team)
    if spent_this_month(team) >= setting.monthly_budget_usd:
        return {"status": failed, "error": "This month's facilitator budget is spent."}
    ls = light_shade_of(proposal.bet)
    if getattr(ls, proposal.kind):
        side = sides.SIDES[proposal.kind]
        return {"status": failed, "error": f"The bet has its {side} by now."}
    written = [n.text for n in (ls.light if proposal.kind == "shade" else ls.shade)]
    items = [EvidenceItem.from_dict(d) for d in run.evidence or []]
    system = sides.system_blocks(STEP_TITLE, run.review.quarter, items)
    user = sides.bet_request(f"B{proposal.bet_id}", proposal.bet.title, proposal.kind, written)
    stream = proposal.stream
    parts: list[str] = []

    def on_text(text: str) -> None:
        if first and not parts:
            signal_warm(run)  # the answer has begun: the cache entry is readable now
        parts.append(text)
        w.token(text, stream=stream)

    def restart(_attempt: int) -> None:
        parts.clear()
        message = f"The model was interrupted; proposing for “{proposal.bet.title}” again."
        w.emit("error", {"message": message, "stream": stream, "restart": True})

    model = proposal.model or run.model
    try:
        result = client.call(
            team_id=team.pk,
            model=model,
            system=system,
            messages=[{"role": "user", "content": user}],
            max_tokens=MAX_TOKENS,
            on_text=on_text,
            should_stop=w.should_stop,
            on_restart=restart,
        )
    except client.Cancelled:
        return {"status": failed, "error": STOPPED, "text": "".join(parts)}
    except client.CallError as exc:
        return {"status": failed, "error": f"The model call failed ({exc.kind})."} | _usage(
            model, exc.usage, client.cost_of(model, exc.usage)
        )
    return {
        "status": SideProposal.Status.READY,
        "text": sides.clean(result.text),
        "model": result.model,
    } | _usage(result.model, result.usage, result.cost_usd)


def _usage(model: str, usage: dict[str, int], cost) -> dict[str, Any]:
    return {
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cache_creation_tokens": usage.get("cache_creation_input_tokens", 0),
        "cache_read_tokens": usage.get("cache_read_input_tokens", 0),
        "cost_usd": cost,
    }


def finish_part(
    proposal: SideProposal, run: SideRun, epoch: int, w: LiveWriter, outcome: dict[str, Any]
) -> str:
    """Record the part's outcome and count it, with its last events, in one transaction; the
    part that counts last also writes the session's one terminal event."""
    with contextlib.suppress(Fenced):  # decided below: a stale epoch rolls back the outcome,
        w.flush()  # an ended session keeps it
    ready = outcome["status"] == SideProposal.Status.READY
    title = proposal.bet.title
    side = sides.SIDES[proposal.kind]
    try:
        with transaction.atomic():
            if not SideProposal.objects.filter(
                pk=proposal.pk, status=SideProposal.Status.RUNNING
            ).update(**outcome):
                return "already decided"
            locked = SideRun.objects.select_for_update().get(pk=run.pk)
            done = locked.parts_done + 1
            SideRun.objects.filter(pk=run.pk).update(parts_done=done)
            label = f"Proposed the {side} of “{title}”" if ready else f"No {side} for “{title}”"
            events: list[tuple[str, dict]] = [
                (
                    "progress",
                    {
                        "done": done,
                        "total": locked.parts_total,
                        "label": label,
                        "stream": proposal.stream,
                    },
                )  # fmt: skip
            ]
            if not ready and outcome.get("error") != STOPPED:
                events.append(
                    (
                        "error",
                        {"message": f"“{title}”: {outcome['error']}", "stream": proposal.stream},
                    )
                )
            end = None
            if done >= locked.parts_total:
                end, data = _ending(locked)
                events.append((end, data))
                transaction.on_commit(lambda: client.get_redis().delete(_warm_key(run)))
            try:
                append(run.session_id, events, epoch=epoch, end=end)
            except Fenced:
                if SideRun.objects.filter(pk=run.pk, session__status=Status.ACTIVE).exists():
                    raise  # a newer delivery of the orchestrator owns the run: undo, it redoes
                # the session was ended for it (stop enforced, reaper): keep the outcome
    except Fenced:
        return "fenced"
    return outcome["status"]


def _ending(run: SideRun) -> tuple[str, dict]:
    statuses = list(run.proposals.values_list("status", flat=True))
    proposed = statuses.count(SideProposal.Status.READY)
    usage = usage_of(run)
    data: dict[str, Any] = {
        "proposals": proposed,
        "bets": run.parts_total,
        "cost_usd": str(usage["cost_usd"]),
        "usage": sides.usage_words(usage),
    }
    stopped = SideRun.objects.filter(pk=run.pk, session__cancel_requested_at__isnull=False).exists()
    if stopped:
        return Status.CANCELLED, data
    if not proposed:
        return Status.FAILED, data | {"error": "No bet got a proposal."}
    return Status.COMPLETED, data
