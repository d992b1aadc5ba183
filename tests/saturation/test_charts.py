"""The saturation charts' figure dicts (pure functions, no DB)."""

from __future__ import annotations

from datetime import date

from planning.saturation.charts import timeline_figure
from planning.saturation.models import SaturationReading


def reading(name: str, released: date) -> SaturationReading:
    return SaturationReading(
        model_name=name,
        release_date=released,
        capability=0.5,
        capability_source="SWE-bench",
        product_value=10,
        product_metric="tasks per week",
    )


def test_one_reading_gets_a_date_range_of_months_not_milliseconds():
    axis = timeline_figure([reading("M1", date(2025, 1, 1))])["layout"]["xaxis"]
    assert axis["type"] == "date"
    assert axis["range"] == ["2024-11-17", "2025-02-15"]


def test_readings_released_the_same_week_are_spread_over_three_months():
    axis = timeline_figure([reading("M1", date(2025, 1, 1)), reading("M2", date(2025, 1, 8))])[
        "layout"
    ]["xaxis"]
    start, end = (date.fromisoformat(d) for d in axis["range"])
    assert (end - start).days == 90 and start < date(2025, 1, 1) and end > date(2025, 1, 8)


def test_readings_a_year_apart_keep_the_automatic_range():
    axis = timeline_figure([reading("M1", date(2024, 1, 1)), reading("M2", date(2025, 1, 1))])[
        "layout"
    ]["xaxis"]
    assert "range" not in axis
