"""The demo seed leaves one copy however often (and whenever) it runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from planning.cadences import demo, services
from planning.cadences.models import Cadence, Notification, Occurrence, State

pytestmark = pytest.mark.django_db


def test_seed_twice_hours_apart_leaves_one_copy(team, owner):
    demo.seed(team, owner)
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        demo.seed(team, owner)
    assert Cadence.objects.filter(team=team).count() == len(services.DEFAULT_CADENCES)
    done = Occurrence.objects.filter(cadence__team=team, state=State.DONE)
    assert done.count() == 1
    assert Notification.objects.filter(team=team, user=owner).count() == 1
