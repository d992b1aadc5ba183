"""Bottleneck-map analysis speed: the full analysis (critical path before/after, per-stage
ceiling and doubling what-ifs), the ceiling curves drawn on the map page, and the what-if
recompute (analysis + all four figures), for layered DAGs of 6, 50 and 200 stages.

Pure Python, no database: `make bench` or `.venv/bin/python bench/bottlenecks.py`.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.bottlenecks import analysis, charts  # noqa: E402


def workflow(n: int, seed: int = 7):
    rng = random.Random(seed)
    stages = [
        analysis.StageInput(
            key=i,
            name=f"Stage {i}",
            active=rng.uniform(0.5, 16),
            waiting=rng.uniform(0, 8),
            speedup_active=rng.choice([0.75, 1, 2, 4, 10]),
            speedup_waiting=rng.choice([1, 1, 1.5]),
        )
        for i in range(n)
    ]
    # Layers of about four parallel stages, each depending on one or two of the layer before.
    edges = []
    for i in range(4, n):
        layer_start = (i // 4 - 1) * 4
        for j in rng.sample(range(layer_start, layer_start + 4), k=rng.choice([1, 2])):
            edges.append((j, i))
    return stages, edges


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    print(f"{'stages':>6} {'edges':>6} {'analyse':>10} {'ceiling curves':>15} {'what-if+figs':>13}")
    for n in (6, 50, 200):
        stages, edges = workflow(n)
        result = analysis.analyse(stages, edges)
        t_analyse = timed(lambda s=stages, e=edges: analysis.analyse(s, e), 5)
        t_curves = timed(lambda s=stages, r=result: charts.ceiling_curves(s, r), 5)

        def what_if(s=stages, e=edges):
            r = analysis.analyse(s, e)
            charts.before_after(r)
            charts.dag(r, r.before, "Before")
            charts.dag(r, r.after, "After")
            charts.ceiling_curves(s, r)

        t_whatif = timed(what_if, 5)
        print(
            f"{n:>6} {len(edges):>6} {t_analyse:>8.1f} ms {t_curves:>12.1f} ms "
            f"{t_whatif:>10.1f} ms   speed-up {result.speedup:.2f}×, "
            f"bottleneck {result.bottleneck.stage.name if result.bottleneck else '—'}"
        )


if __name__ == "__main__":
    main()
