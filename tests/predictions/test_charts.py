from datetime import date

import numpy as np

from predictions.charts import downsample
from predictions.trajectory import parse_band, parse_trajectory, sample_line


def test_downsample_keeps_ends_and_spikes():
    t = np.arange(10_000, dtype=float)
    y = np.sin(t / 50)
    y[4321] = 99.0
    y[777] = -99.0
    keep = downsample(t, y, max_points=500)
    assert len(keep) <= 500
    assert {0, 9999, 4321, 777} <= set(keep.tolist())
    assert (np.diff(keep) > 0).all()  # still in time order
    assert len(downsample(t[:10], y[:10], 500)) == 10


def test_straight_lines_are_sampled_sparsely_curves_finely():
    band = parse_band({"low": 0.5, "high": 2}, "log")
    exp = parse_trajectory({"model": "exponential", "baseline_date": "2025-01-01",
                            "baseline_value": 60, "doubling_months": 7}, "log")  # fmt: skip
    logistic = {"model": "logistic", "baseline_date": "2025-01-01", "baseline_value": 60,
                "ceiling": 480, "steepness": 2}  # fmt: skip
    s_curve = parse_trajectory(logistic, "log")
    assert len(sample_line(exp, band, date(2027, 1, 1)).t) == 12
    assert len(sample_line(s_curve, band, date(2027, 1, 1)).t) == 80


def test_calibration_labels_count_in_words_and_stay_inside_the_frame():
    from predictions.charts import band_figure, reliability_figure
    from predictions.scoring import BandCalibration, reliability

    bands = [BandCalibration(0.8, 1, 1, 1.0), BandCalibration(0.5, 6, 2, 0.5)]
    trace = band_figure(bands)["data"][1]
    assert trace["text"] == ["1 observation", "6 observations"]  # never "1 pts"
    assert trace["textposition"] == ["bottom center", "top center"]  # 100%: label below
    bins = reliability([0.7], [1])
    assert reliability_figure(bins)["data"][1]["text"] == ["1 prediction"]
