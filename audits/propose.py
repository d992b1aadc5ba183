"""Probes from an idea (issue 19), as operations: start a proposal (gated by the team's
facilitator setting and budget), the worker's part (stream the model's answer, parse it, check
each proposal with the probe form), and the probe form a proposal becomes. Views and the Celery
task call these; the prompt and the parsing are pure functions in proposals.py."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import QueryDict

from planning.facilitator import assist
from planning.inputs import strip_unstorable
from planning.live import services as live
from planning.live.writer import run

from . import proposals as pure
from .forms import ProbeForm
from .models import Idea, Probe, ProbeProposal

MAX_TOKENS = 2500


class Refused(Exception):
    """A proposal that may not start: the message says why."""


def refusal(idea: Idea) -> str:
    return assist.refusal(idea.team, "propose probes")


def sent_for(idea: Idea) -> str:
    return pure.user_prompt(
        title=idea.title,
        description=idea.description,
        capability=idea.capability_needed,
        failed_on=idea.failed_on,
        why_failed=idea.why_failed,
    )


def start(idea: Idea, user) -> ProbeProposal:
    """Create the proposal and its live session and start the task; Refused says why not."""
    from .tasks import propose_probes

    with transaction.atomic():
        Idea.objects.select_for_update().filter(pk=idea.pk).first()  # one start at a time
        reason = refusal(idea)
        if reason:
            raise Refused(reason)
        running = ProbeProposal.objects.filter(
            idea=idea, status=ProbeProposal.Status.RUNNING, session__status="active"
        )
        if running.exists():
            raise Refused("Claude is already proposing probes for this idea: follow it here.")
        session = live.create_session(
            idea.team, kind="probe_proposal", title=f"Probes for “{idea.title}”"[:200], user=user
        )
        proposal = ProbeProposal.objects.create(
            team=idea.team,
            idea=idea,
            session=session,
            sent=sent_for(idea),
            model=assist.model(idea.team),
            created_by=user,
        )
        live.start(session, propose_probes, proposal.pk)
    return proposal


def form_for(proposal: dict[str, Any], judge_model: str) -> ProbeForm:
    """The probe form bound to a proposal: the one validation every probe goes through."""
    data = QueryDict(mutable=True)
    data.update(pure.form_data(proposal, judge_model))
    return ProbeForm(data)


def errors_of(form: ProbeForm) -> dict[str, list[str]]:
    if form.is_valid():
        return {}
    return {
        str(form.fields[name].label or name) if name in form.fields else "Probe": [
            str(m) for m in messages
        ]
        for name, messages in form.errors.items()
    }


def checked(items: list[dict[str, Any]], judge_model: str) -> list[dict[str, Any]]:
    """Each proposal with the probe form's verdict on it ("errors"; empty = a valid probe)."""
    return [{**item, "errors": errors_of(form_for(item, judge_model))} for item in items]


def judge_for(batch: ProbeProposal) -> str:
    """The judge model a judge grader is given: the model that proposed it, when the Models
    list knows it, else the team's facilitator model."""
    from .models import Model

    known = set(Model.objects.filter(retired=False).values_list("model_id", flat=True))
    for candidate in (batch.model, assist.model(batch.team)):
        if candidate in known:
            return candidate
    return batch.model


def generate(proposal_id: int, task_id: str = "") -> str:
    """The worker's part (tasks.propose_probes)."""
    batch = ProbeProposal.objects.select_related("team", "idea").get(pk=proposal_id)
    rows = ProbeProposal.objects.filter(pk=batch.pk)
    with run(batch.session_id, task_id=task_id) as w:
        called = assist.start_call(
            w,
            batch,
            rows,
            system=pure.SYSTEM_PROMPT,
            max_tokens=MAX_TOKENS,
            label="Proposing probes",
        )
        if isinstance(called, str):
            return called
        fields = called.fields
        text = strip_unstorable(called.result.text)
        parsed = pure.parse(text)
        if parsed.error:
            rows.update(status=ProbeProposal.Status.FAILED, text=text, error=parsed.error, **fields)
            w.emit("error", {"message": parsed.error})
            return "malformed"
        batch.model = fields["model"]
        items = checked(parsed.proposals, judge_for(batch))
        rows.update(
            status=ProbeProposal.Status.READY,
            text=text,
            proposals=items,
            note=parsed.note,
            **fields,
        )
        valid = sum(1 for item in items if not item["errors"])
        w.emit(
            "result",
            {
                "proposal": batch.pk,
                "proposed": len(items),
                "valid": valid,
                **called.usage_event(),
            },
        )
    return "ready"


class NotAvailable(Exception):
    pass


def item_of(batch: ProbeProposal, n: int) -> dict[str, Any]:
    if batch.status != ProbeProposal.Status.READY or not 0 <= n < len(batch.proposals or []):
        raise NotAvailable("No such proposal.")
    return batch.proposals[n]


def unsaved_probe(batch: ProbeProposal, n: int) -> Probe:
    """The proposal as a probe that is not saved (for "Try once"); NotAvailable with the form's
    first error when the probe form refuses it."""
    form = form_for(item_of(batch, n), judge_for(batch))
    if not form.is_valid():
        first = next(iter(errors_of(form).items()))
        raise NotAvailable(f"This proposal is not a valid probe ({first[0]}: {first[1][0]}).")
    probe = form.save(commit=False)
    probe.idea = batch.idea
    return probe


def mark_saved(batch: ProbeProposal, n: int, probe: Probe) -> None:
    """Record on the proposal that a person saved it as `probe` (under a row lock)."""
    with transaction.atomic():
        locked = ProbeProposal.objects.select_for_update().get(pk=batch.pk)
        items = list(locked.proposals or [])
        if 0 <= n < len(items):
            items[n] = {**items[n], "probe_id": probe.pk}
            ProbeProposal.objects.filter(pk=batch.pk).update(proposals=items)
