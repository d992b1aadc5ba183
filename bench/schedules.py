"""Benchmark: the CPU one schedule computation can cost (issue 14: bounded at ~50 ms).

Times `validate()` (what the form and the viewer-reachable preview run) for ordinary rules and
hostile ones: a rule that can never match, and starts in year 1 (refused by the form, still
bounded in the pure function). Prints the median and worst of 20 runs and the load average.

    .venv/bin/python bench/schedules.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.cadences import schedule as sched  # noqa: E402

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
CASES = [
    ("weekly, start 2026", "FREQ=WEEKLY;BYDAY=MO", date(2026, 1, 1)),
    (
        "last working Thursday",
        sched.preset_rrule("monthly_last_working_thursday"),
        date(2026, 1, 1),
    ),
    ("daily 30 February, start 2026", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", date(2026, 1, 1)),
    ("daily, start in year 1", "FREQ=DAILY", date(1, 1, 1)),
    ("daily 30 February, start year 1", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", date(1, 1, 1)),
    ("yearly 31 June, start 2026", "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=31", date(2026, 1, 1)),
]


def run(rule: str, start: date) -> tuple[float, str]:
    schedule = sched.Schedule(rule, "Europe/London", dtime(9), start)
    t0 = time.perf_counter()
    try:
        if start < sched.EARLIEST_START:  # the form refuses it; time the search itself
            outcome = f"after(): {len(schedule.after(NOW, 24))} dates"
        else:
            outcome = f"{len(sched.validate(schedule, [], NOW))} dates"
    except sched.ScheduleError as exc:
        outcome = f"refused ({exc.field})"
    return (time.perf_counter() - t0) * 1000, outcome


def main() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'case':<34} {'median ms':>9} {'max ms':>7}  outcome")
    for label, rule, start in CASES:
        times, outcome = [], ""
        for _ in range(20):
            ms, outcome = run(rule, start)
            times.append(ms)
        print(f"{label:<34} {statistics.median(times):>9.2f} {max(times):>7.2f}  {outcome}")


if __name__ == "__main__":
    main()
