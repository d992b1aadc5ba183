"""The audit run page as a report: per-cell spend and a per-idea breakdown of every sample,
from one query over the run's results (constant queries however many results there are)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from . import graders
from .models import AuditRun, Idea, Result


@dataclass
class Spend:
    cost_usd: Decimal = Decimal(0)
    tokens: int = 0
    calls: int = 0


@dataclass
class ProbeRow:
    probe_name: str
    model_id: str
    samples: list[Result] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return sum(1 for r in self.samples if r.grade == graders.PASS)


@dataclass
class IdeaBreakdown:
    idea: Idea
    rows: list[ProbeRow] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(len(r.samples) for r in self.rows)


@dataclass
class Report:
    spend: dict[tuple[int, int], Spend]  # (idea, model) -> this run's spend
    breakdown: list[IdeaBreakdown]


def build(run: AuditRun, ideas: list[Idea]) -> Report:
    results = (
        Result.objects.filter(run=run)
        .select_related("probe", "model")
        .order_by("probe__idea_id", "probe_id", "model__model_id", "sample")
    )
    spend: dict[tuple[int, int], Spend] = defaultdict(Spend)
    rows: dict[int, dict[tuple[int, int], ProbeRow]] = defaultdict(dict)
    for r in results:
        idea_id = r.probe.idea_id
        cell = spend[(idea_id, r.model_id)]
        cell.cost_usd += r.cost_usd
        cell.tokens += r.input_tokens + r.output_tokens + r.cache_creation_tokens
        cell.tokens += r.cache_read_tokens
        cell.calls += 1
        r.reason = graders.explain_result(
            r.probe.grader, r.grade, r.auto_grade, r.grader_output, r.error
        )
        row = rows[idea_id].get((r.probe_id, r.model_id))
        if row is None:
            row = rows[idea_id][(r.probe_id, r.model_id)] = ProbeRow(r.probe.name, r.model.model_id)
        row.samples.append(r)
    breakdown = [IdeaBreakdown(idea, list(rows[idea.pk].values())) for idea in ideas]
    return Report(dict(spend), breakdown)
