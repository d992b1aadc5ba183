"""The JSON API under /api/v1/: plain Django views, per-user Bearer tokens, JSON errors.

Every team resource lives under /api/v1/t/<team>/…: the token's user must be a member
(another team answers 404, exactly like the web pages); changes need the editor role (403).
Bad input answers 400 with `{"error": ..., "fields": {"name": ["message", ...]}}`.
The OpenAPI 3.1 document is served at /api/v1/openapi.json (see openapi.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from planning.accounts import tokens
from planning.teams.models import Membership, Role, role_at_least

from . import services
from .models import Kind, Metric, Prediction, Reveal, Scale
from .trajectory import LineError, parse_line

MAX_BATCH = 10_000


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields


def error_response(status: int, message: str, fields=None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="exponent"'
    return response


def _user_from_token(request: HttpRequest):
    raw = tokens.bearer_token(request)
    if raw is None:
        raise ApiError(401, "Send your API token as “Authorization: Bearer <token>”.")
    token = tokens.authenticate(raw)
    if token is None:
        raise ApiError(401, "This API token is not valid (unknown, revoked or expired).")
    if not tokens.consume_api_rate(request, token):
        raise ApiError(429, tokens.API_RATE_MESSAGE)
    if not token.allows(request.method):
        raise ApiError(403, "This API token is read-only.")
    return token.user


def api_view(methods: list[str], *, team_scoped: bool = True) -> Callable:
    """Token auth, team membership (404 for non-members), editor role for changes (403),
    allowed methods (405), and ApiError -> JSON."""

    def decorator(func: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs):
            try:
                if request.method not in methods:
                    response = error_response(405, f"Use {' or '.join(methods)}.")
                    response["Allow"] = ", ".join(methods)
                    return response
                request.user = _user_from_token(request)
                if team_scoped:
                    slug = kwargs.pop("team")
                    membership = (
                        Membership.objects.select_related("team")
                        .filter(team__slug=slug, user=request.user)
                        .first()
                    )
                    if membership is None:
                        raise ApiError(404, "No such team.")
                    if request.method != "GET" and not role_at_least(membership.role, Role.EDITOR):
                        raise ApiError(403, "Your role in this team does not allow changes.")
                    request.team, request.membership = membership.team, membership
                return func(request, *args, **kwargs)
            except ApiError as error:
                return error_response(error.status, error.message, error.fields)

        return wrapper

    return decorator


def _body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def _date(value, field: str, errors: dict) -> date | None:
    if value in (None, ""):
        errors.setdefault(field, []).append("This field is required.")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(field, []).append(f"“{value}” is not a date like 2026-03-31.")
        return None


def _metric_or_404(request, pk: int) -> Metric:
    metric = Metric.objects.for_team(request.team).filter(pk=pk).first()
    if metric is None:
        raise ApiError(404, "No such metric in this team.")
    metric.team = request.team
    return metric


# --------------------------------------------------------------------------- serialisers
def metric_json(m: Metric) -> dict:
    return {
        "id": m.pk,
        "name": m.name,
        "unit": m.unit,
        "scale": m.scale,
        "higher_is_better": m.higher_is_better,
        "description": m.description,
        "definition_version": m.definition_version,
        "version_note": m.version_note,
        "created_at": m.created_at.isoformat(),
    }


def prediction_json(p: Prediction) -> dict:
    data = {
        "id": p.pk,
        "metric": p.metric_id,
        "author": p.author.email,
        "kind": p.kind,
        "claim": p.title,
        "rationale": p.rationale,
        "made_at": p.made_at.isoformat(),
        "horizon": p.horizon.isoformat(),
        "status": p.status,  # draft | committed | superseded
        "committed_at": p.committed_at.isoformat() if p.committed_at else None,
        "content_hash": p.content_hash or None,
        "supersedes": p.supersedes_id,
        "superseded_by": p.superseded_by_id,
        "unit": p.metric.unit,
        "definition_version": p.definition_version,
        "trajectory": p.trajectory,
        "band": p.band,
        "threshold": None,
        "description": p.describe(),
    }
    if p.kind == Kind.THRESHOLD:
        data["threshold"] = {
            "value": p.threshold_value,
            "above": p.threshold_above,
            "probability": p.probability,
        }
    return data


def _finite(x):
    return None if x is None or x != x or x in (float("inf"), float("-inf")) else x


# --------------------------------------------------------------------------- metrics
@api_view(["GET", "POST"])
def metrics(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        items = [metric_json(m) for m in Metric.objects.for_team(request.team).order_by("name")]
        return JsonResponse({"metrics": items})
    data = _body(request)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = ["This field is required."]
    elif len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    elif Metric.objects.for_team(request.team).filter(name__iexact=name).exists():
        errors["name"] = ["Your team already tracks a metric with this name."]
    scale = data.get("scale", Scale.LOG)
    if scale not in Scale.values:
        errors["scale"] = ["Use “linear” or “log”."]
    unit = str(data.get("unit") or "")
    if len(unit) > 30:
        errors["unit"] = ["At most 30 characters."]
    higher = data.get("higher_is_better", True)
    if not isinstance(higher, bool):
        errors["higher_is_better"] = ["Use true or false."]
    if errors:
        raise ApiError(400, "The metric was not created.", errors)
    metric = Metric.objects.create(
        team=request.team,
        name=name,
        unit=unit,
        scale=scale,
        higher_is_better=higher,
        description=str(data.get("description") or ""),
        created_by=request.user,
    )
    return JsonResponse(metric_json(metric), status=201)


@api_view(["GET"])
def metric_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(metric_json(_metric_or_404(request, pk)))


@api_view(["GET", "POST"])
def observations(request: HttpRequest, pk: int) -> JsonResponse:
    metric = _metric_or_404(request, pk)
    if request.method == "GET":
        rows = metric.observations.order_by("observed_at").values_list(
            "observed_at", "value", "source", "definition_version"
        )
        return JsonResponse(
            {
                "metric": metric.pk,
                "observations": [
                    {"date": d.isoformat(), "value": v, "source": s, "definition_version": ver}
                    for d, v, s, ver in rows
                ],
            }
        )
    data = _body(request)
    items = data.get("observations")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "Nothing saved.", {"observations": ["Give a non-empty list."]})
    if len(items) > MAX_BATCH:
        raise ApiError(400, "Nothing saved.", {"observations": [f"At most {MAX_BATCH} rows."]})
    today = services.team_today(request.team)
    errors: dict[str, list[str]] = {}
    rows, seen = [], {}
    for i, item in enumerate(items):
        prefix = f"observations[{i}]"
        if not isinstance(item, dict):
            errors[prefix] = ["Each observation is an object with date, value and source."]
            continue
        unknown = set(item) - {"date", "value", "source"}
        if unknown:
            errors[prefix] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
        field_errors: dict[str, list[str]] = {}
        observed_at = _date(item.get("date"), "date", field_errors)
        value = item.get("value")
        for name, message in services.observation_errors(
            metric, observed_at or today, value, today
        ).items():
            if observed_at is None and name == "observed_at":
                continue
            field_errors.setdefault("date" if name == "observed_at" else name, []).append(message)
        if observed_at is not None and observed_at in seen:
            field_errors.setdefault("date", []).append(
                f"{observed_at} already appears at observations[{seen[observed_at]}]."
            )
        source = item.get("source") or ""
        if not isinstance(source, str) or len(source) > 500:
            field_errors.setdefault("source", []).append("A text of at most 500 characters.")
        for name, messages in field_errors.items():
            errors[f"{prefix}.{name}"] = messages
        if observed_at is not None:
            seen.setdefault(observed_at, i)
        if not field_errors and prefix not in errors:
            rows.append((observed_at, float(value), source))
    if errors:
        raise ApiError(400, "Nothing saved: fix the listed observations.", errors)
    result = services.upsert_observations(metric, rows, request.user, via="api")
    return JsonResponse(
        {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "resolved_predictions": [p.pk for p in result.resolved],
        }
    )


# --------------------------------------------------------------------------- predictions
def _visible_predictions(request):
    qs = (
        Prediction.objects.for_team(request.team)
        .with_successor()
        .select_related("metric", "author")
    )
    if not request.team.anti_anchoring:
        return qs
    user = request.user
    open_metrics = set(
        Prediction.objects.for_team(request.team)
        .filter(author=user, committed_at__isnull=False)
        .values_list("metric_id", flat=True)
    ) | set(Reveal.objects.filter(user=user).values_list("metric_id", flat=True))
    return qs.filter(Q(author=user) | Q(metric_id__in=open_metrics))


def _prediction_or_404(request, pk: int) -> Prediction:
    p = _visible_predictions(request).select_related("resolution").filter(pk=pk).first()
    if p is None:
        raise ApiError(404, "No such prediction in this team (or hidden by anti-anchoring).")
    p.team = p.metric.team = request.team
    return p


@api_view(["GET", "POST"])
def predictions(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        qs = _visible_predictions(request).order_by("made_at", "pk")
        if request.GET.get("metric"):
            try:
                qs = qs.filter(metric_id=int(request.GET["metric"]))
            except ValueError:
                raise ApiError(400, "Bad filter.", {"metric": ["Give a metric id."]}) from None
        return JsonResponse({"predictions": [prediction_json(p) for p in qs]})
    return _create_prediction(request, _body(request))


def _create_prediction(request, data: dict) -> JsonResponse:
    errors: dict[str, list[str]] = {}
    metric_id = data.get("metric")
    metric = None
    if isinstance(metric_id, int) and not isinstance(metric_id, bool):
        metric = Metric.objects.for_team(request.team).filter(pk=metric_id).first()
    if metric is None:
        errors["metric"] = ["Give the id of one of this team's metrics."]
    kind = data.get("kind", Kind.LINE)
    if kind not in Kind.values:
        errors["kind"] = ["Use “line” or “threshold”."]
    claim = str(data.get("claim") or "").strip()
    if not claim:
        errors["claim"] = ["This field is required."]
    elif len(claim) > 200:
        errors["claim"] = ["At most 200 characters."]
    horizon = _date(data.get("horizon"), "horizon", errors)
    supersedes = None
    if data.get("supersedes") is not None:
        supersedes = (
            Prediction.objects.for_team(request.team)
            .filter(pk=data["supersedes"] if isinstance(data["supersedes"], int) else None)
            .first()
        )
        if supersedes is None or not supersedes.is_committed:
            errors["supersedes"] = ["Give the id of a committed prediction of this team."]
        elif supersedes.author_id != request.user.pk:
            errors["supersedes"] = ["Only the author can revise a prediction."]
        elif metric is not None and supersedes.metric_id != metric.pk:
            errors["supersedes"] = ["A revision stays on the same metric."]
    fields: dict[str, Any] = {}
    if metric is not None and kind == Kind.LINE:
        trajectory, band = data.get("trajectory"), data.get("band") or {}
        if not isinstance(trajectory, dict):
            errors["trajectory"] = ["Give the growth model as an object."]
        elif not isinstance(band, dict):
            errors["band"] = ["Give the band as an object."]
        else:
            try:
                traj, b = parse_line(trajectory, band, horizon, metric.scale)
            except LineError as error:
                for key, message in error.errors.items():
                    if key == "horizon" and "horizon" in errors:
                        continue
                    name = (
                        key if key.startswith("band.") or key == "horizon" else f"trajectory.{key}"
                    )
                    errors.setdefault(name, []).append(message)
            else:
                fields.update(trajectory=traj.to_json(), band=b.to_json())
    elif metric is not None and kind == Kind.THRESHOLD:
        threshold = data.get("threshold")
        if not isinstance(threshold, dict):
            errors["threshold"] = ["Give {value, probability, above}."]
        else:
            value, p = threshold.get("value"), threshold.get("probability")
            above = threshold.get("above", True)
            if not isinstance(value, int | float) or isinstance(value, bool):
                errors["threshold.value"] = ["Enter a number."]
            elif metric.is_log and value <= 0:
                errors["threshold.value"] = ["On a log-scale metric the value must be above 0."]
            if not isinstance(p, int | float) or isinstance(p, bool) or not 0 < p < 1:
                errors["threshold.probability"] = ["A probability strictly between 0 and 1."]
            if not isinstance(above, bool):
                errors["threshold.above"] = ["Use true or false."]
            if "threshold.value" not in errors and isinstance(above, bool):
                settled = services.settled_threshold_error(
                    metric, value, above, services.latest_observation(metric)
                )
                if settled:
                    errors["threshold.value"] = [settled]
            fields.update(threshold_value=value, probability=p, threshold_above=above)
    if horizon is not None and "horizon" not in errors:
        message = services.horizon_error(horizon, services.team_today(request.team))
        if message:
            errors["horizon"] = [message]
    if errors:
        raise ApiError(400, "The prediction was not saved.", errors)
    prediction = Prediction.objects.create(
        team=request.team,
        metric=metric,
        author=request.user,
        kind=kind,
        title=claim,
        rationale=str(data.get("rationale") or ""),
        horizon=horizon,
        supersedes=supersedes,
        definition_version=metric.definition_version,  # type: ignore[union-attr]
        **fields,
    )
    if supersedes is not None:
        services.carry_over_notes(supersedes, prediction)
    if data.get("commit") is True:
        prediction = services.commit_prediction(prediction)
    return JsonResponse(prediction_json(prediction), status=201)


@api_view(["GET"])
def prediction_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(prediction_json(_prediction_or_404(request, pk)))


@api_view(["POST"])
def prediction_commit(request: HttpRequest, pk: int) -> JsonResponse:
    p = _prediction_or_404(request, pk)
    if p.author_id != request.user.pk:
        raise ApiError(403, "Only the author can commit a prediction.")
    try:
        p = services.commit_prediction(p)
    except services.CommitError as error:
        raise ApiError(409, str(error)) from None
    return JsonResponse(prediction_json(p))


@api_view(["GET"])
def prediction_scores(request: HttpRequest, pk: int) -> JsonResponse:
    p = _prediction_or_404(request, pk)
    score = services.score_prediction(p, services.Series.load(p.metric))
    body: dict[str, Any] = {
        "prediction": p.pk,
        "status": p.status,
        "superseded_by": p.superseded_by_id,
        "unit": p.metric.unit,  # of every score in the metric's unit (CRPS, interval, values)
        "summary": None,
        "points": [],
    }
    if score.summary is not None:
        s = score.summary
        body["summary"] = {
            "n": s.n,
            "mean_abs_error": _finite(s.mean_abs_error),
            "error_kind": "log10" if p.metric.is_log else "relative",
            "mean_crps": _finite(s.mean_crps),
            "mean_interval_score": _finite(s.mean_interval),
            "coverage_stated": s.coverage_stated,
            "coverage_observed": s.coverage_observed,
            "bias": s.bias,
            "typical_miss": _finite(s.typical_miss),
            "bias_phrase": score.bias_phrase,
            "bias_sentence": score.report.sentence,
            "definition_changed": score.definition_changed,
        }
        body["points"] = [
            {k: (v.isoformat() if k == "date" else _finite(float(v)) if k != "inside" else v)
             for k, v in row.items()}
            for row in score.rows()
        ]  # fmt: skip
    if p.kind == Kind.THRESHOLD:
        resolution = getattr(p, "resolution", None)
        body["resolution"] = (
            {"outcome": resolution.outcome, "method": resolution.method, "note": resolution.note}
            if resolution
            else None
        )
        body["brier"], body["log_score"] = score.brier, score.log_score
    return JsonResponse(body)


def openapi_document(request: HttpRequest) -> JsonResponse:
    """Public: the API's description needs no token."""
    from .openapi import document

    return JsonResponse(document(request.build_absolute_uri("/api/v1")))
