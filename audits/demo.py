"""Demo data: four failed ideas with probes; last quarter's audit on the older simulated
model and this quarter's on the newest, with answers scripted by audits/fake_rules.json (the
same text the fake server streams). Every idea failed on the oldest simulated model when it was
logged, so "Support replies" lights up in last quarter's audit and two more on the newest
model this quarter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import graders
from .client import price_for
from .models import AuditRun, Grade, Idea, IdeaStatus, Model, Probe, Result, RunStatus
from .runs import _apply_outcome
from .simulated import Rules, approx_tokens, seed_simulated_prices

OLDEST, OLDER, NEWER = "sim-claude-2-20240901", "sim-claude-3-20250610", "sim-claude-4-20260115"

IDEAS: list[dict[str, Any]] = [
    {
        "title": "Contract terms straight into our CRM",
        "capability_needed": "Reliable structured extraction as JSON",
        "why_failed": "Answers came back as prose; the import broke on every third contract.",
        "probe": {
            "name": "Parties and term as JSON",
            "user_message": "Extract the parties and the term in months from this agreement as "
            'JSON {"parties": [...], "term_months": n}: "This agreement between Acme Ltd and '
            'Globex plc runs for twenty-four months."',
            "grader": "json_schema",
            "grader_config": {
                "schema": {
                    "type": "object",
                    "required": ["parties", "term_months"],
                    "properties": {
                        "parties": {"type": "array", "minItems": 2},
                        "term_months": {"type": "integer"},
                    },
                }
            },
        },
    },
    {
        "title": "Invoice totals without a calculator step",
        "capability_needed": "Multi-step arithmetic with discounts",
        "why_failed": "Totals were off by tens of pounds; finance would not trust it.",
        "probe": {
            "name": "Discounted invoice total",
            "user_message": "What is the total of the invoice lines 400, 525.58 and 402.42 "
            "after a 7.5% discount is applied to the first line only? Answer with the number.",
            "grader": "number",
            "grader_config": {"expected": 1234.5, "tolerance": 0.01},
        },
    },
    {
        "title": "Support replies that calm angry customers",
        "capability_needed": "Tone: apologise and offer a concrete remedy",
        "why_failed": "Early models sounded defensive.",
        "probe": {
            "name": "Damaged order reply",
            "user_message": "Rewrite this support reply so it is kind and offers a remedy: "
            "'Your order was damaged. Contact the courier.'",
            "grader": "llm_judge",
            "grader_config": {
                "rubric": "Pass if the reply apologises and offers a refund or a replacement.",
                "rubric_version": "2",
                "judge_model": NEWER,
            },
        },
    },
    {
        "title": "Migrate the COBOL billing batch",
        "capability_needed": "Faithful translation of legacy COBOL",
        "why_failed": "Translations silently dropped edge cases.",
        "probe": {
            "name": "Paragraph translation",
            "user_message": "Translate this COBOL paragraph to Python: COMPUTE WS-TOTAL = "
            "WS-TOTAL + WS-LINE * (1 - WS-DISC).",
            "grader": "regex",
            "grader_config": {"pattern": r"def \w+\("},
        },
    },
]


def _answer(rules: Rules, probe: Probe, model: str) -> tuple[str, dict]:
    text = rules.respond(model, f"{probe.system_prompt}\n{probe.user_message}")

    def ask(judge_model, system, user):
        return rules.respond(judge_model, f"{system}\n{user}"), rules.resolve(judge_model) or ""

    verdict = graders.grade(
        probe.grader, text, probe.grader_config, ask=ask, task=probe.user_message
    )
    return text, {
        "grade": verdict.grade,
        "auto_grade": verdict.grade,
        "grader_output": verdict.detail,
    }


def _run(team, user, rules, model, ideas, quarter, when) -> AuditRun:
    run = AuditRun.objects.create(
        team=team, quarter=quarter, status=RunStatus.COMPLETED, started_by=user, epoch=1
    )
    AuditRun.objects.filter(pk=run.pk).update(
        created_at=when, started_at=when, finished_at=when + timedelta(minutes=3)
    )
    run.refresh_from_db()
    run.models.set([model])
    run.ideas.set(ideas)
    price = price_for(model.model_id)
    for idea in ideas:
        for probe in idea.probes.all():
            text, grade = _answer(rules, probe, model.model_id)
            tin, tout = approx_tokens(probe.user_message), approx_tokens(text)
            cost = price.cost(tin, tout, 0, 0) if price else Decimal(0)
            Result.objects.create(
                run=run,
                probe=probe,
                model=model,
                sample=1,
                response=text,
                resolved_model=model.model_id,
                input_tokens=tin,
                output_tokens=tout,
                cost_usd=cost,
                latency_ms=900,
                created_at=when,
                **grade,
            )
            run.done_calls += 1
            run.expected_calls += 1
            run.cost_usd += cost
            run.tokens_in += tin
            run.tokens_out += tout
    run.save()
    return run


@transaction.atomic
def seed(team, user) -> None:
    if Idea.objects.for_team(team).filter(title=IDEAS[0]["title"]).exists():
        return
    from planning.quarters import current_quarter

    rules = Rules.load()
    models = {}
    for info in rules.models:
        models[info["id"]], _ = Model.objects.get_or_create(
            model_id=info["id"],
            defaults={
                "display_name": info["display_name"],
                "released_at": info["created_at"],
                "lifecycle": info.get("lifecycle", "active"),
            },
        )
    seed_simulated_prices()
    ideas = []
    now = timezone.now()
    for spec in IDEAS:
        idea = Idea.objects.create(
            team=team,
            owner=user,
            title=spec["title"],
            capability_needed=spec["capability_needed"],
            why_failed=spec["why_failed"],
            failed_model=OLDEST,
            failed_at=now - timedelta(days=200),
        )
        idea.status_changes.create(
            to_status=IdeaStatus.DORMANT,
            changed_by=user,
            created_at=now - timedelta(days=200),
            reason=f"Logged: failed on {idea.failed_on}. {spec['why_failed']}",
        )
        Probe.objects.create(idea=idea, **spec["probe"])
        ideas.append(idea)
    this_q = current_quarter(team)
    earlier = _run(
        team, user, rules, models[OLDER], ideas, str(this_q.previous()), now - timedelta(days=92)
    )
    _apply_outcome(earlier)
    _backdate_changes(earlier, now - timedelta(days=92))
    dormant = [
        i
        for i in ideas
        if i.status_changes.values_list("to_status", flat=True).first() == IdeaStatus.DORMANT
    ]
    latest = _run(team, user, rules, models[NEWER], ideas, str(this_q), now - timedelta(hours=2))
    _apply_outcome(latest)
    _backdate_changes(latest, now - timedelta(hours=2))
    lit = set(
        Idea.objects.for_team(team).filter(status=IdeaStatus.LIT_UP).values_list("title", flat=True)
    )
    assert len(dormant) == 3 and len(lit) == 3, f"demo script: {lit}"
    Result.objects.filter(run=latest, grade=Grade.ERROR).delete()


def _backdate_changes(run: AuditRun, when) -> None:
    from .models import IdeaStatusChange

    IdeaStatusChange.objects.filter(run=run).update(created_at=when + timedelta(minutes=3))
