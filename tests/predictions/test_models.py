"""Immutability at the database, the revision chain, observation history, thresholds."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from predictions import services
from predictions.models import Kind, ObservationChange, Prediction, Resolution
from tests.factories import ObservationFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def raw_update(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_committed_prediction_refuses_raw_sql_updates(metric, owner):
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    assert p.committed_at and len(p.content_hash) == 64 and p.hash_verified
    for column, value in [
        ("title", "Edited after the fact"),
        ("band", '{"coverage": 0.5, "low": 0.9, "high": 1.1}'),
        ("horizon", "2030-01-01"),
        ("committed_at", None),
        ("content_hash", "0" * 64),
    ]:
        with pytest.raises(IntegrityError, match="is committed and cannot be changed"):
            raw_update(f"UPDATE predictions_prediction SET {column} = %s WHERE id = %s",
                       [value, p.pk])  # fmt: skip
    p.refresh_from_db()
    assert p.title == "Horizons double every 7 months" and p.hash_verified


def test_orm_save_of_a_committed_prediction_is_refused_too(metric, owner):
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    p.rationale = "sneaky"
    with pytest.raises(IntegrityError), transaction.atomic():
        p.save()


def test_drafts_can_change_and_commit_once(metric, owner):
    p = PredictionFactory(metric=metric, author=owner)
    raw_update("UPDATE predictions_prediction SET title = %s WHERE id = %s", ["New", p.pk])
    p.refresh_from_db()
    assert p.title == "New" and not p.is_committed
    committed = services.commit_prediction(p)
    assert committed.content_hash == committed.compute_hash()
    with pytest.raises(services.CommitError):
        services.commit_prediction(committed)


def test_commit_needs_a_hash_constraint(metric, owner):
    p = PredictionFactory(metric=metric, author=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Prediction.objects.filter(pk=p.pk).update(committed_at=timezone.now())


def test_committed_prediction_can_still_be_deleted_with_its_team(metric, owner, team):
    PredictionFactory(metric=metric, author=owner, committed=True)
    team.delete()
    assert not Prediction.objects.exists()


def test_revision_chain_and_one_committed_revision(metric, owner):
    first = PredictionFactory(metric=metric, author=owner, committed=True)
    second = PredictionFactory(
        metric=metric, author=owner, supersedes=first, title="Faster: 5 months"
    )
    services.commit_prediction(second)
    assert [p.pk for p in services.revision_chain(first)] == [first.pk, second.pk]
    assert [p.pk for p in services.revision_chain(second)] == [first.pk, second.pk]
    rival = PredictionFactory(metric=metric, author=owner, supersedes=first, title="Another branch")
    with pytest.raises(services.CommitError):
        services.commit_prediction(rival)
    first.refresh_from_db()
    assert first.title == "Horizons double every 7 months"  # the old line is untouched


def test_reentering_a_date_updates_with_history(metric, owner):
    day = date(2025, 6, 1)
    services.upsert_observations(metric, [(day, 100.0, "METR")], owner)
    result = services.upsert_observations(metric, [(day, 120.0, "METR v2")], owner)
    assert (result.created, result.updated) == (0, 1)
    obs = metric.observations.get()
    assert obs.value == 120.0
    change = ObservationChange.objects.get()
    assert (change.old_value, change.new_value, change.old_source) == (100.0, 120.0, "METR")
    again = services.upsert_observations(metric, [(day, 120.0, "METR v2")], owner)
    assert again.unchanged == 1 and ObservationChange.objects.count() == 1


def test_threshold_prediction_resolves_from_observations(metric, owner, past):
    p = PredictionFactory(
        metric=metric,
        author=owner,
        kind=Kind.THRESHOLD,
        trajectory=None,
        band=None,
        threshold_value=500,
        probability=0.7,
        horizon=(past + timedelta(days=200)).date(),
        committed_at=past,
    )
    start = past.date() + timedelta(days=10)
    ObservationFactory.series(metric, start, [100, 300], user=owner)
    assert not Resolution.objects.exists()
    ObservationFactory.series(metric, start + timedelta(days=90), [600], user=owner)
    resolution = Resolution.objects.get(prediction=p)
    assert resolution.outcome is True and resolution.method == "auto"
    p = Prediction.objects.select_related("metric", "resolution").get(pk=p.pk)
    score = services.score_prediction(p, services.Series.load(metric))
    assert score.brier == pytest.approx(0.09)


def test_scoring_uses_only_observations_after_commit_and_before_horizon(metric, owner, past):
    p = PredictionFactory(metric=metric, author=owner, committed_at=past)
    before = past.date() - timedelta(days=5)
    ObservationFactory.series(metric, before, [60, 80, 100, 120, 150], step_days=30, user=owner)
    p = Prediction.objects.select_related("metric").get(pk=p.pk)
    score = services.score_prediction(p, services.Series.load(metric))
    assert score.summary.n == 4  # the first observation predates the commit
    assert score.points.actual.tolist() == [80, 100, 120, 150]


def test_definition_change_is_flagged_in_scores(metric, owner, past):
    p = PredictionFactory(metric=metric, author=owner, committed_at=past)
    ObservationFactory.series(metric, past.date() + timedelta(days=1), [70], user=owner)
    metric.definition_version = 2
    metric.save()
    ObservationFactory.series(metric, past.date() + timedelta(days=40), [90], user=owner)
    p = Prediction.objects.select_related("metric").get(pk=p.pk)
    score = services.score_prediction(p, services.Series.load(metric))
    assert score.summary.n == 2 and score.definition_changed == 1
