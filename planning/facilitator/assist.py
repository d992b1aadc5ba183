"""The facilitator's assists beside other modules (issue 19): probes from an idea (audits) and a
critique of a prediction's rationale (predictions). They share the review drafts' gate (the
team setting, off by default; the monthly budget; a known model) and the way a generation runs:
one streamed call through audits.client into a live session, usage and cost recorded on the
row that asked for it. The rows live beside the module they serve (audits.ProbeProposal,
predictions.Critique); this module only knows their common fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model, Sum

from audits import client


def _rows() -> list[type[Model]]:
    from audits.models import ProbeProposal
    from predictions.models import Critique

    return [ProbeProposal, Critique]


def spent_on_assists(team, start: datetime) -> Decimal:
    """What the assists cost the team since `start` (one query per kind of assist)."""
    total = Decimal(0)
    for row in _rows():
        spent = row.objects.filter(team=team, created_at__gte=start).aggregate(  # type: ignore[attr-defined]  # every assist row has a default manager
            total=Sum("cost_usd")
        )["total"]
        total += spent or Decimal(0)
    return total


def refusal(team, what: str) -> str:
    """Why a new assist (`what`, e.g. "propose probes") may not start now ("" when it may)."""
    from .services import model_for, settings_for

    setting = settings_for(team)
    reason = spend_refusal(team, what, setting)
    if reason:
        return reason
    if not model_for(setting):
        return "No model is known yet: an owner can choose one in the facilitator settings."
    return ""


def spend_refusal(team, what: str, setting=None) -> str:
    """Why Claude may not make a further model call for `what` now: the facilitator is off or
    this month's budget is spent ("" when it may)."""
    from .services import settings_for, spent_this_month

    setting = setting or settings_for(team)
    if not setting.enabled:
        return (
            f"Claude cannot {what}: the Claude facilitator is off for this team. An owner can "
            "turn it on in its settings."
        )
    spent = spent_this_month(team)
    if spent >= setting.monthly_budget_usd:
        return (
            f"Claude cannot {what}: this month's facilitator budget is spent (${spent:.2f} of "
            f"${setting.monthly_budget_usd:.2f}). An owner can raise it in the settings; it "
            "renews on the 1st."
        )
    return ""


def model(team) -> str:
    from .services import model_for, settings_for

    return model_for(settings_for(team))


@dataclass
class Outcome:
    """How one assist call ended: `result` when it answered; else `error` (a sentence for a
    person) with the usage that was billed anyway."""

    result: client.CallResult | None
    error: str = ""
    usage: dict[str, int] | None = None

    def usage_fields(self, model_id: str) -> dict[str, Any]:
        if self.result is not None:
            return {
                "model": self.result.model,
                "input_tokens": self.result.input_tokens,
                "output_tokens": self.result.output_tokens,
                "cost_usd": self.result.cost_usd,
            }
        usage = self.usage or {}
        return {
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "cost_usd": client.cost_of(model_id, usage),
        }


def stream(
    writer,
    *,
    team_id: int,
    model_id: str,
    system: str,
    user: str,
    max_tokens: int,
    label: str,
    on_text: Callable[[str], None] | None = None,
) -> Outcome:
    """One streamed call: tokens to the live session's writer, progress and errors as events."""
    writer.emit("progress", {"done": 0, "total": 1, "label": f"{label} with {model_id}"})

    def restart(_attempt: int) -> None:
        writer.emit("error", {"message": "The model was interrupted; asking again."})

    def text(piece: str) -> None:
        writer.token(piece)
        if on_text:
            on_text(piece)

    try:
        result = client.call(
            team_id=team_id,
            model=model_id,
            system=system,
            messages=[{"role": "user", "content": user}],
            max_tokens=max_tokens,
            on_text=text,
            should_stop=writer.should_stop,
            on_restart=restart,
        )
    except client.Cancelled:
        return Outcome(None, "Stopped.")
    except client.CallError as exc:
        message = f"The model call failed ({exc.kind.replace('_', ' ')})."
        writer.emit("error", {"message": message})
        return Outcome(None, message, exc.usage)
    writer.emit("progress", {"done": 1, "total": 1, "label": "Done"})
    return Outcome(result)


@dataclass
class Called:
    """An assist call that answered, with its usage fields (as Outcome.usage_fields)."""

    result: client.CallResult
    fields: dict[str, Any]

    def usage_event(self) -> dict[str, Any]:
        """The usage a "result" event carries."""
        return {
            "input_tokens": self.fields["input_tokens"],
            "output_tokens": self.fields["output_tokens"],
            "cost_usd": str(self.fields["cost_usd"]),
        }


def start_call(writer, row, rows, *, system: str, max_tokens: int, label: str) -> Called | str:
    """The common part of an assist's worker: stop when asked to, else stream the call for `row`
    (its `sent` to its `model`). When the call gives no answer `rows` (a queryset of the row) is
    marked failed with the usage billed anyway, and the outcome's word is returned ("stopped",
    "failed"); else the answer with the usage fields to record."""
    failed = type(row).Status.FAILED
    if writer.should_stop():
        rows.update(status=failed, error="Stopped.")
        return "stopped"
    outcome = stream(
        writer,
        team_id=row.team_id,
        model_id=row.model,
        system=system,
        user=row.sent,
        max_tokens=max_tokens,
        label=label,
    )
    fields = outcome.usage_fields(row.model)
    if outcome.result is None:
        rows.update(status=failed, error=outcome.error, **fields)
        return "failed"
    return Called(outcome.result, fields)


def panel_state(team, membership, row) -> dict[str, Any]:
    """What an assist's panel shows of the gate and of its latest row (or None): the team's
    setting, whether the user is an owner, this month's spend (when on), whether the row's
    generation is running, and whether it stopped without ending (its worker never finished)."""
    from .services import settings_for, spent_this_month

    setting = settings_for(team)
    is_running = bool(row and row.status == "running")
    running = bool(is_running and row.session and not row.session.is_finished)
    return {
        "setting": setting,
        "is_owner": membership.is_owner,
        "spent": spent_this_month(team) if setting.enabled else None,
        "running": running,
        "stopped": is_running and not running,
    }
