from __future__ import annotations

from decimal import Decimal

import pytest

from audits.models import Model, Price
from tests.audits import fake


@pytest.fixture(autouse=True)
def _point_at_fake(settings):
    settings.ANTHROPIC_BASE_URL = fake.URL
    settings.ANTHROPIC_API_KEY = "test-key"


@pytest.fixture
def sim_models(db):
    newer = Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
    older = Model.objects.create(model_id="sim-claude-3-20250610", display_name="Sim 3")
    Price.objects.create(
        model_id="sim-claude-4", input_per_mtok=Decimal(3), output_per_mtok=Decimal(15),
        cache_write_per_mtok=Decimal("3.75"), cache_read_per_mtok=Decimal("0.3"),
    )  # fmt: skip
    Price.objects.create(model_id="sim-claude-3", input_per_mtok=Decimal(1),
                         output_per_mtok=Decimal(5))  # fmt: skip
    return newer, older


@pytest.fixture
def gate(fake_api):
    """The fake server's gate, closed: answers arrive when the test releases them (opened
    again at the end)."""
    gate = fake.Gate()
    gate.close()
    yield gate
    gate.open()
