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
    assert counts[0] == 4 and counts[2] >= 6
    assert all(p.hash_verified for p in Prediction.objects.select_related("metric"))
    horizon = Metric.objects.get(name="METR 50% time horizon")
    models = {p.trajectory["model"] for p in horizon.predictions.all()}
    assert models == {"exponential", "logistic"}
    assert Resolution.objects.filter(outcome=True).exists()  # SWE-bench passed 80%
    page = owner_client.get(horizon.get_absolute_url())
    assert page.status_code == 200 and "doubles every 7 months" in page.content.decode()
