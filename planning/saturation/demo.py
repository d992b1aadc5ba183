"""Demo data: a chat assistant whose gains have flattened, and an agent still growing.

Figures are illustrative, not measurements. Idempotent: form factors are found by name and
readings by model name, so seeding twice leaves one copy.
"""

from __future__ import annotations

from datetime import date

from django.contrib.contenttypes.models import ContentType

from planning.notes.models import Kind, Note

from .models import FormFactor, SaturationReading
from .services import refresh_verdict

SOURCE = "Reasoning benchmark (illustrative)"

CHAT = [
    ("Model 2023-03", date(2023, 3, 14), 38.0, 41.0),
    ("Model 2023-11", date(2023, 11, 6), 47.0, 55.5),
    ("Model 2024-03", date(2024, 3, 4), 56.0, 63.0),
    ("Model 2024-06", date(2024, 6, 20), 63.0, 66.4),
    ("Model 2024-10", date(2024, 10, 22), 70.0, 67.3),
    ("Model 2025-02", date(2025, 2, 24), 77.0, 67.9),
    ("Model 2025-05", date(2025, 5, 22), 83.0, 68.1),
    ("Model 2025-09", date(2025, 9, 29), 88.0, 68.4),
]
AGENT = [
    ("Model 2024-06", date(2024, 6, 20), 63.0, 9.0),
    ("Model 2024-10", date(2024, 10, 22), 70.0, 14.5),
    ("Model 2025-02", date(2025, 2, 24), 77.0, 21.0),
    ("Model 2025-05", date(2025, 5, 22), 83.0, 28.5),
    ("Model 2025-09", date(2025, 9, 29), 88.0, 35.0),
]


def _form_factor(team, name: str, **defaults) -> FormFactor:
    form_factor = FormFactor.objects.for_team(team).filter(name__iexact=name).first()
    if form_factor is None:
        form_factor = FormFactor.objects.create(team=team, name=name, **defaults)
    return form_factor


def _readings(form_factor: FormFactor, rows, metric: str, cost: float) -> None:
    existing = {m.casefold() for m in form_factor.readings.values_list("model_name", flat=True)}
    SaturationReading.objects.bulk_create(
        [
            SaturationReading(
                form_factor=form_factor,
                model_name=name,
                release_date=released,
                capability=capability,
                capability_source=SOURCE,
                product_value=product,
                product_metric=metric,
                product_scale="linear",
                cost_per_task=cost,
            )
            for name, released, capability, product in rows
            if name.casefold() not in existing
        ]
    )
    refresh_verdict(form_factor)


def _note(team, user, obj, kind: str, text: str) -> None:
    ct = ContentType.objects.get_for_model(obj)
    Note.objects.get_or_create(
        team=team,
        content_type=ct,
        object_id=obj.pk,
        kind=kind,
        text=text,
        defaults={"author": user},
    )


def seed(team, user) -> None:
    agent = _form_factor(
        team,
        "Autonomous agent",
        product="Support desk",
        notes="Resolves tickets end to end: reads the account, acts, and reports back.",
    )
    chat = _form_factor(
        team,
        "Chat assistant",
        product="Support desk",
        notes="Answers customer questions in the help widget.",
    )
    if chat.next_form_factor_id is None:
        chat.next_form_factor = agent
        chat.save(update_fields=["next_form_factor", "updated_at"])
    _readings(chat, CHAT, "Task success (%)", 0.02)
    _readings(agent, AGENT, "Tickets resolved autonomously (%)", 0.35)
    _note(team, user, chat, Kind.LIGHT, "Cheap to run and well understood by customers.")
    _note(team, user, chat, Kind.SHADE, "Newer models no longer show up in customer outcomes.")
    _note(team, user, agent, Kind.LIGHT, "Every model generation resolves more tickets alone.")
    _note(team, user, agent, Kind.SHADE, "Acting on accounts raises the cost of a wrong action.")
