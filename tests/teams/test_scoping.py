"""The one way to reach a team's rows: Model.objects.for_team(team) and, in views,
team_get_object_or_404 built on it; rows reached through a parent name their path."""

from __future__ import annotations

import pytest
from django.http import Http404

from planning.teams.models import Membership
from planning.teams.tenancy import team_get_object_or_404
from predictions.models import Metric, Observation
from tests.factories import MetricFactory, ObservationFactory


@pytest.mark.django_db
def test_for_team_follows_the_team_path(team, other_team):
    ours = ObservationFactory(metric=MetricFactory(team=team))
    theirs = ObservationFactory(metric=MetricFactory(team=other_team))
    assert list(Observation.objects.for_team(team)) == [ours]
    assert list(Observation.objects.for_team(other_team.pk)) == [theirs]
    assert list(Metric.objects.for_team(team)) == [ours.metric]


@pytest.mark.django_db
def test_another_teams_object_is_a_404(team, other_team, owner):
    theirs = ObservationFactory(metric=MetricFactory(team=other_team))
    assert team_get_object_or_404(other_team, Observation, pk=theirs.pk) == theirs
    with pytest.raises(Http404):
        team_get_object_or_404(team, Observation, pk=theirs.pk)
    with pytest.raises(Http404):
        team_get_object_or_404(team, Metric.objects.select_related("team"), pk=theirs.metric.pk)
    mine = Membership.objects.get(user=owner)
    assert team_get_object_or_404(team, Membership, pk=mine.pk) == mine
    with pytest.raises(Http404):
        team_get_object_or_404(other_team, Membership, pk=mine.pk)
