"""Schema-driven fuzzing of the JSON API from its own OpenAPI document (schemathesis with
hypothesis), in-process through the WSGI application: every operation, with generated paths,
queries and bodies, as an editor of a team holding a metric and a committed prediction.

Checks: no server error, the status code and content type are documented, and the body
conforms to the documented schema. Fixed seed, bounded examples (`EXAMPLES` per operation).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from planning.accounts.models import ApiToken
from planning.wsgi import application
from tests.factories import ObservationFactory, PredictionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes the database connection around each request; the test's
    transaction must survive it (django.test.Client does the same)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def world(team, editor, metric, past):
    from datetime import date

    ObservationFactory.series(metric, date(2025, 1, 1), [60, 80, 110, 150])
    prediction = PredictionFactory(metric=metric, author=editor, committed_at=past)
    _, key = ApiToken.issue(editor)
    return {"team": team.slug, "metric": metric.pk, "prediction": prediction.pk, "key": key}


# The document as the app serves it (no database needed to produce it).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@schema.parametrize()
@seed(20261202)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_own_schema(case, world):
    # Aim at the team the token belongs to and at objects that exist, so the generated bodies
    # reach the services rather than stopping at 404.
    if "team" in (case.path_parameters or {}):
        case.path_parameters["team"] = world["team"]
    if "pk" in (case.path_parameters or {}):
        kind = "metric" if "/metrics/" in case.operation.path else "prediction"
        case.path_parameters["pk"] = world[kind]
    if isinstance(case.body, dict) and "metric" in case.body:
        case.body["metric"] = world["metric"]
    case.call_and_validate(headers={"Authorization": f"Bearer {world['key']}"}, checks=CHECKS)
