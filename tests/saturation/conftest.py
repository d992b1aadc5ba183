from __future__ import annotations

from datetime import date, timedelta

import pytest

from planning.saturation.models import FormFactor, SaturationReading
from planning.saturation.services import refresh_verdict


def add_readings(form_factor, rows, metric="Task success (%)", source="Bench", scale="linear"):
    start = date(2024, 1, 1)
    SaturationReading.objects.bulk_create(
        [
            SaturationReading(
                form_factor=form_factor, model_name=f"Model {i}",
                release_date=start + timedelta(days=60 * i), capability=c,
                capability_source=source, product_value=y, product_metric=metric,
                product_scale=scale,
            )
            for i, (c, y) in enumerate(rows)
        ]
    )  # fmt: skip
    refresh_verdict(form_factor)
    return form_factor


SATURATING = [(30, 40), (40, 55), (50, 63), (60, 66.5), (70, 67.6), (80, 68), (90, 68.2)]
GROWING = [(30, 20), (40, 27), (50, 33), (60, 40), (70, 46), (80, 53), (90, 59)]


@pytest.fixture
def form_factor(team):
    return FormFactor.objects.create(team=team, name="Chat assistant", product="Help desk")


@pytest.fixture
def saturating(team):
    ff = FormFactor.objects.create(team=team, name="Chat", product="Help desk")
    return add_readings(ff, SATURATING)
