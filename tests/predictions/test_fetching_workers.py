"""Metric sources on real Celery: beat ticking every second and two worker processes (two
processes each) fetch every due source exactly once, however the ticks overlap."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from predictions.models import MetricSource, Observation
from predictions.tasks import fetch_sources
from tests.conftest import wait_for
from tests.factories import MetricFactory
from tests.predictions.sourceserver import SourceServer
from tests.processes import start_celery, start_worker, stop, wait_until_answering, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    from planning.celery import app

    root = tmp_path_factory.mktemp("sources")
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-sources-{uuid.uuid4().hex[:6]}"
    env = worker_env(CELERY_QUEUE=queue, NETGUARD_ALLOW_LOOPBACK="1", SOURCE_TICK_SECONDS="1")
    procs = [
        start_worker(queue, f"sources{i}-{uuid.uuid4().hex[:6]}@%h", root / f"worker{i}.log",
                     env, extra=["--without-heartbeat"])
        for i in range(2)
    ]  # fmt: skip
    wait_until_answering(procs)
    yield queue, env, root
    for proc in procs:
        stop(proc)
    app.control.purge()


def test_beat_and_two_workers_fetch_each_due_source_once(team, owner, stack):
    queue, env, root = stack
    with SourceServer() as server:
        sources = []
        for i in range(10):
            metric = MetricFactory(
                team=team, created_by=owner, name=f"feed {i}", unit="%", scale="linear"
            )
            sources.append(
                MetricSource.objects.create(
                    metric=metric,
                    url=server.url(f"/csv/{i}"),
                    date_field="date",
                    value_field="score",
                    filter='model == "best"',
                    factor=100,
                )  # fmt: skip
            )
        # Overlapping ticks: four at once on the two workers, then beat every second.
        for _ in range(4):
            fetch_sources.apply_async(queue=queue)
        beat = start_celery(
            ["beat", "-s", str(root / f"beat-{uuid.uuid4().hex[:6]}"), "-l", "info"],
            env,
            root / "beat.log",
        )
        try:
            done = wait_for(
                lambda: MetricSource.objects.filter(last_success_at__isnull=True).count() == 0,
                timeout=90,
            )
            assert done, [(s.pk, s.last_error) for s in MetricSource.objects.all()]
            # Let beat tick a few more times: nothing is due again for a day.
            ticks = wait_for(
                lambda: (root / "beat.log").read_text().count("fetch_sources") >= 3, timeout=90
            )
            assert ticks, (root / "beat.log").read_text()
        finally:
            stop(beat)
        assert all(server.hits[f"/csv/{i}"] == 1 for i in range(10)), server.hits
    assert Observation.objects.filter(metric__team=team).count() == 20
    assert not MetricSource.objects.filter(claim_token__isnull=False).exists()
