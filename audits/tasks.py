"""Celery tasks: dispatch a run, make one (probe, model, sample) call, try one probe live.
Thin wrappers: what they do lives in runs.py."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from celery.signals import worker_ready

from . import runs
from .client import get_client, team_concurrency, warm_up

log = logging.getLogger(__name__)


@worker_ready.connect
def _warm_up(**kwargs) -> None:
    """A worker builds the SDK's validators before its first audit call (client.warm_up),
    and its SDK client (the SSL context alone is about 0.2 s of CPU)."""
    try:
        warm_up()
        get_client()
    except Exception:  # noqa: BLE001 - an optimisation: the first calls build them instead
        log.warning("could not warm up the model client", exc_info=True)


@shared_task(acks_late=True)
def dispatch_run(run_id: int, epoch: int) -> int:
    """Fan out one task per missing call; a stale epoch (a newer resume) does nothing."""
    calls = runs.prepare_dispatch(run_id, epoch, task_id=dispatch_run.request.id or "")
    if not calls:
        return 0
    publish_calls(calls)
    return len(calls)


PUBLISH_CHUNK = 100  # messages per Redis round trip: the first calls start while the rest queue
FIRST_FLUSH = 8  # ...and the first few go at once, so the workers' threads start a wave sooner


def publish_calls(calls) -> None:
    """Queue the calls (run_call argument tuples), several to a task for a big run
    (runs.chunk_calls): one producer, and the messages pipelined to Redis a chunk at a time
    (kombu's publish batch), not one round trip each; the first FIRST_FLUSH messages are
    sent before the rest are built."""
    tasks = runs.chunk_calls(list(calls), team_concurrency())
    with current_app.producer_or_acquire() as producer:
        for part, size in (
            (tasks[:FIRST_FLUSH], FIRST_FLUSH),
            (tasks[FIRST_FLUSH:], PUBLISH_CHUNK),
        ):
            with producer.batch(size):
                for chunk in part:
                    if len(chunk) == 1:
                        run_call.apply_async(chunk[0], producer=producer)
                    else:
                        run_calls.apply_async((chunk,), producer=producer)


@shared_task(acks_late=True)
def run_call(
    run_id: int,
    epoch: int,
    probe_id: int,
    model_id: int,
    sample: int,
    live_epoch: int | None = None,
    session: str | None = None,
    team_id: int | None = None,
) -> str:
    """One (probe, model, sample) call, recorded exactly once (runs.make_call)."""
    return runs.make_call(run_id, epoch, probe_id, model_id, sample, live_epoch, session, team_id)


@shared_task(acks_late=True)
def run_calls(calls: list[list]) -> list[str]:
    """Several calls (run_call argument lists), made one after another, each exactly as
    run_call makes it: claimed, skipped when recorded or stopped, recorded once. A call's
    claim is deleted in the next call's claim round trip (the last one's at the end)."""
    outcomes, failure = [], None
    finished: list[str] = []
    try:
        for args in calls:
            try:
                outcomes.append(runs.make_call(*args, finished=finished))
            except Exception as exc:  # noqa: BLE001 - the other calls still run; raised below
                log.exception("audit call %s failed", args)
                outcomes.append(f"failed: {type(exc).__name__}")
                failure = failure or exc
    finally:
        runs.forget_claims(finished)
    if failure is not None:
        raise failure
    return outcomes


@shared_task(acks_late=True)
def try_probe(session_id: str, probe_id: int, model_id: int) -> str:
    """Stream one probe against one model into a live session (runs.try_once)."""
    return runs.try_once(session_id, probe_id, model_id, task_id=try_probe.request.id or "")


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def propose_probes(self, proposal_id: int) -> str:
    """Probes from an idea: stream the model's proposals into a live session (propose.py)."""
    from . import propose

    return propose.generate(proposal_id, task_id=self.request.id or "")


@shared_task(acks_late=True)
def try_proposal(session_id: str, proposal_id: int, n: int, model_id: int) -> str:
    """Try a proposed probe once, before it is saved, exactly as a saved one is tried."""
    from . import propose
    from .models import Model, ProbeProposal

    batch = ProbeProposal.objects.select_related("idea__team").get(pk=proposal_id)
    probe = propose.unsaved_probe(batch, n)
    model = Model.objects.get(pk=model_id)
    return runs.try_probe_once(session_id, probe, model, task_id=try_proposal.request.id or "")
