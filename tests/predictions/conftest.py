from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import MetricFactory


@pytest.fixture
def metric(team, owner):
    return MetricFactory(team=team, created_by=owner)


@pytest.fixture
def past():
    return timezone.now() - timedelta(days=400)
