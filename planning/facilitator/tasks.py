"""The facilitator's generation: gather the step's evidence, stream the model's draft into
the live session, take steers at token boundaries (planning/facilitator/steering.py), record
the text, the steers, usage and cost of every turn on the Draft."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction

from audits import client
from planning.live.models import Status
from planning.live.writer import LiveWriter, Steered, run
from planning.reviews.models import STEPS

from .citations import SYSTEM_PROMPT, evidence_block
from .evidence import gather
from .models import Draft
from .steering import Turn, messages_for, revision_messages

MAX_TOKENS = 900


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def draft_step(self, draft_id: int) -> str:
    draft = Draft.objects.select_related("review__team", "follows").get(pk=draft_id)
    review = draft.review
    with run(draft.session_id, task_id=self.request.id) as w:
        if w.should_stop():
            Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.FAILED, error="Stopped.")
            return str(draft.pk)
        w.emit("progress", {"done": 0, "total": 2, "label": "Gathering the evidence"})
        items = draft.follows.items if draft.follows else gather(review, draft.step)
        Draft.objects.filter(pk=draft.pk).update(evidence=[i.as_dict() for i in items])
        verb = "Revising" if draft.follows else "Drafting"
        w.emit("progress", {"done": 1, "total": 2, "label": f"{verb} with {draft.model}"})
        evidence = evidence_block(STEPS[draft.step - 1][1], review.quarter, items)
        _Drafting(w, draft, evidence).run()
    return str(draft.pk)


class _Drafting:
    """One delivery's drafting: turns of model calls, each ended by steers or by the end."""

    def __init__(self, w: LiveWriter, draft: Draft, evidence: str) -> None:
        self.w, self.draft, self.evidence = w, draft, evidence
        self.turns = [Turn()]
        self.applied: list[dict[str, Any]] = []
        self.revision = ""  # a revision's instruction (its session's first steer)
        self.usage: dict[str, int] = {}
        self.calls = 0
        self.model = draft.model

    @property
    def text(self) -> str:
        return "".join(turn.text for turn in self.turns)

    def take_steers(self) -> None:
        """Take the new steers in log order; each ends the current turn (once: a cursor)."""
        for row in self.w.take_steers():
            instruction = str(row.data.get("text", ""))
            if row.data.get("revision") and not self.calls and not self.revision:
                self.revision = instruction
                self.applied.append(
                    {"seq": row.seq, "text": instruction, "by": row.data.get("by", ""),
                     "at": 0, "revision": True}
                )  # fmt: skip
                continue
            self.turns[-1].steers.append(instruction)
            self.turns[-1].interrupted = True
            self.applied.append(
                {"seq": row.seq, "text": instruction, "by": row.data.get("by", ""),
                 "at": len(self.text)}
            )  # fmt: skip
            self.w.emit("steer_applied", {"steer": row.seq, "text": instruction})

    def base(self) -> list[dict[str, Any]]:
        if self.revision and self.draft.follows:
            return revision_messages(self.evidence, self.draft.follows.text, self.revision)
        return [{"role": "user", "content": self.evidence}]

    def on_text(self, text: str) -> None:
        self.turns[-1].text += text
        self.w.token(text)

    def on_restart(self, _attempt: int) -> None:
        self.turns[-1].text = ""
        self.w.emit("error", {"message": "The model was interrupted; drafting again."})

    def interrupt(self) -> bool:
        return self.w.should_stop() or self.w.steer_waiting()

    def record(self, status: str, **fields: Any) -> None:
        """The text, steers and usage of every turn (always: they were billed), and the
        status unless a person decided meanwhile (discarded while it ran)."""
        drafts = Draft.objects.filter(pk=self.draft.pk)
        drafts.update(
            text=self.text,
            steers=self.applied,
            turns=self.calls,
            input_tokens=self.usage.get("input_tokens", 0),
            output_tokens=self.usage.get("output_tokens", 0),
            cost_usd=client.cost_of(self.model, self.usage),
            **fields,
        )
        drafts.filter(status=Draft.Status.RUNNING).update(status=status)

    def add_usage(self, usage: dict[str, int]) -> None:
        for key, value in usage.items():
            self.usage[key] = self.usage.get(key, 0) + value

    def run(self) -> None:
        self.take_steers()  # a redelivery's steers so far, a revision's instruction
        while True:
            if self.turns[-1].interrupted:
                self.turns.append(Turn())
            self.calls += 1
            try:
                result = client.call(
                    team_id=self.draft.team_id,
                    model=self.draft.model,
                    system=SYSTEM_PROMPT,
                    messages=messages_for(self.base(), self.turns),
                    max_tokens=MAX_TOKENS,
                    on_text=self.on_text,
                    should_stop=self.interrupt,
                    on_restart=self.on_restart,
                )
            except client.Cancelled as cancelled:
                self.add_usage(cancelled.usage)
                if self.w.should_stop():
                    self.record(status=Draft.Status.FAILED, error="Stopped.")
                    return
                self.turns[-1].interrupted = True
                self.take_steers()
                continue
            except client.CallError as exc:
                self.add_usage(exc.usage)
                self.record(
                    status=Draft.Status.FAILED, error=f"The model call failed ({exc.kind})."
                )
                self.w.emit("error", {"message": f"The model call failed ({exc.kind})."})
                return
            self.add_usage(result.usage)
            self.model = result.model
            if self.finish():
                return
            self.turns[-1].interrupted = True  # a steer arrived as the stream ended
            self.take_steers()

    def finish(self) -> bool:
        """Record the draft and end the session in one transaction, unless a steer that was
        not taken is in the log (then False: the caller continues with it)."""
        cost = client.cost_of(self.model, self.usage)
        result = {
            "draft": self.draft.pk,
            "input_tokens": self.usage.get("input_tokens", 0),
            "output_tokens": self.usage.get("output_tokens", 0),
            "cost_usd": str(cost),
            "turns": self.calls,
        }
        try:
            with transaction.atomic():
                self.w.finish(Status.COMPLETED, before=[("result", result)], unless_steered=True)
                self.record(status=Draft.Status.READY, model=self.model)
        except Steered:
            return False
        return True
