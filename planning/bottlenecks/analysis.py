"""Amdahl's law applied to a delivery workflow: pure, typed functions, no Django.

A workflow is a list of stages. Each stage takes `active` hours (hands-on work, which AI can
speed up) and `waiting` hours (queues, approvals: untouched by AI unless the process changes),
and has a speed-up on each (1 = unchanged, 10 = ten times faster, 0.5 = twice as slow,
`math.inf` = instant). Dependencies between stages form a DAG; with none, the stages run one
after another (a serial chain, in list order).

Serial formulas (p = a stage's share of the time before, s = its speed-up):

    S = 1 / Σ pᵢ/sᵢ                overall speed-up
    qᵢ = (pᵢ/sᵢ)·S                 share of the new time; the bottleneck is argmax qᵢ
    ceiling_j = 1 / Σ_{i≠j} pᵢ/sᵢ  if stage j became instant
    ∂S/∂sⱼ = S²·pⱼ/sⱼ²             marginal leverage of stage j
    Gustafson: S = (1 − p) + p·N   scaled speed-up (more scope in the same time)

With dependencies, durations sit on the nodes and the makespan comes from a forward/backward
pass (ES, EF, LS, LF, slack); the overall speed-up is T_before / T_after. On a serial chain
both views agree exactly.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

Key = Hashable
EPS = 1e-9


class CycleError(ValueError):
    """The dependencies loop back on themselves; `cycle` names the loop (first == last)."""

    def __init__(self, cycle: Sequence[Key], names: Mapping[Key, str] | None = None):
        self.cycle = list(cycle)
        label = " → ".join(str((names or {}).get(k, k)) for k in self.cycle)
        super().__init__(
            f"These stages would wait for each other in a circle: {label}. "
            "Remove one of these dependencies."
        )


# --------------------------------------------------------------------------- serial formulas
def amdahl(p: float, s: float) -> float:
    """Overall speed-up when a fraction p of the time gets s times faster (s may be inf)."""
    return serial_speedup([(1.0 - p, 1.0), (p, s)])


def _term(p: float, s: float) -> float:
    if s <= 0:
        raise ValueError("A speed-up must be greater than zero.")
    if p == 0:
        return 0.0
    return 0.0 if math.isinf(s) else p / s


def serial_speedup(parts: Iterable[tuple[float, float]]) -> float:
    """S = 1 / Σ pᵢ/sᵢ for parts (pᵢ, sᵢ) whose shares pᵢ sum to 1. inf if all become instant."""
    total = sum(_term(p, s) for p, s in parts)
    return math.inf if total == 0 else 1.0 / total


def new_shares(parts: Sequence[tuple[float, float]]) -> list[float]:
    """qᵢ = (pᵢ/sᵢ)·S: each part's share of the time after the speed-up (they sum to 1)."""
    terms = [_term(p, s) for p, s in parts]
    total = sum(terms)
    if total == 0:
        return [0.0 for _ in terms]
    return [t / total for t in terms]


def bottleneck_index(parts: Sequence[tuple[float, float]]) -> int | None:
    """argmax qᵢ (the first one on a tie); None when nothing takes any time."""
    shares = new_shares(parts)
    if not shares or max(shares) == 0:
        return None
    return max(range(len(shares)), key=lambda i: (shares[i], -i))


def ceiling(parts: Sequence[tuple[float, float]], j: int) -> float:
    """Overall speed-up if part j took no time at all (the most that investing in j can buy)."""
    return serial_speedup([(p, math.inf if i == j else s) for i, (p, s) in enumerate(parts)])


def leverage(parts: Sequence[tuple[float, float]], j: int) -> float:
    """∂S/∂sⱼ = S²·pⱼ/sⱼ²: overall speed-up gained per unit of extra speed-up on part j."""
    p, s = parts[j]
    speedup = serial_speedup(parts)
    if p == 0 or math.isinf(s) or math.isinf(speedup):
        return 0.0
    return speedup**2 * p / s**2


def what_if(parts: Sequence[tuple[float, float]], j: int, k: float) -> float:
    """Overall speed-up if part j became k times faster than it is now."""
    return serial_speedup([(p, s * k if i == j else s) for i, (p, s) in enumerate(parts)])


def gustafson(p: float, n: float) -> float:
    """Gustafson's scaled speed-up: S = (1 − p) + p·N (more scope in the same time)."""
    return (1.0 - p) + p * n


def scaled_speedup(parts: Iterable[tuple[float, float]]) -> float:
    """Gustafson over many parts: S = Σ pᵢ·sᵢ (each part does sᵢ times the work in its time)."""
    return sum(p * s for p, s in parts)


# --------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class StageInput:
    key: Key
    name: str
    active: float  # hours per unit of work before AI
    waiting: float
    speedup_active: float = 1.0
    speedup_waiting: float = 1.0

    def __post_init__(self) -> None:
        if self.active < 0 or self.waiting < 0:
            raise ValueError(f"{self.name}: hours cannot be negative.")
        if self.speedup_active <= 0 or self.speedup_waiting <= 0:
            raise ValueError(f"{self.name}: a speed-up must be greater than zero.")

    @property
    def before(self) -> float:
        return self.active + self.waiting

    @property
    def active_after(self) -> float:
        return _hours_after(self.active, self.speedup_active)

    @property
    def waiting_after(self) -> float:
        return _hours_after(self.waiting, self.speedup_waiting)

    @property
    def after(self) -> float:
        return self.active_after + self.waiting_after

    @property
    def speedup(self) -> float:
        """The stage's own effective speed-up (before / after); 1 for a zero-time stage."""
        if self.before == 0:
            return 1.0
        return math.inf if self.after == 0 else self.before / self.after

    def active_faster(self, k: float) -> StageInput:
        """This stage's hands-on work k times faster again; its queues stay as they are
        (AI speeds up work, not waiting: only a process change shortens a queue)."""
        return replace(self, speedup_active=self.speedup_active * k)

    def waiting_shorter(self, k: float) -> StageInput:
        """This stage's waiting time divided by k (a process change: fewer hand-offs, a
        reviewer on call); its active work stays as it is."""
        return replace(self, speedup_waiting=self.speedup_waiting * k)

    def with_speedup(self, s: float) -> StageInput:
        """This stage with an effective speed-up of exactly s (before / s hours)."""
        return replace(self, speedup_active=s, speedup_waiting=s)


def _hours_after(hours: float, s: float) -> float:
    if hours == 0 or math.isinf(s):
        return 0.0
    return hours / s


def stage_parts(stages: Sequence[StageInput]) -> list[tuple[float, float]]:
    """(pᵢ, sᵢ) per stage: share of the total time before, and the stage's effective speed-up."""
    total = sum(st.before for st in stages)
    if total == 0:
        return [(0.0, 1.0) for _ in stages]
    return [(st.before / total, st.speedup) for st in stages]


# --------------------------------------------------------------------------- DAG
Edge = tuple[Key, Key]  # (prerequisite, dependent)


def topological_order(keys: Sequence[Key], edges: Iterable[Edge]) -> list[Key]:
    """Kahn's algorithm, stable in the order of `keys`; raises CycleError naming a loop."""
    index = {k: i for i, k in enumerate(keys)}
    succ: dict[Key, list[Key]] = {k: [] for k in keys}
    indegree = dict.fromkeys(keys, 0)
    for a, b in edges:
        if a not in index or b not in index:
            raise ValueError(f"Dependency {a!r} → {b!r} names an unknown stage.")
        if a == b:
            raise CycleError([a, a])
        succ[a].append(b)
        indegree[b] += 1
    ready = [index[k] for k in keys if indegree[k] == 0]
    heapq.heapify(ready)
    order: list[Key] = []
    while ready:
        k = keys[heapq.heappop(ready)]
        order.append(k)
        for nxt in succ[k]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, index[nxt])
    if len(order) < len(keys):
        raise CycleError(_find_cycle([k for k in keys if indegree[k] > 0], succ))
    return order


def _find_cycle(remaining: list[Key], succ: Mapping[Key, list[Key]]) -> list[Key]:
    """A loop among the nodes Kahn's algorithm could not order (each has a predecessor there)."""
    left = set(remaining)
    pred: dict[Key, Key] = {}
    for a in remaining:
        for b in succ[a]:
            if b in left:
                pred.setdefault(b, a)
    # Walk backwards from any node: every remaining node has a remaining predecessor.
    seen: dict[Key, int] = {}
    path: list[Key] = []
    node = remaining[0]
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = pred[node]
    loop = path[seen[node] :]
    loop.reverse()
    return [*loop, loop[0]]


def find_cycle(keys: Sequence[Key], edges: Iterable[Edge]) -> list[Key] | None:
    try:
        topological_order(keys, edges)
    except CycleError as error:
        return error.cycle
    return None


@dataclass(frozen=True)
class Timing:
    es: float
    ef: float
    ls: float
    lf: float

    @property
    def slack(self) -> float:
        return self.ls - self.es

    @property
    def critical(self) -> bool:
        return abs(self.slack) <= EPS * max(1.0, self.lf)


@dataclass(frozen=True)
class Schedule:
    makespan: float
    timings: dict[Key, Timing]
    path: list[Key]  # one critical path, start to finish

    @property
    def critical(self) -> set[Key]:
        return {k for k, t in self.timings.items() if t.critical}


def critical_path(
    durations: Mapping[Key, float], edges: Iterable[Edge], order: Sequence[Key] | None = None
) -> Schedule:
    """Forward/backward pass with durations on the nodes (critical path method)."""
    keys = list(order if order is not None else durations)
    edges = list(edges)
    topo = topological_order(keys, edges)
    preds: dict[Key, list[Key]] = {k: [] for k in keys}
    succs: dict[Key, list[Key]] = {k: [] for k in keys}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    ef: dict[Key, float] = {}
    es: dict[Key, float] = {}
    for k in topo:
        es[k] = max((ef[p] for p in preds[k]), default=0.0)
        ef[k] = es[k] + durations[k]
    makespan = max(ef.values(), default=0.0)
    ls: dict[Key, float] = {}
    lf: dict[Key, float] = {}
    for k in reversed(topo):
        lf[k] = min((ls[s] for s in succs[k]), default=makespan)
        ls[k] = lf[k] - durations[k]
    timings = {k: Timing(es[k], ef[k], ls[k], lf[k]) for k in keys}

    # One critical path: from a critical start, follow critical successors that start when
    # this one finishes (ties go to the earlier stage in `keys`).
    position = {k: i for i, k in enumerate(keys)}
    path: list[Key] = []
    starts = [k for k in keys if not preds[k] and timings[k].critical]
    node = starts[0] if starts else None
    while node is not None:
        path.append(node)
        nxt = [
            s
            for s in succs[node]
            if timings[s].critical and abs(timings[s].es - ef[node]) <= EPS * max(1.0, makespan)
        ]
        node = min(nxt, key=position.__getitem__) if nxt else None
    return Schedule(makespan=makespan, timings=timings, path=path)


def chain_edges(keys: Sequence[Key]) -> list[Edge]:
    return list(zip(keys, keys[1:], strict=False))


def effective_edges(stages: Sequence[StageInput], edges: Iterable[Edge]) -> list[Edge]:
    """The dependencies, or the serial chain in list order when there are none."""
    edges = list(edges)
    return edges if edges else chain_edges([st.key for st in stages])


class Graph:
    """A checked DAG, ordered once, for many quick makespans (what-ifs, curves)."""

    def __init__(self, keys: Sequence[Key], edges: Iterable[Edge]):
        edges = list(edges)
        self.order = topological_order(keys, edges)
        self.preds: dict[Key, list[Key]] = {k: [] for k in keys}
        for a, b in edges:
            self.preds[b].append(a)

    def makespan(self, durations: Mapping[Key, float]) -> float:
        """Forward pass only: the earliest finish of the whole workflow."""
        ef: dict[Key, float] = {}
        preds = self.preds
        for k in self.order:
            ef[k] = max([ef[p] for p in preds[k]], default=0.0) + durations[k]
        return max(ef.values(), default=0.0)


# --------------------------------------------------------------------------- the whole analysis
@dataclass(frozen=True)
class StageResult:
    stage: StageInput
    share_before: float  # pᵢ, of the makespan before
    share_after: float  # qᵢ, of the makespan after (0 for a stage off the critical path)
    timing_before: Timing
    timing_after: Timing
    ceiling: float  # overall speed-up if this stage became instant
    leverage: float  # ∂S/∂sᵢ (0 when the stage has slack)
    doubled: float  # overall speed-up if this stage's active work got twice as fast
    gain: float  # doubled / current overall speed-up − 1 (0.25 = a quarter faster overall)
    waiting_halved: float = math.nan  # overall speed-up if this stage's waiting time halved
    waiting_gain: float = math.nan  # waiting_halved / current overall speed-up − 1

    @property
    def key(self) -> Key:
        return self.stage.key


LeverKind = Literal["active", "waiting"]
LEVER_LABELS: dict[str, str] = {
    "active": "Make its work twice as fast",
    "waiting": "Halve its waiting time",
}


@dataclass(frozen=True)
class Lever:
    """One way to invest in one stage: its active work twice as fast (what AI can do), or
    its waiting time halved (what only a process change can do)."""

    result: StageResult
    kind: LeverKind
    speedup: float  # overall speed-up after pulling this lever
    gain: float  # speedup / current overall speed-up − 1

    @property
    def stage(self) -> StageInput:
        return self.result.stage

    @property
    def key(self) -> Key:
        return self.result.key

    @property
    def label(self) -> str:
        return LEVER_LABELS[self.kind]

    @property
    def hours(self) -> float:
        """The hours this lever works on (after today's speed-ups)."""
        st = self.result.stage
        return st.active_after if self.kind == "active" else st.waiting_after


@dataclass(frozen=True)
class Analysis:
    stages: list[StageResult]
    edges: list[Edge]  # the effective edges (the chain when none were given)
    serial: bool  # True when the stages form a plain chain (no dependencies given)
    before: Schedule
    after: Schedule
    active_before: float  # hours of active work on the critical path
    active_after: float
    scaled_speedup: float  # Gustafson, over the active and waiting parts
    by_key: dict[Key, StageResult] = field(default_factory=dict)

    @property
    def t_before(self) -> float:
        return self.before.makespan

    @property
    def t_after(self) -> float:
        return self.after.makespan

    @property
    def speedup(self) -> float:
        if self.t_before == 0:
            return 1.0
        return math.inf if self.t_after == 0 else self.t_before / self.t_after

    @property
    def bottleneck(self) -> StageResult | None:
        """The stage holding the largest share of the time after the speed-up."""
        best = max(self.stages, key=lambda r: r.share_after, default=None)
        return best if best is not None and best.share_after > 0 else None

    @property
    def bottleneck_before(self) -> StageResult | None:
        best = max(self.stages, key=lambda r: r.share_before, default=None)
        return best if best is not None and best.share_before > 0 else None

    @property
    def flow_efficiency_before(self) -> float:
        return self.active_before / self.t_before if self.t_before else 0.0

    @property
    def flow_efficiency_after(self) -> float:
        return self.active_after / self.t_after if self.t_after else 0.0

    @property
    def moved_on(self) -> list[Key]:
        """Stages that are critical after the speed-up but were not before."""
        before = self.before.critical
        return [r.key for r in self.stages if r.key in self.after.critical and r.key not in before]

    @property
    def moved_off(self) -> list[Key]:
        after = self.after.critical
        return [r.key for r in self.stages if r.key in self.before.critical and r.key not in after]

    @property
    def ranking(self) -> list[Lever]:
        """Every lever on every stage, ordered by its overall gain (largest first): "make its
        work twice as fast" on stages with active work after today's speed-ups, "halve its
        waiting time" on stages that wait. Ties go to the stage with the larger share of the
        time after AI, then to active work."""
        levers = []
        for r in self.stages:
            if r.stage.active_after > 0 and not math.isnan(r.gain):
                levers.append(Lever(r, "active", r.doubled, r.gain))
            if r.stage.waiting_after > 0 and not math.isnan(r.waiting_gain):
                levers.append(Lever(r, "waiting", r.waiting_halved, r.waiting_gain))
        return sorted(levers, key=lambda v: (-v.gain, -v.result.share_after, v.kind != "active"))

    @property
    def stage_ranking(self) -> list[Lever]:
        """The best lever of each stage, ordered like `ranking` (one row per stage)."""
        seen: set[Key] = set()
        out = []
        for lever in self.ranking:
            if lever.key not in seen:
                seen.add(lever.key)
                out.append(lever)
        return out


def _critical_active(stages: Sequence[StageInput], schedule: Schedule, after: bool) -> float:
    on_path = set(schedule.path)
    return sum((st.active_after if after else st.active) for st in stages if st.key in on_path)


def _gain(new: float, old: float) -> float:
    if math.isinf(old):
        return 0.0
    if math.isinf(new):
        return math.inf
    return new / old - 1.0


def analyse(
    stages: Sequence[StageInput], edges: Iterable[Edge] = (), *, details: bool = True
) -> Analysis:
    """Everything the map page shows, for stages (in display order) and their dependencies.

    `details=False` skips the per-stage what-ifs (ceiling, doubling: one pass per stage each)
    when only the overall speed-up and the bottleneck are wanted; those fields are then NaN.
    """
    stages = list(stages)
    given = list(edges)
    edges = effective_edges(stages, given)
    keys = [st.key for st in stages]
    before = critical_path({st.key: st.before for st in stages}, edges, keys)
    after = critical_path({st.key: st.after for st in stages}, edges, keys)
    t0, t1 = before.makespan, after.makespan
    speedup = 1.0 if t0 == 0 else (math.inf if t1 == 0 else t0 / t1)
    graph = Graph(keys, edges) if details else None
    durations = {st.key: st.after for st in stages}
    results = []
    for st in stages:
        tb, ta = before.timings[st.key], after.timings[st.key]

        def overall(replacement: StageInput) -> float:
            if t0 == 0:
                return 1.0
            assert graph is not None  # built whenever details are asked for
            t = graph.makespan({**durations, replacement.key: replacement.after})
            return math.inf if t == 0 else t0 / t

        p = st.before / t0 if t0 else 0.0
        doubled = overall(st.active_faster(2.0)) if details else math.nan
        halved = overall(st.waiting_shorter(2.0)) if details else math.nan
        critical = ta.critical and st.after > 0
        results.append(
            StageResult(
                stage=st,
                share_before=p if tb.critical else 0.0,
                share_after=(st.after / t1) if (t1 and critical) else 0.0,
                timing_before=tb,
                timing_after=ta,
                ceiling=overall(st.with_speedup(math.inf)) if details else math.nan,
                leverage=(
                    speedup**2 * p / st.speedup**2
                    if critical and not math.isinf(speedup) and not math.isinf(st.speedup)
                    else 0.0
                ),
                doubled=doubled,
                gain=_gain(doubled, speedup) if details else math.nan,
                waiting_halved=halved,
                waiting_gain=_gain(halved, speedup) if details else math.nan,
            )
        )
    total_hours = sum(st.before for st in stages)
    segments = [(st.active, st.speedup_active) for st in stages] + [
        (st.waiting, st.speedup_waiting) for st in stages
    ]
    scaled = (
        scaled_speedup([(h / total_hours, s) for h, s in segments if h > 0]) if total_hours else 1.0
    )
    return Analysis(
        stages=results,
        edges=edges,
        serial=not given,
        before=before,
        after=after,
        active_before=_critical_active(stages, before, after=False),
        active_after=_critical_active(stages, after, after=True),
        scaled_speedup=scaled,
        by_key={r.key: r for r in results},
    )


def ceiling_curve(
    stages: Sequence[StageInput],
    edges: Iterable[Edge],
    key: Key,
    speedups: Sequence[float],
) -> list[float]:
    """Overall speed-up as stage `key`'s effective speed-up takes each value in `speedups`."""
    stages = list(stages)
    edges = effective_edges(stages, edges)
    graph = Graph([st.key for st in stages], edges)
    t0 = graph.makespan({st.key: st.before for st in stages})
    durations = {st.key: st.after for st in stages}
    stage = next(st for st in stages if st.key == key)
    out = []
    for s in speedups:
        t = graph.makespan({**durations, key: stage.with_speedup(s).after})
        out.append(math.inf if t == 0 else t0 / t)
    return out
