import datetime as dt

import factory

from audits.models import Idea, Probe
from planning.accounts.models import User
from planning.bottlenecks.models import BottleneckMap, Stage, StageDependency
from planning.cadences.models import Cadence
from planning.saturation.models import FormFactor, SaturationReading
from planning.teams.models import Invitation, Membership, Role, Team
from predictions.models import Metric, Observation, Prediction

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """A verified primary address, as every user who has finished signing up has
        (`UserFactory(verified=False)` for one who has not confirmed it)."""
        if create:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.create(
                user=obj, email=obj.email.lower(), primary=True, verified=extracted is not False
            )


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    time_zone = "Europe/London"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.EDITOR


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    team = factory.SubFactory(TeamFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.EDITOR


# ----------------------------------------------------------------------------- predictions
class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Metric

    team = factory.SubFactory(TeamFactory)
    name = "METR 50% time horizon"
    unit = "minutes"
    scale = "log"


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Observation

    metric = factory.SubFactory(MetricFactory)
    observed_at = factory.Sequence(lambda n: dt.date(2025, 1, 1) + dt.timedelta(days=30 * n))
    value = 100.0

    @classmethod
    def series(cls, metric, start: dt.date, values, step_days: int = 30, user=None):
        """Observations every `step_days` from `start`, recorded as the app records them
        (predictions.services.upsert_observations: with their change log); the rows given."""
        from predictions import services

        rows = [
            (start + dt.timedelta(days=i * step_days), float(v), "") for i, v in enumerate(values)
        ]
        services.upsert_observations(metric, rows, user)
        return rows


class PredictionFactory(factory.django.DjangoModelFactory):
    """A draft line on a metric; `committed=True` commits it now, `committed_at=` then."""

    class Meta:
        model = Prediction

    metric = factory.SubFactory(MetricFactory)
    team = factory.SelfAttribute("metric.team")
    author = factory.SubFactory(UserFactory)
    title = "Horizons double every 7 months"
    horizon = dt.date(2027, 1, 1)
    trajectory = factory.LazyFunction(
        lambda: {"model": "exponential", "baseline_date": "2025-01-01", "baseline_value": 60,
                 "doubling_months": 7}
    )  # fmt: skip
    band = factory.LazyFunction(lambda: {"coverage": 0.8, "low": 0.5, "high": 2})
    committed = False
    committed_at = None

    @classmethod
    def _create(cls, model_class, *args, committed=False, committed_at=None, **kwargs):
        from predictions import services

        prediction = model_class(*args, **kwargs)
        if committed_at is not None:
            prediction.made_at = committed_at
        prediction.save()
        if committed or committed_at is not None:
            prediction = services.commit_prediction(prediction, at=committed_at)
        return prediction


# ----------------------------------------------------------------------------- bottlenecks
class BottleneckMapFactory(factory.django.DjangoModelFactory):
    """A map with `stages` given as (name, active, waiting, speedup_active, speedup_waiting)
    and `edges` as (depends_on, stage) names."""

    class Meta:
        model = BottleneckMap

    team = factory.SubFactory(TeamFactory)
    name = "Delivery"
    quarter = "2026-Q1"
    stages = ()
    edges = ()

    @classmethod
    def _create(cls, model_class, *args, stages=(), edges=(), **kwargs):
        bmap = model_class.objects.create(*args, **kwargs)
        created = {}
        for i, (stage_name, active, waiting, sa, sw) in enumerate(stages):
            created[stage_name] = Stage.objects.create(
                map=bmap, name=stage_name, order=i, active_hours=active, waiting_hours=waiting,
                speedup_active=sa, speedup_waiting=sw,
            )  # fmt: skip
        for a, b in edges:
            StageDependency.objects.create(depends_on=created[a], stage=created[b])
        return bmap


# ----------------------------------------------------------------------------- audits
class ProbeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Probe

    idea = factory.SubFactory("tests.factories.IdeaFactory", probe=None)
    name = factory.LazyAttribute(lambda probe: f"{probe.idea.title} probe")
    user_message = "say yes"
    grader = "contains"
    grader_config = factory.LazyFunction(lambda: {"expected": "YES"})


class IdeaFactory(factory.django.DjangoModelFactory):
    """An idea with one probe (`probe__user_message=`, `probe__grader_config=`…)."""

    class Meta:
        model = Idea
        skip_postgeneration_save = True  # the probe is saved on its own

    team = factory.SubFactory(TeamFactory)
    title = "Idea"
    probe = factory.RelatedFactory(ProbeFactory, factory_related_name="idea")


# ----------------------------------------------------------------------------- cadences
class CadenceFactory(factory.django.DjangoModelFactory):
    """A weekly cadence, scheduled as of `now` (default: the real clock), with `people`."""

    class Meta:
        model = Cadence

    team = factory.SubFactory(TeamFactory)
    title = "Weekly check"
    kind = "custom"
    rrule = "FREQ=WEEKLY;BYDAY=MO"
    starts_on = dt.date(2026, 1, 1)
    due_time = dt.time(9, 0)
    reminder_days = factory.LazyFunction(lambda: [1])
    grace_days = 1
    now = None
    people = None

    @classmethod
    def _create(cls, model_class, *args, now=None, people=None, **kwargs):
        from django.utils import timezone

        from planning.cadences import services

        cadence = model_class.objects.create(*args, **kwargs)
        if people:
            cadence.people.set(people)
        services.reschedule(cadence, now or timezone.now())
        cadence.refresh_from_db()
        return cadence


# ----------------------------------------------------------------------------- saturation
class SaturationReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SaturationReading

    form_factor = factory.SubFactory("tests.factories.FormFactorFactory")
    model_name = factory.Sequence(lambda n: f"Model {n}")
    release_date = factory.Sequence(lambda n: dt.date(2024, 1, 1) + dt.timedelta(days=60 * n))
    capability = 50.0
    capability_source = "Bench"
    product_value = 60.0
    product_metric = "Task success (%)"

    @classmethod
    def series(cls, form_factor, rows, metric="Task success (%)", source="Bench",
               scale="linear"):  # fmt: skip
        """One reading per (capability, product value) row, 60 days apart from 2024-01-01,
        then the form factor's verdict refreshed (as the app does after an import)."""
        from planning.saturation.services import refresh_verdict

        start = dt.date(2024, 1, 1)
        SaturationReading.objects.bulk_create(
            SaturationReading(
                form_factor=form_factor, model_name=f"Model {i}",
                release_date=start + dt.timedelta(days=60 * i), capability=c,
                capability_source=source, product_value=y, product_metric=metric,
                product_scale=scale,
            )
            for i, (c, y) in enumerate(rows)
        )  # fmt: skip
        refresh_verdict(form_factor)
        return form_factor


class FormFactorFactory(factory.django.DjangoModelFactory):
    """A form factor; `readings=[(capability, product value), …]` adds them (and the verdict)."""

    class Meta:
        model = FormFactor

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Form factor {n}")
    readings = None

    @classmethod
    def _create(cls, model_class, *args, readings=None, **kwargs):
        form_factor = model_class.objects.create(*args, **kwargs)
        if readings:
            SaturationReadingFactory.series(form_factor, readings)
        return form_factor
