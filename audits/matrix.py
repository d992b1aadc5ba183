"""Verdicts per idea × model × run, in a constant number of queries.

Results are aggregated in SQL to (run, probe, model, grade) counts, then rolled up with the
pure functions in graders: samples -> probe (k of n), probes -> idea (all or threshold).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count

from . import graders
from .models import AuditRun, Idea, IdeaStatus, Model, Probe, Result


@dataclass
class Cell:
    verdict: str = ""  # pass | fail | pending | error | "" (not tested)
    passes: int = 0
    n: int = 0
    run_id: int | None = None
    previous: str = ""  # the verdict in the run before, on the same model
    newly_passing: bool = False
    regressed: bool = False
    history: list[tuple[AuditRun, str]] = field(default_factory=list)  # oldest first

    @property
    def rate(self) -> float | None:
        return self.passes / self.n if self.n else None


@dataclass
class Matrix:
    ideas: list[Idea]
    models: list[Model]
    cells: dict[tuple[int, int], Cell]
    runs: dict[int, AuditRun]

    def rows(self):
        for idea in self.ideas:
            yield idea, [self.cells.get((idea.pk, m.pk), Cell()) for m in self.models]

    def lit_up_rows(self) -> list[tuple[Idea, list[Model]]]:
        found = self.lit_up()
        return [(idea, found[idea.pk]) for idea in self.ideas if idea.pk in found]

    def lit_up(self) -> dict[int, list[Model]]:
        """Ideas that newly pass on some model, with those models."""
        shown = {m.pk: m for m in self.models}  # cells of other models are not in this view
        found: dict[int, list[Model]] = defaultdict(list)
        for (idea_id, model_id), cell in self.cells.items():
            if cell.newly_passing and model_id in shown:
                found[idea_id].append(shown[model_id])
        return found


def verdicts(team, ideas=None, runs=None) -> dict[tuple[int, int, int], tuple[str, int, int]]:
    """{(idea, model, run): (verdict, passes, n)} over the given runs (default: all)."""
    results = Result.objects.for_team(team)
    if runs is not None:
        results = results.filter(run__in=runs)
    if ideas is not None:
        results = results.filter(probe__idea__in=ideas)
    counts = results.values("run_id", "probe_id", "model_id", "grade").annotate(c=Count("id"))
    probes = {
        p.pk: p for p in Probe.objects.for_team(team).only("pk", "idea_id", "samples", "pass_k")
    }
    thresholds = dict(Idea.objects.for_team(team).values_list("pk", "pass_threshold"))
    probes_per_idea: dict[int, int] = defaultdict(int)
    for p in probes.values():
        probes_per_idea[p.idea_id] += 1
    grades: dict[tuple[int, int, int], list[str]] = defaultdict(list)
    for row in counts:
        grades[(row["run_id"], row["probe_id"], row["model_id"])] += [row["grade"]] * row["c"]
    per_idea: dict[tuple[int, int, int], list[str]] = defaultdict(list)
    tallies: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for (run_id, probe_id, model_id), probe_grades in grades.items():
        probe = probes.get(probe_id)
        if probe is None:
            continue
        key = (probe.idea_id, model_id, run_id)
        per_idea[key].append(graders.probe_verdict(probe_grades, probe.pass_k, probe.samples))
        tallies[key][0] += probe_grades.count(graders.PASS)
        tallies[key][1] += len(probe_grades)
    out = {}
    for key, probe_verdicts in per_idea.items():
        # probes the idea has but this run did not reach count as pending
        expected = probes_per_idea[key[0]]
        probe_verdicts += [graders.PENDING] * max(0, expected - len(probe_verdicts))
        verdict = graders.idea_verdict(probe_verdicts, thresholds.get(key[0]))
        passes, n = tallies[key]
        out[key] = (verdict, passes, n)
    return out


def build(team, ideas=None, models=None, upto_run: AuditRun | None = None) -> Matrix:
    """The ideas × models matrix: each cell is the latest run's verdict beside earlier ones."""
    runs_qs = AuditRun.objects.for_team(team).order_by("created_at", "pk")
    if upto_run is not None:
        runs_qs = runs_qs.filter(created_at__lte=upto_run.created_at)
    runs = {r.pk: r for r in runs_qs}
    if ideas is None:
        ideas = list(Idea.objects.for_team(team).exclude(status=IdeaStatus.ABANDONED))
    for obj in [*runs.values(), *ideas]:
        obj.team = team  # URLs need the slug: no query per row
    table = verdicts(team, ideas=ideas, runs=list(runs))
    if models is None:
        model_ids = {model_id for (_, model_id, _) in table}
        models = list(Model.objects.filter(pk__in=model_ids))
    order = {run_id: i for i, run_id in enumerate(runs)}
    # Every idea starts from a recorded failure (logged with it), so the first run in which
    # it passes on a model is "newly passing" there, unless it already passed in an earlier
    # run on another model (then a model tested for the first time is not news).
    passed_before: dict[int, int] = {}  # idea -> order of its earliest passing run
    for (idea_id, _, run_id), (verdict, *_rest) in table.items():
        if verdict == graders.PASS:
            passed_before[idea_id] = min(passed_before.get(idea_id, 10**9), order[run_id])
    cells: dict[tuple[int, int], Cell] = {}
    by_pair: dict[tuple[int, int], list[tuple[int, int, tuple[str, int, int]]]] = defaultdict(list)
    for (idea_id, model_id, run_id), value in table.items():
        by_pair[(idea_id, model_id)].append((order[run_id], run_id, value))
    for pair, entries in by_pair.items():
        entries.sort()
        _, run_id, (verdict, passes, n) = entries[-1]
        previous = entries[-2][2][0] if len(entries) > 1 else ""
        cell = Cell(
            verdict,
            passes,
            n,
            run_id,
            previous,
            history=[(runs[rid], v[0]) for _, rid, v in entries],
        )
        earlier_pass = passed_before.get(pair[0], 10**9) < entries[-1][0]
        cell.newly_passing = verdict == graders.PASS and (
            previous == graders.FAIL or (not previous and not earlier_pass)
        )
        cell.regressed = previous == graders.PASS and verdict == graders.FAIL
        cells[pair] = cell
    return Matrix(list(ideas), list(models), cells, runs)
