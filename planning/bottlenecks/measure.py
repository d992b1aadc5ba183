"""Measured map versions: from an uploaded delivery export to a new version of a map.

The statistics are delivery.py's (pure); this module loads what they need, remembers the
team's mapping, and writes the new version in one transaction. The map that was measured is
never changed: the new version is a new map (its stages, dependencies and light-and-shade
notes copied) whose hours are the measured medians.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction

from planning.csvimport import Problem
from planning.inputs import shorten, strip_unstorable

from . import analysis, delivery, services
from .delivery import Distribution, Source, Target, TimeKind
from .models import BottleneckMap, DeliveryMapping, DeliveryUpload, Measurement, Stage

KINDS: tuple[TimeKind, ...] = ("active", "waiting")


def upload(bmap: BottleneckMap, source: Source, filename: str, raw: bytes, user):
    """Read the file; store it for the mapping step when it has no problem.
    Returns (upload or None, problems)."""
    export = delivery.read_export(raw)
    if export.problems:
        return None, export.problems
    text = delivery.csvimport.decode(raw)
    assert isinstance(text, str)  # read_export would have said otherwise
    stored = DeliveryUpload.objects.create(
        team_id=bmap.team_id,
        map=bmap,
        source=source,
        filename=shorten(strip_unstorable(filename), 255),
        text=text,
        rows=len(export.sheet.rows),
        created_by=user,
    )
    return stored, []


def remembered(team, source: Source) -> DeliveryMapping | None:
    return DeliveryMapping.objects.for_team(team).filter(source=source).first()


def default_columns(
    source: Source, header: Sequence[str], saved: DeliveryMapping | None
) -> dict[str, str]:
    """The team's remembered columns where this file has them, else the guessed ones."""
    guessed = delivery.guess_columns(source, header)
    if saved is None:
        return guessed
    kept = {f: h for f, h in (saved.columns or {}).items() if isinstance(h, str) and h in header}
    if not kept:
        return guessed
    fields = {c.name for c in delivery.COLUMNS[source]}
    return {f: h for f, h in kept.items() if f in fields}


def default_target(
    source: Source,
    key: str,
    stages: Sequence[Stage],
    saved: DeliveryMapping | None,
) -> tuple[int | None, TimeKind]:
    """(stage pk or None for "ignore", kind) for a segment or status: the team's remembered
    choice (by stage name), else a stage whose name the key mentions (or the other way round)."""
    by_name = {st.name.casefold(): st.pk for st in stages}
    remembered_stages = (saved.stages or {}) if saved else {}
    choice = {k.casefold(): v for k, v in remembered_stages.items() if isinstance(v, dict)}.get(
        key.casefold()
    )
    if choice is not None:
        kind: TimeKind = "active" if choice.get("kind") == "active" else "waiting"
        name = str(choice.get("stage") or "").casefold()
        return by_name.get(name), kind
    if source == "github":
        a, _, b = key.partition("→")
        kind = "active" if (a, b) == ("first_review", "approved") else "waiting"
        words = {"deploy"} if b == "deployed" else {"merge"} if a == "approved" else {"review"}
    else:
        folded = key.casefold()
        kind = "waiting" if any(w in folded for w in WAITING_WORDS) else "active"
        words = {w for w in re.findall(r"\w+", folded) if w not in STOP_WORDS}
    for st in stages:
        if words & set(re.findall(r"\w+", st.name.casefold())):
            return st.pk, kind
    return None, kind


WAITING_WORDS = ("wait", "queue", "ready", "blocked", "to do", "todo", "backlog", "hold")
STOP_WORDS = {"in", "to", "for", "on", "the", "a", "of", "do", "ready", "waiting", "wait"}


# --------------------------------------------------------------------------- computing
@dataclass
class StageStats:
    stage: Stage
    mapped: set[TimeKind]
    active: Distribution | None = None  # the window, or the window before the rollout
    waiting: Distribution | None = None
    active_after: Distribution | None = None
    waiting_after: Distribution | None = None
    change: delivery.StageChange | None = None

    @property
    def measured(self) -> bool:
        return self.active is not None or self.waiting is not None

    def as_json(self) -> dict:
        def dump(dist: Distribution | None):
            return dist.as_dict() if dist is not None else None

        return {
            "active": dump(self.active),
            "waiting": dump(self.waiting),
            "active_after": dump(self.active_after),
            "waiting_after": dump(self.waiting_after),
        }


@dataclass
class Outcome:
    """What a window (or two) of the export says about each stage of the map."""

    stages: list[StageStats]
    items: int  # items with a measured stage in the window
    start: date
    end: date
    rollout: date | None
    comparison: delivery.Comparison | None = None
    sentences: list[str] = field(default_factory=list)
    change_sentences: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)  # stage times out of order, by line

    @property
    def measured(self) -> list[StageStats]:
        return [s for s in self.stages if s.measured]

    def hours(self, stats: StageStats) -> tuple[float, float]:
        """The new version's (active, waiting) hours: medians where measured, else the map's."""
        st = stats.stage
        active = stats.active.median if stats.active is not None else st.active_hours
        waiting = stats.waiting.median if stats.waiting is not None else st.waiting_hours
        return active, waiting

    def speedups(self, stats: StageStats) -> tuple[float, float]:
        """The new version's speed-ups: measured ones with a rollout date (1× where nothing
        could be compared), the map's own without one."""
        if stats.change is not None:
            return stats.change.active.speedup, stats.change.waiting.speedup
        return stats.stage.speedup_active, stats.stage.speedup_waiting


def compute(
    parsed: delivery.Parsed,
    mapping: Mapping[str, Target],
    loaded: services.LoadedMap,
    start: date,
    end: date,
    rollout: date | None,
    tz: ZoneInfo,
) -> Outcome:
    found = delivery.samples(parsed.intervals, mapping, parsed.out_of_order)
    skipped = delivery.out_of_order_notes(
        parsed.out_of_order, mapping, {st.pk: st.name for st in loaded.stages}
    )
    lo, hi = delivery.day_bounds(start, end, tz)
    mapped: dict[int, set[TimeKind]] = {}
    for target in mapping.values():
        mapped.setdefault(int(str(target.stage)), set()).add(target.kind)
    rows = [StageStats(st, mapped.get(st.pk, set())) for st in loaded.stages]
    if rollout is None:
        window = delivery.in_window(found, lo, hi)
        stats = delivery.distributions(window)
        for row in rows:
            row.active = stats.get((row.stage.pk, "active"))
            row.waiting = stats.get((row.stage.pk, "waiting"))
        return Outcome(rows, delivery.items_in(window), start, end, None, skipped=skipped)
    split, _ = delivery.day_bounds(rollout, rollout, tz)
    before_found = delivery.in_window(found, lo, split)
    after_found = delivery.in_window(found, split, hi)
    before = delivery.distributions(before_found)
    after = delivery.distributions(after_found)
    comparison = delivery.compare(
        [(st.pk, st.name, st.active_hours, st.waiting_hours) for st in loaded.stages],
        loaded.edges,
        before,
        after,
        delivery.items_in(before_found),
        delivery.items_in(after_found),
    )
    for row, change in zip(rows, comparison.stages, strict=True):
        row.active, row.active_after = change.active.before, change.active.after
        row.waiting, row.waiting_after = change.waiting.before, change.waiting.after
        row.change = change
    outcome = Outcome(
        rows,
        delivery.items_in(before_found + after_found),
        start,
        end,
        rollout,
        comparison=comparison,
        skipped=skipped,
    )
    outcome.sentences = delivery.summary_sentences(comparison, _day(rollout))
    outcome.change_sentences = [
        delivery.change_sentence(row.stage.name, kind, getattr(change, kind))
        for row, change in zip(rows, comparison.stages, strict=True)
        if row.mapped
        for kind in KINDS
        if kind in row.mapped
    ]
    return outcome


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def data_range(parsed: delivery.Parsed, tz: ZoneInfo) -> tuple[date, date] | None:
    if parsed.first is None or parsed.last is None:
        return None
    return _local(parsed.first, tz), _local(parsed.last, tz)


def _local(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def preview_analysis(loaded: services.LoadedMap, outcome: Outcome) -> analysis.Analysis:
    """The new version as the analysis will see it (medians and speed-ups)."""
    inputs = []
    for stats in outcome.stages:
        active, waiting = outcome.hours(stats)
        sa, sw = outcome.speedups(stats)
        inputs.append(
            analysis.StageInput(stats.stage.pk, stats.stage.name, active, waiting, sa, sw)
        )
    return analysis.analyse(inputs, loaded.edges, details=False)


# --------------------------------------------------------------------------- writing
def remember(
    team, source: Source, columns: Mapping[str, str], choices: Mapping[str, tuple[str, str]]
) -> None:
    """Keep this mapping for the team's next upload (keys of other files are kept too).
    `choices`: key → (stage name or "" for ignore, kind)."""
    saved, _ = DeliveryMapping.objects.select_for_update().get_or_create(team=team, source=source)
    stages = dict(saved.stages or {})
    for key, (name, kind) in choices.items():
        stages[key] = {"stage": name, "kind": kind}
    saved.columns = dict(columns)
    saved.stages = stages
    saved.save()


def create_version(
    loaded: services.LoadedMap,
    outcome: Outcome,
    *,
    name: str,
    quarter: str,
    upload: DeliveryUpload,
    columns: Mapping[str, str],
    choices: Mapping[str, tuple[str, str]],
    tz: ZoneInfo,
    user,
) -> BottleneckMap:
    """The new version, its measurement and the remembered mapping, all or nothing."""
    bmap = loaded.map
    with transaction.atomic():
        services.lock(bmap)
        hours = {s.stage.pk: outcome.hours(s) for s in outcome.stages}
        speedups = {s.stage.pk: outcome.speedups(s) for s in outcome.stages}
        copy, mapping = services.copy_map(
            bmap, name=name, quarter=quarter, hours=hours, speedups=speedups
        )
        Measurement.objects.create(
            team_id=bmap.team_id,
            map=copy,
            source=upload.source,
            filename=upload.filename,
            window_start=outcome.start,
            window_end=outcome.end,
            rollout=outcome.rollout,
            time_zone=tz.key,
            items=outcome.items,
            stats={str(mapping[s.stage.pk]): s.as_json() for s in outcome.stages if s.measured},
            created_by=user,
        )
        remember(bmap.team, upload.source, columns, choices)  # type: ignore[arg-type]
    return copy


# --------------------------------------------------------------------------- showing
@dataclass
class MeasuredStage:
    stage: Stage
    active: Distribution | None
    waiting: Distribution | None
    active_after: Distribution | None
    waiting_after: Distribution | None

    @property
    def measured(self) -> bool:
        return self.active is not None or self.waiting is not None


def measured_stages(measurement: Measurement, stages: Sequence[Stage]) -> list[MeasuredStage]:
    out = []
    stats = measurement.stats or {}
    for st in stages:
        row = stats.get(str(st.pk)) or {}
        out.append(
            MeasuredStage(
                st,
                Distribution.from_dict(row.get("active")),
                Distribution.from_dict(row.get("waiting")),
                Distribution.from_dict(row.get("active_after")),
                Distribution.from_dict(row.get("waiting_after")),
            )
        )
    return out


def problems_sorted(problems: Sequence[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)
