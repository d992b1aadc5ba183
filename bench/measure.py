"""Measuring a map from a delivery export: the work behind every view of the mapping step
(planning.bottlenecks.delivery, pure Python, no database) on the largest file the importer
takes (10,000 rows, under 2 MB): reading the CSV (planning.csvimport), parsing the
timestamps, the per-item samples, one window's distributions and a two-window comparison.

    .venv/bin/python bench/measure.py
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.bottlenecks import delivery  # noqa: E402
from planning.bottlenecks.delivery import Target  # noqa: E402

UTC_ZONE = ZoneInfo("UTC")
COLUMNS = {
    "id": "number",
    "created": "createdAt",
    "first_review": "firstReviewAt",
    "approved": "approvedAt",
    "merged": "mergedAt",
    "deployed": "deployedAt",
}
MAPPING = {
    "created→first_review": Target(1, "waiting"),
    "first_review→approved": Target(1, "active"),
    "merged→deployed": Target(2, "waiting"),
}


def pull_requests(n: int) -> str:
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    lines = ["number,createdAt,firstReviewAt,approvedAt,mergedAt,deployedAt"]
    for i in range(n):
        t = start + timedelta(minutes=47 * i)
        stamps = [t]
        for h in (3 + i % 29, 1 + i % 5, 1, 18 + i % 13):
            stamps.append(stamps[-1] + timedelta(hours=h))
        lines.append(",".join([str(i), *(f"{s:%Y-%m-%dT%H:%M:%SZ}" for s in stamps)]))
    return "\n".join(lines) + "\n"


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best * 1000


def main() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'rows':>6} {'bytes':>9} {'read CSV':>9} {'parse':>8} {'samples':>8} {'window':>8} "
          f"{'compare':>8}  (ms, best of 3)")  # fmt: skip
    for n in (100, 1_000, 10_000):
        text = pull_requests(n)
        export = delivery.read_export(text)
        assert not export.problems
        parsed = delivery.parse_pull_requests(export.sheet.rows, COLUMNS, UTC_ZONE)
        assert not parsed.problems
        found = delivery.samples(parsed.intervals, MAPPING)
        lo, hi = delivery.day_bounds(date(2026, 1, 1), date(2026, 12, 31), UTC_ZONE)
        split, _ = delivery.day_bounds(date(2026, 4, 1), date(2026, 4, 1), UTC_ZONE)
        stages = [(1, "Code review", 0.0, 0.0), (2, "Deploy", 1.0, 0.0)]

        def compare(found=found, lo=lo, hi=hi, split=split, stages=stages):
            before = delivery.in_window(found, lo, split)
            after = delivery.in_window(found, split, hi)
            delivery.compare(
                stages, [], delivery.distributions(before), delivery.distributions(after),
                delivery.items_in(before), delivery.items_in(after),
            )  # fmt: skip

        print(
            f"{n:>6} {len(text.encode()):>9,} "
            f"{timed(lambda t=text: delivery.read_export(t)):>9.1f} "
            f"{timed(lambda e=export: delivery.parse_pull_requests(e.sheet.rows, COLUMNS, UTC_ZONE)):>8.1f} "  # noqa: E501
            f"{timed(lambda p=parsed: delivery.samples(p.intervals, MAPPING)):>8.1f} "
            f"{timed(lambda f=found, a=lo, b=hi: delivery.distributions(delivery.in_window(f, a, b))):>8.1f} "  # noqa: E501
            f"{timed(compare):>8.1f}"
        )


if __name__ == "__main__":
    main()
