import pytest

from predictions import demo
from predictions.models import Metric, Observation, Prediction, Resolution

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_realistic(team, owner, owner_client):
    demo.seed(team, owner)
    counts = (Metric.objects.count(), Observation.objects.count(), Prediction.objects.count())
    demo.seed(team, owner)
    assert (Metric.objects.count(), Observation.objects.count(), Prediction.objects.count()) == (
        counts
    )
    assert counts[0] == 5 and counts[2] >= 7
    assert all(p.hash_verified for p in Prediction.objects.select_related("metric"))
    horizon = Metric.objects.get(name="METR 50% time horizon")
    models = {p.trajectory["model"] for p in horizon.predictions.all()}
    assert models == {"exponential", "logistic"}
    assert Resolution.objects.filter(outcome=True).exists()  # SWE-bench passed 80%
    page = owner_client.get(horizon.get_absolute_url())
    assert page.status_code == 200 and "doubles every 7 months" in page.content.decode()


def test_the_demo_feed_is_fetched_from_the_fake_server_and_nothing_else_local(
    team, owner, fake_api, settings, monkeypatch
):
    """`make run` allows exactly the fake server's address; loopback stays refused."""
    from urllib.parse import urlsplit

    from django.utils import timezone

    from predictions import fetching
    from predictions.models import MetricSource

    port = urlsplit(fake_api).port
    monkeypatch.setenv("FAKE_ANTHROPIC_PORT", str(port))
    settings.NETGUARD_ALLOW_LOOPBACK = False
    settings.NETGUARD_ALLOW_HOSTPORTS = [f"127.0.0.1:{port}"]
    demo.seed(team, owner)
    source = MetricSource.objects.get(metric__team=team)
    assert source.url == f"http://127.0.0.1:{port}/demo/sources/benchmark.csv"
    ids, token = fetching.claim_due()
    outcome = fetching.run(source.pk, token)
    assert outcome.ok and outcome.created >= 20, outcome
    values = list(source.metric.observations.values_list("value", flat=True))
    assert all(40 < v < 95 for v in values)  # fractions × 100, the "best" rows only
    MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
    ids, token = fetching.claim_due()
    assert fetching.run(source.pk, token).message == "Not modified since the last fetch."
    page = _page_text(owner, source.metric)
    assert "Updated automatically from 127.0.0.1" in page

    settings.NETGUARD_ALLOW_HOSTPORTS = [f"127.0.0.1:{port + 1}"]
    with pytest.raises(fetching.FetchError, match="loopback"):
        fetching.fetch(source.url)


def _page_text(user, metric) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(metric.get_absolute_url()).content.decode()
