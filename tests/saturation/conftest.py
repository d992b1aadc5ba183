from __future__ import annotations

import pytest

from tests.factories import FormFactorFactory

SATURATING = [(30, 40), (40, 55), (50, 63), (60, 66.5), (70, 67.6), (80, 68), (90, 68.2)]
GROWING = [(30, 20), (40, 27), (50, 33), (60, 40), (70, 46), (80, 53), (90, 59)]


@pytest.fixture
def form_factor(team):
    return FormFactorFactory(team=team, name="Chat assistant", product="Help desk")


@pytest.fixture
def saturating(team):
    return FormFactorFactory(team=team, name="Chat", product="Help desk", readings=SATURATING)
