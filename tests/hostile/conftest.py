from __future__ import annotations

import pytest


@pytest.fixture
def fake_models(fake_api, settings):
    """Model calls (the models list, "try once now") go to the project's fake Messages API."""
    settings.ANTHROPIC_BASE_URL = fake_api
    settings.ANTHROPIC_API_KEY = "test-key"
