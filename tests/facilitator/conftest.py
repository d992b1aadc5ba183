from __future__ import annotations

from decimal import Decimal

import pytest

from audits.models import Model, Price
from tests.audits import fake  # points ANTHROPIC_BASE_URL at the fake before any worker starts


@pytest.fixture(autouse=True)
def _point_at_fake(settings):
    settings.ANTHROPIC_BASE_URL = fake.URL
    settings.ANTHROPIC_API_KEY = "test-key"


@pytest.fixture
def sim_model(db):
    Price.objects.create(
        model_id="sim-claude-4", input_per_mtok=Decimal(3), output_per_mtok=Decimal(15)
    )
    return Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
