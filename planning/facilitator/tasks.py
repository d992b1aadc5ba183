"""The facilitator's generation: gather the step's evidence, stream the model's draft into
the live session, record the text, usage and cost on the Draft."""

from __future__ import annotations

from celery import shared_task

from audits import client
from planning.live.writer import run
from planning.reviews.models import STEPS

from .citations import SYSTEM_PROMPT, evidence_block
from .evidence import gather
from .models import Draft

MAX_TOKENS = 900


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def draft_step(self, draft_id: int) -> str:
    draft = Draft.objects.select_related("review__team").get(pk=draft_id)
    review = draft.review
    with run(draft.session_id, task_id=self.request.id) as w:
        if w.should_stop():
            Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.FAILED, error="Stopped.")
            return str(draft.pk)
        w.emit("progress", {"done": 0, "total": 2, "label": "Gathering the evidence"})
        items = gather(review, draft.step)
        Draft.objects.filter(pk=draft.pk).update(evidence=[i.as_dict() for i in items])
        w.emit("progress", {"done": 1, "total": 2, "label": f"Drafting with {draft.model}"})
        user = evidence_block(STEPS[draft.step - 1][1], review.quarter, items)
        parts: list[str] = []

        def on_text(text: str) -> None:
            parts.append(text)
            w.token(text)

        def restart(_attempt: int) -> None:
            parts.clear()
            w.emit("error", {"message": "The model was interrupted; drafting again."})

        try:
            result = client.call(
                team_id=review.team_id,
                model=draft.model,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": user}],
                max_tokens=MAX_TOKENS,
                on_text=on_text,
                should_stop=w.should_stop,
                on_restart=restart,
            )
        except client.Cancelled:
            Draft.objects.filter(pk=draft.pk).update(
                status=Draft.Status.FAILED, text="".join(parts), error="Stopped."
            )
            return str(draft.pk)
        except client.CallError as exc:
            usage = exc.usage
            Draft.objects.filter(pk=draft.pk).update(
                status=Draft.Status.FAILED,
                error=f"The model call failed ({exc.kind}).",
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cost_usd=client.cost_of(draft.model, usage),
            )
            w.emit("error", {"message": f"The model call failed ({exc.kind})."})
            return str(draft.pk)
        Draft.objects.filter(pk=draft.pk, status=Draft.Status.RUNNING).update(
            status=Draft.Status.READY,
            text=result.text,
            model=result.model,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            cost_usd=result.cost_usd,
        )
        w.emit(
            "result",
            {
                "draft": draft.pk,
                "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                "cost_usd": str(result.cost_usd),
            },
        )
    return str(draft.pk)
