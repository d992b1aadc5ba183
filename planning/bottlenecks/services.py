"""Loading, analysing and changing bottleneck maps (views stay thin; maths is in analysis.py)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max

from planning.notes.models import Note
from planning.quarters import parse_quarter

from . import analysis
from .models import BottleneckMap, Scenario, Stage, StageDependency

Speedups = Mapping[int, tuple[float, float]]  # stage pk -> (active, waiting)


@dataclass
class LoadedMap:
    map: BottleneckMap
    stages: list[Stage]
    edges: list[tuple[int, int]]  # (depends_on pk, stage pk)

    def inputs(self, speedups: Speedups | None = None) -> list[analysis.StageInput]:
        return [st.as_input(speedups) for st in self.stages]

    def analyse(self, speedups: Speedups | None = None) -> analysis.Analysis:
        return analysis.analyse(self.inputs(speedups), self.edges)

    def depends_on(self) -> dict[int, list[Stage]]:
        by_pk = {st.pk: st for st in self.stages}
        out: dict[int, list[Stage]] = defaultdict(list)
        for a, b in self.edges:
            out[b].append(by_pk[a])
        return out


def load(bmap: BottleneckMap) -> LoadedMap:
    """The map's stages and dependency edges in two queries."""
    stages = list(bmap.stages.all())
    edges = list(
        StageDependency.objects.filter(stage__map=bmap)
        .order_by("pk")
        .values_list("depends_on_id", "stage_id")
    )
    return LoadedMap(bmap, stages, edges)


def load_many(maps: Sequence[BottleneckMap]) -> list[LoadedMap]:
    """Several maps with their stages and edges in two queries."""
    stages: dict[int, list[Stage]] = defaultdict(list)
    edges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    ids = [m.pk for m in maps]
    for st in Stage.objects.filter(map_id__in=ids):
        stages[st.map_id].append(st)
    rows = StageDependency.objects.filter(stage__map_id__in=ids).order_by("pk")
    for map_id, a, b in rows.values_list("stage__map_id", "depends_on_id", "stage_id"):
        edges[map_id].append((a, b))
    return [LoadedMap(m, stages[m.pk], edges[m.pk]) for m in maps]


def history(bmap: BottleneckMap) -> list[tuple[LoadedMap, analysis.Analysis]]:
    """This map and its namesakes in other quarters (oldest first), each analysed."""
    maps = [
        bmap if m.pk == bmap.pk else m
        for m in BottleneckMap.objects.for_team(bmap.team_id)
        .filter(name=bmap.name)
        .order_by("quarter")
    ]
    loaded = load_many(maps)
    return [(lm, analysis.analyse(lm.inputs(), lm.edges, details=False)) for lm in loaded]


def latest_map(team) -> BottleneckMap | None:
    bmap = BottleneckMap.objects.for_team(team).order_by("-quarter", "-updated_at").first()
    if bmap is not None:
        bmap.team = team
    return bmap


@dataclass(frozen=True)
class Investment:
    """One stage worth accelerating, for the quarterly review's backlog."""

    stage: str
    lever: str  # "Make its work twice as fast" or "Halve its waiting time"
    gain: float  # relative overall gain from pulling the lever (0.2 = +20 %)
    speedup: float  # overall speed-up after pulling it
    ceiling: float  # overall speed-up if the stage took no time
    is_bottleneck: bool


def investments(bmap: BottleneckMap, limit: int = 5) -> list[Investment]:
    """The map's levers (a stage's work twice as fast, or its waiting halved) ranked by the
    overall gain of pulling them (2 queries)."""
    result = load(bmap).analyse()
    bottleneck = result.bottleneck.key if result.bottleneck else None
    return [
        Investment(v.stage.name, v.label, v.gain, v.speedup, v.result.ceiling, v.key == bottleneck)
        for v in result.ranking
        if v.gain > 0
    ][:limit]


# --------------------------------------------------------------------------- what-if input
def slider_range(value: float) -> tuple[float, float]:
    """Slider bounds in log10 units: 0.1× to 1000×, widened to include the current value."""
    exp = math.log10(value)
    return (min(-1.0, math.floor(exp)), max(3.0, math.ceil(exp)))


def parse_speedups(params: Mapping[str, str], stages: Iterable[Stage]) -> dict[int, tuple]:
    """What-if speed-ups from slider values (log10, names a<pk> and w<pk>).

    Missing or invalid values fall back to the stage's own; a slider left where it started
    (within half a step) keeps the exact stored value, so an untouched slider changes nothing.
    """
    out = {}
    for st in stages:
        out[st.pk] = (
            _slider_value(params.get(f"a{st.pk}"), st.speedup_active),
            _slider_value(params.get(f"w{st.pk}"), st.speedup_waiting),
        )
    return out


def _slider_value(raw: str | None, current: float) -> float:
    try:
        exp = float(raw) if raw is not None else None
    except ValueError:
        exp = None
    if exp is None or not math.isfinite(exp):
        return current
    low, high = slider_range(current)
    exp = min(max(exp, low), high)
    if abs(exp - math.log10(current)) < 0.005:
        return current
    return _round_sig(10**exp)


def _round_sig(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def changed_stages(loaded: LoadedMap, speedups: Speedups) -> list[Stage]:
    return [
        st
        for st in loaded.stages
        if speedups.get(st.pk, (st.speedup_active, st.speedup_waiting))
        != (st.speedup_active, st.speedup_waiting)
    ]


# --------------------------------------------------------------------------- changes
def lock(bmap: BottleneckMap) -> None:
    """Serialise changes to one map's stages (ordering, dependencies) for this transaction."""
    BottleneckMap.objects.select_for_update().filter(pk=bmap.pk).values_list("pk").get()


def next_order(bmap: BottleneckMap) -> int:
    top = bmap.stages.aggregate(top=Max("order"))["top"]
    return 0 if top is None else top + 1


def set_dependencies(stage: Stage, depends_on: Iterable[Stage]) -> None:
    wanted = {s.pk for s in depends_on}
    current = set(stage.dependencies.values_list("depends_on_id", flat=True))
    stage.dependencies.filter(depends_on_id__in=current - wanted).delete()
    StageDependency.objects.bulk_create(
        [StageDependency(stage=stage, depends_on_id=pk) for pk in sorted(wanted - current)]
    )


def check_dependencies(
    bmap: BottleneckMap, stage: Stage | None, depends_on: Iterable[Stage]
) -> None:
    """Raise analysis.CycleError if giving `stage` these prerequisites would close a loop."""
    stages = list(bmap.stages.all())
    names: dict[analysis.Key, str] = {st.pk: st.name for st in stages}
    key: analysis.Key = stage.pk if stage is not None and stage.pk else "new"
    names.setdefault(key, "this stage")
    edges: list[tuple[analysis.Key, analysis.Key]] = [
        (a, b)
        for a, b in StageDependency.objects.filter(stage__map=bmap).values_list(
            "depends_on_id", "stage_id"
        )
        if b != key
    ]
    edges += [(s.pk, key) for s in depends_on]
    keys: list[analysis.Key] = [st.pk for st in stages] + ([key] if key == "new" else [])
    cycle = analysis.find_cycle(keys, edges)
    if cycle:
        raise analysis.CycleError(cycle, names)


def move_stage(stage: Stage, direction: str) -> None:
    """Swap the stage with its neighbour above ('up') or below ('down')."""
    with transaction.atomic():
        lock(stage.map)
        stages = list(stage.map.stages.all())
        i = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
        j = i - 1 if direction == "up" else i + 1
        if not 0 <= j < len(stages):
            return
        stages[i], stages[j] = stages[j], stages[i]
        for order, st in enumerate(stages):
            st.order = order
        Stage.objects.bulk_update(stages, ["order"])


COPIED_FIELDS = [
    "name",
    "order",
    "active_hours",
    "waiting_hours",
    "speedup_active",
    "speedup_waiting",
    "target_speedup",
    "owner",
    "notes",
]


def copy_map(
    bmap: BottleneckMap,
    *,
    name: str,
    quarter: str,
    hours: Speedups | None = None,
    speedups: Speedups | None = None,
) -> tuple[BottleneckMap, dict[int, int]]:
    """A new map with this one's stages, dependencies and light-and-shade notes, optionally
    with other (active, waiting) `hours` and `speedups` per old stage pk. Returns the copy and
    old stage pk → new stage pk. Call inside a transaction holding `lock(bmap)`."""
    copy = BottleneckMap.objects.create(
        team_id=bmap.team_id,
        name=name,
        unit_of_work=bmap.unit_of_work,
        mode=bmap.mode,
        quarter=quarter,
        copied_from=bmap,
    )
    old = list(bmap.stages.all())
    new = []
    for s in old:
        stage = Stage(map=copy, team_id=bmap.team_id, **{f: getattr(s, f) for f in COPIED_FIELDS})
        if hours and s.pk in hours:
            stage.active_hours, stage.waiting_hours = hours[s.pk]
        if speedups and s.pk in speedups:
            stage.speedup_active, stage.speedup_waiting = speedups[s.pk]
        new.append(stage)
    new = Stage.objects.bulk_create(new)
    mapping = {o.pk: n.pk for o, n in zip(old, new, strict=True)}
    StageDependency.objects.bulk_create(
        [
            StageDependency(stage_id=mapping[d.stage_id], depends_on_id=mapping[d.depends_on_id])
            for d in StageDependency.objects.filter(stage__map=bmap)
        ]
    )
    ct = ContentType.objects.get_for_model(Stage)
    Note.objects.bulk_create(
        [
            Note(
                team_id=n.team_id,
                content_type=ct,
                object_id=mapping[n.object_id],
                kind=n.kind,
                text=n.text,
                author_id=n.author_id,
            )
            for n in Note.objects.filter(content_type=ct, object_id__in=list(mapping))
        ]
    )
    return copy, mapping


def copy_to_next_quarter(bmap: BottleneckMap) -> tuple[BottleneckMap, bool]:
    """Snapshot the map (stages, dependencies, light and shade) into the following quarter.

    Returns (map, created); if the next quarter already has a map of this name, that one.
    """
    quarter = str(parse_quarter(bmap.quarter).next())
    with transaction.atomic():
        lock(bmap)
        existing = (
            BottleneckMap.objects.for_team(bmap.team_id)
            .filter(name=bmap.name, quarter=quarter)
            .first()
        )
        if existing is not None:
            return existing, False
        copy, _ = copy_map(bmap, name=bmap.name, quarter=quarter)
    return copy, True


def save_scenario(bmap: BottleneckMap, name: str, speedups: Speedups, user) -> Scenario:
    return Scenario.objects.create(
        map=bmap,
        name=name,
        speedups={str(pk): {"active": a, "waiting": w} for pk, (a, w) in speedups.items()},
        created_by=user,
    )
