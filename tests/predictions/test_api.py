"""The JSON API: token auth, roles, cross-team 404, field errors, idempotent upserts,
create/commit predictions, scores, and the OpenAPI document."""

import json
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from planning.accounts.models import ApiToken
from predictions.models import Metric, Observation, ObservationChange, Prediction
from tests.factories import MetricFactory, PredictionFactory

pytestmark = pytest.mark.django_db

# Horizons must lie after today (and within 50 years): a year from now, whenever tests run.
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


class Api:
    def __init__(self, user=None, key=None):
        self.client = Client()
        self.key = key or (ApiToken.issue(user)[1] if user else None)

    def _headers(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}

    def get(self, path, **params):
        return self.client.get(f"/api/v1/{path}", params, **self._headers())

    def post(self, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(f"/api/v1/{path}", data, content_type="application/json",
                                **self._headers())  # fmt: skip


@pytest.fixture
def editor_api(editor):
    return Api(editor)


LINE = {
    "kind": "line", "claim": "Doubling every 7 months", "horizon": NEXT_YEAR,
    "trajectory": {"model": "exponential", "baseline_date": "2025-01-01", "baseline_value": 60,
                   "doubling_months": 7},
    "band": {"coverage": 0.8, "low": 0.5, "high": 2},
}  # fmt: skip


def test_no_or_bad_token_is_401(team):
    response = Api().get(f"t/{team.slug}/metrics/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["error"]
    assert Api(key="nope").get(f"t/{team.slug}/metrics/").status_code == 401


def test_token_use_is_recorded(team, editor, editor_api):
    assert editor_api.get(f"t/{team.slug}/metrics/").status_code == 200
    assert ApiToken.objects.get(user=editor).last_used_at is not None


def test_cross_team_is_404(team, other_team, outsider, metric, owner):
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    theirs = Api(outsider)
    for path in [f"t/{team.slug}/metrics/", f"t/{team.slug}/metrics/{metric.pk}/",
                 f"t/{team.slug}/predictions/{p.pk}/"]:  # fmt: skip
        assert theirs.get(path).status_code == 404, path
    # through their own team, our objects do not exist either
    for path in [f"t/{other_team.slug}/metrics/{metric.pk}/",
                 f"t/{other_team.slug}/metrics/{metric.pk}/observations/",
                 f"t/{other_team.slug}/predictions/{p.pk}/scores/"]:  # fmt: skip
        assert theirs.get(path).status_code == 404, path
    response = theirs.post(f"t/{other_team.slug}/predictions/", {**LINE, "metric": metric.pk})
    assert response.status_code == 400 and "metric" in response.json()["fields"]


def test_viewer_cannot_change_anything(team, viewer, metric):
    api = Api(viewer)
    assert api.get(f"t/{team.slug}/metrics/").status_code == 200
    assert api.post(f"t/{team.slug}/metrics/", {"name": "X"}).status_code == 403
    response = api.post(f"t/{team.slug}/metrics/{metric.pk}/observations/",
                        {"observations": [{"date": "2025-01-01", "value": 1}]})  # fmt: skip
    assert response.status_code == 403


def test_create_and_list_metrics_with_field_errors(team, editor_api):
    created = editor_api.post(
        f"t/{team.slug}/metrics/", {"name": "ARR", "unit": "$", "scale": "log"}
    )
    assert created.status_code == 201 and created.json()["name"] == "ARR"
    bad = editor_api.post(f"t/{team.slug}/metrics/", {"name": "ARR 2", "scale": "cubic",
                                               "higher_is_better": "yes"})  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"scale", "higher_is_better"}
    clash = editor_api.post(f"t/{team.slug}/metrics/", {"name": "arr"})  # the service's rule
    assert clash.status_code == 400
    assert "already tracks" in clash.json()["fields"]["name"][0]
    assert editor_api.post(f"t/{team.slug}/metrics/", raw="{nope").status_code == 400
    listing = editor_api.get(f"t/{team.slug}/metrics/").json()["metrics"]
    assert [m["name"] for m in listing] == ["ARR"]


def test_batch_upsert_is_idempotent_and_all_or_nothing(team, editor_api, metric):
    path = f"t/{team.slug}/metrics/{metric.pk}/observations/"
    rows = [{"date": "2025-01-01", "value": 60, "source": "METR"},
            {"date": "2025-02-01", "value": 70}]  # fmt: skip
    first = editor_api.post(path, {"observations": rows})
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0, "resolved_predictions": []}
    again = editor_api.post(path, {"observations": rows})
    assert again.json()["unchanged"] == 2 and Observation.objects.count() == 2
    changed = editor_api.post(path, {"observations": [{"date": "2025-02-01", "value": 75}]})
    assert changed.json()["updated"] == 1
    assert ObservationChange.objects.get().via == "api"
    future = (timezone.now() + timedelta(days=30)).date().isoformat()
    # What the schema refuses: not a date, not a number, unknown fields.
    malformed = editor_api.post(path, {"observations": [
        {"date": "2025-03-01", "value": 80},
        {"date": "yesterday", "value": 1},
        {"date": "2025-05-01", "value": "ten", "colour": "red"},
    ]})  # fmt: skip
    assert malformed.status_code == 400
    fields = malformed.json()["fields"]
    assert "not a date" in fields["observations[1].date"][0]
    assert fields["observations[2].colour"] == ["Unknown field."]
    assert "observations[2].value" in fields
    # What the service refuses (the same rules as the web form and the CSV import).
    bad = editor_api.post(path, {"observations": [
        {"date": "2025-03-01", "value": 80},
        {"date": "2025-04-01", "value": -1},
        {"date": future, "value": 1},
        {"date": "2025-03-01", "value": 81},
    ]})  # fmt: skip
    assert bad.status_code == 400
    fields = bad.json()["fields"]
    assert "greater than zero" in fields["observations[1].value"][0]
    assert "in the future" in fields["observations[2].date"][0]
    assert "already appears at observations[0]" in fields["observations[3].date"][0]
    assert Observation.objects.count() == 2  # nothing from the bad batches was saved
    assert editor_api.get(path).json()["observations"][1]["value"] == 75


def test_create_commit_and_score_a_prediction(team, editor_api, editor, metric):
    Observation.objects.create(metric=metric, observed_at=date.today(), value=100)
    created = editor_api.post(f"t/{team.slug}/predictions/", {**LINE, "metric": metric.pk})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["content_hash"] is None
    assert body["description"] == "doubles every 7 months from 60 minutes on 2025-01-01"
    committed = editor_api.post(f"t/{team.slug}/predictions/{body['id']}/commit/")
    assert committed.status_code == 200
    p = Prediction.objects.get(pk=body["id"])
    assert committed.json()["content_hash"] == p.content_hash and p.hash_verified
    assert editor_api.post(f"t/{team.slug}/predictions/{p.pk}/commit/").status_code == 409
    scores = editor_api.get(f"t/{team.slug}/predictions/{p.pk}/scores/").json()
    assert scores["summary"]["n"] == 0  # the only observation is on the commit day
    listing = editor_api.get(f"t/{team.slug}/predictions/", metric=metric.pk).json()["predictions"]
    assert [x["id"] for x in listing] == [p.pk]


def test_scores_endpoint(team, editor_api, editor, metric):
    past = timezone.now() - timedelta(days=100)
    p = PredictionFactory(metric=metric, author=editor, committed_at=past)
    Observation.objects.create(metric=metric, observed_at=past.date() + timedelta(days=10),
                               value=5000)  # fmt: skip
    scores = editor_api.get(f"t/{team.slug}/predictions/{p.pk}/scores/").json()
    assert scores["summary"]["n"] == 1 and scores["summary"]["error_kind"] == "log10"
    assert scores["points"][0]["inside"] is False
    assert "ahead of your median" in scores["summary"]["bias_phrase"]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"trajectory": {**LINE["trajectory"], "baseline_value": -1}},
         "trajectory.baseline_value"),
        ({"horizon": "2024-01-01"}, "horizon"),
        ({"band": {"coverage": 1, "low": 0.5, "high": 2}}, "band.coverage"),
        ({"band": {"low": 2, "high": 0.5}}, "band.low"),
        ({"claim": ""}, "claim"),
        ({"kind": "vibes"}, "kind"),
        ({"kind": "threshold", "threshold": {"value": 100, "probability": 1.5}},
         "threshold.probability"),
    ],
)  # fmt: skip
def test_prediction_field_errors(team, editor_api, metric, change, field):
    response = editor_api.post(
        f"t/{team.slug}/predictions/", {**LINE, "metric": metric.pk, **change}
    )
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Prediction.objects.exists()


def test_threshold_prediction_via_api(team, editor_api, metric):
    horizon = (timezone.now() + timedelta(days=60)).date().isoformat()
    response = editor_api.post(f"t/{team.slug}/predictions/", {
        "metric": metric.pk, "kind": "threshold", "claim": "A day-long task", "horizon": horizon,
        "threshold": {"value": 480, "probability": 0.3}, "commit": True})  # fmt: skip
    assert response.status_code == 201
    assert response.json()["threshold"] == {"value": 480, "above": True, "probability": 0.3}
    assert response.json()["status"] == "committed"


def test_anti_anchoring_applies_to_the_api(team, owner, editor, editor_api, metric):
    team.anti_anchoring = True
    team.save()
    theirs = PredictionFactory(metric=metric, author=owner, committed=True)
    assert editor_api.get(f"t/{team.slug}/predictions/").json()["predictions"] == []
    assert editor_api.get(f"t/{team.slug}/predictions/{theirs.pk}/").status_code == 404
    editor_api.post(f"t/{team.slug}/predictions/", {**LINE, "metric": metric.pk, "commit": True})
    assert len(editor_api.get(f"t/{team.slug}/predictions/").json()["predictions"]) == 2


def test_revision_through_the_api(team, editor_api, editor, metric):
    old = PredictionFactory(metric=metric, author=editor, committed=True)
    response = editor_api.post(
        f"t/{team.slug}/predictions/",
        {**LINE, "metric": metric.pk, "supersedes": old.pk, "commit": True},
    )
    assert response.status_code == 201 and response.json()["supersedes"] == old.pk
    other = MetricFactory(team=team, name="Other")
    bad = editor_api.post(f"t/{team.slug}/predictions/", {**LINE, "metric": other.pk,
                                                   "supersedes": old.pk})  # fmt: skip
    assert bad.status_code == 400 and "supersedes" in bad.json()["fields"]


def test_wrong_method_is_405_json(team, editor_api, metric):
    response = editor_api.post(f"t/{team.slug}/metrics/{metric.pk}/")
    assert response.status_code == 405 and response.json()["error"]
    assert "GET" in response["Allow"]


def test_every_error_under_the_api_is_json(team, editor_api, metric):
    for response, status in [
        (editor_api.get("no/such/address/"), 404),
        (editor_api.get(f"t/{team.slug}/metrics/999999999999999999999/"), 404),
        (editor_api.get(f"t/{team.slug}/predictions/", metric="x"), 400),
        (editor_api.post(f"t/{team.slug}/metrics/", raw="[" * 50_000), 400),
        (editor_api.post(f"t/{team.slug}/metrics/", raw='{"name": 1' + "0" * 5000 + "}"), 400),
        (Api().get(f"t/{team.slug}/metrics/"), 401),
    ]:
        assert response.status_code == status, response.content[:200]
        assert response["Content-Type"] == "application/json", response.content[:200]
        assert response.json()["error"]


@pytest.mark.parametrize(
    "raw,field",
    [
        ('{"name": "A metric", "description": "a\\u0000b"}', "description"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "ok", "higher_is_better": 1}', "higher_is_better"),
        ('{"name": "ok", "colour": "red"}', "colour"),
    ],
)
def test_unstorable_text_and_wrong_types_are_field_errors(team, editor_api, raw, field):
    response = editor_api.post(f"t/{team.slug}/metrics/", raw=raw)
    assert response.status_code == 400 and field in response.json()["fields"], response.json()
    assert not Metric.objects.exists()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1" * 400])
def test_non_finite_and_huge_numbers_are_refused(team, editor_api, metric, value):
    path = f"t/{team.slug}/metrics/{metric.pk}/observations/"
    raw = '{"observations": [{"date": "2025-01-01", "value": ' + value + "}]}"
    response = editor_api.post(path, raw=raw)
    assert response.status_code == 400 and response.json()["error"]
    assert not Observation.objects.exists()


@pytest.mark.parametrize("day", ["1899-12-31", "0001-01-01", "2201-01-01"])
def test_dates_outside_1900_2200_are_field_errors(team, editor_api, metric, day):
    response = editor_api.post(f"t/{team.slug}/predictions/", {**LINE, "metric": metric.pk,
                                                       "horizon": day})  # fmt: skip
    assert response.status_code == 400 and response.json()["fields"]["horizon"]
    line = {**LINE, "metric": metric.pk,
            "trajectory": {**LINE["trajectory"], "baseline_date": day}}  # fmt: skip
    response = editor_api.post(f"t/{team.slug}/predictions/", line)
    assert response.status_code == 400 and "trajectory.baseline_date" in response.json()["fields"]
    assert not Prediction.objects.exists()


def test_openapi_document_describes_every_api_route(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    resolver = get_resolver()
    api_routes = []
    for p in resolver.url_patterns:
        if str(p.pattern) == "api/v1/":
            api_routes = [str(q.pattern) for q in p.url_patterns if isinstance(q, URLPattern)]
    documented = set(doc["paths"])
    for route in api_routes:
        if route in ("openapi.json", ""):
            continue
        as_openapi = "/api/v1/" + route.replace("<team>", "{team}").replace("<pk>", "{pk}")
        assert as_openapi in documented, route
    # every $ref resolves, and every schema is used by some $ref
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(doc)))
    assert refs and refs == set(doc["components"]["schemas"])


def test_committing_the_same_revision_twice_is_a_json_4xx_and_leaves_nothing(
    team, editor_api, editor, metric
):
    old = PredictionFactory(metric=metric, author=editor, committed=True)
    body = {**LINE, "metric": metric.pk, "supersedes": old.pk, "commit": True}
    first = editor_api.post(f"t/{team.slug}/predictions/", body)
    assert first.status_code == 201 and first.json()["status"] == "committed"
    count = Prediction.objects.count()
    again = editor_api.post(f"t/{team.slug}/predictions/", body)
    assert 400 <= again.status_code < 500
    assert "already been revised" in again.json()["fields"]["supersedes"][0]
    assert Prediction.objects.count() == count  # no orphaned draft


def test_a_bug_under_the_api_is_a_json_500(team, editor_api, metric, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("predictions.services.Series.load", broken)
    p = PredictionFactory(metric=metric, author=metric.created_by, committed=True)
    response = editor_api.get(f"t/{team.slug}/predictions/{p.pk}/scores/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "a bug" not in response.content.decode()  # users never see internals
    assert response.json()["error"]


def test_the_web_and_the_api_share_the_revision_rule(team, editor, metric):
    from planning.validation import Invalid
    from predictions import services

    old = PredictionFactory(metric=metric, author=editor, committed=True)
    stated = services.PredictionInput(
        claim="Faster", horizon=date.fromisoformat(NEXT_YEAR), trajectory=LINE["trajectory"],
        band=LINE["band"],
    )  # fmt: skip
    services.create_prediction(metric, editor, stated, supersedes=old, commit=True)
    count = Prediction.objects.count()
    with pytest.raises(Invalid) as refused:
        services.create_prediction(metric, editor, stated, supersedes=old, commit=True)
    assert "already been revised" in refused.value.fields["supersedes"][0]
    assert Prediction.objects.count() == count
