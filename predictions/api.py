"""The JSON API under /api/v1/ (django-ninja): per-user Bearer tokens, JSON errors.

Every team resource lives under /api/v1/t/<team>/…: the token's user must be a member
(another team answers 404, exactly like the web pages); changes need the editor role (403).
Request and response bodies are the pydantic schemas below, declared once: they validate
requests and generate the OpenAPI 3.1 document at /api/v1/openapi.json. Every write goes
through the same service function as the web (predictions/services.py).

Errors are always `{"error": "...", "fields": {"name": ["message", ...]}}` (`fields` only
when a field is to blame), whatever produced them: a schema, a service, authentication, a
missing route, a wrong method or a bug (see JsonErrorsUnderApi).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from pydantic import AfterValidator, BeforeValidator, ConfigDict, StrictBool, StrictInt

from planning import inputs
from planning.accounts import tokens
from planning.inputs import INT_MAX, InputError, unstorable
from planning.teams.models import Membership, may
from planning.validation import Invalid

from . import services
from .models import Kind, Metric, Prediction, Reveal

if TYPE_CHECKING:
    from planning.accounts.models import User

log = logging.getLogger("django.request")

API_PREFIX = "/api/"
AUTH_HINT = "Send your API token as “Authorization: Bearer <token>”."


# --------------------------------------------------------------------------- field types
def _storable(value: str) -> str:
    problem = unstorable(value)
    if problem:
        raise ValueError(f"This text {problem}")
    return value


def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"“{value[:40]}” is not a date like 2026-03-31.") from None
    else:
        raise ValueError("Give a date like 2026-03-31.")
    return parsed  # the range of years is the services' rule (with a message per field)


# Text fields: a length limit and storable characters (spelled out: a type checker needs
# each alias written as a type).
Text = Annotated[str, Field(max_length=inputs.TEXT_MAX_CHARS), AfterValidator(_storable)]
NameText = Annotated[str, Field(max_length=services.NAME_MAX), AfterValidator(_storable)]
UnitText = Annotated[str, Field(max_length=services.UNIT_MAX), AfterValidator(_storable)]
SourceText = Annotated[str, Field(max_length=services.SOURCE_MAX), AfterValidator(_storable)]
ClaimText = Annotated[str, Field(max_length=services.CLAIM_MAX), AfterValidator(_storable)]


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e300, le=1e300)]
Id = Annotated[StrictInt, Field(ge=1, le=INT_MAX)]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- schemas
class ErrorOut(Schema):
    error: str
    fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Messages per field; nested fields use dots and indexes, e.g. "
        "`trajectory.baseline_value`, `band.low`, `observations[3].value`.",
    )


class MetricIn(In):
    name: NameText
    unit: UnitText = Field("", examples=["minutes", "%", "$"])
    scale: Literal["linear", "log"] = "log"
    higher_is_better: StrictBool = True
    description: Text = ""


class MetricOut(Schema):
    id: int
    name: str
    unit: str
    scale: Literal["linear", "log"]
    higher_is_better: bool
    description: str
    definition_version: int
    version_note: str
    created_at: dt.datetime


class MetricList(Schema):
    metrics: list[MetricOut]


class ObservationIn(In):
    date: IsoDate = Field(description="Not in the future.")
    value: Number = Field(description="Above 0 on log-scale metrics.")
    source: SourceText = ""


class ObservationsIn(In):
    observations: list[ObservationIn] = Field(
        min_length=1, max_length=services.MAX_BATCH, description="Upserted by date."
    )


class ObservationOut(Schema):
    date: dt.date
    value: float
    source: str
    definition_version: int


class ObservationList(Schema):
    metric: int
    observations: list[ObservationOut]


class UpsertOut(Schema):
    created: int
    updated: int
    unchanged: int
    resolved_predictions: list[int]


class TrajectoryIn(In):
    """exponential: baseline + doubling_months (or multiple_per_year); linear: baseline +
    change_per_year; logistic: baseline + ceiling + midpoint (or steepness per year);
    points: [[date, value], …] interpolated (in log space on log metrics)."""

    model: Literal["exponential", "linear", "logistic", "points"]
    baseline_date: IsoDate | None = None
    baseline_value: Number | None = None
    doubling_months: Number | None = None
    multiple_per_year: Number | None = None
    change_per_year: Number | None = None
    ceiling: Number | None = None
    midpoint: IsoDate | None = None
    steepness: Number | None = None
    points: list[tuple[IsoDate, Number]] | None = Field(None, max_length=1000)


class BandIn(In):
    """low/high are factors on the line for log metrics (0.5, 2), offsets for linear ones
    (-5, 5); or explicit [[date, low, high], …] points."""

    coverage: Number = Field(0.8, gt=0, lt=1)
    low: Number | None = None
    high: Number | None = None
    points: list[tuple[IsoDate, Number, Number]] | None = Field(None, max_length=1000)


class ThresholdIn(In):
    value: Number
    probability: Number = Field(gt=0, lt=1)
    above: StrictBool = True


class PredictionIn(In):
    metric: StrictInt = Field(description="The id of one of this team's metrics.")
    kind: Literal["line", "threshold"] = "line"
    claim: ClaimText
    rationale: Text = ""
    horizon: IsoDate = Field(description="The line (or deadline) ends on this date.")
    trajectory: TrajectoryIn | None = None
    band: BandIn | None = None
    threshold: ThresholdIn | None = None
    supersedes: StrictInt | None = Field(None, description="Revise this committed prediction.")
    commit: StrictBool = Field(False, description="Commit at once (all or nothing).")


class ThresholdOut(Schema):
    value: float
    above: bool
    probability: float


class PredictionOut(Schema):
    id: int
    metric: int
    author: str
    kind: Literal["line", "threshold"]
    claim: str
    rationale: str
    made_at: dt.datetime
    horizon: dt.date
    status: Literal["draft", "committed", "superseded"]
    committed_at: dt.datetime | None
    content_hash: str | None
    supersedes: int | None
    superseded_by: int | None
    unit: str
    definition_version: int
    trajectory: dict[str, Any] | None
    band: dict[str, Any] | None
    threshold: ThresholdOut | None
    description: str


class PredictionList(Schema):
    predictions: list[PredictionOut]


class ScoreSummary(Schema):
    n: int
    mean_abs_error: float | None
    error_kind: Literal["log10", "relative"]
    mean_crps: float | None
    mean_interval_score: float | None
    coverage_stated: float | None
    coverage_observed: float | None
    bias: float | None
    typical_miss: float | None
    bias_phrase: str
    bias_sentence: str
    definition_changed: int


class ScorePoint(Schema):
    date: dt.date
    actual: float | None
    median: float | None
    low: float | None
    high: float | None
    error: float | None
    inside: bool
    percentile: float | None
    interval: float | None
    crps: float | None


class ResolutionOut(Schema):
    outcome: bool
    method: str
    note: str


class ScoresOut(Schema):
    prediction: int
    status: Literal["draft", "committed", "superseded"]
    superseded_by: int | None
    unit: str = Field(description="Of every score in the metric's unit (CRPS, interval, values).")
    summary: ScoreSummary | None
    points: list[ScorePoint]
    resolution: ResolutionOut | None = Field(None, description="Threshold predictions only.")
    brier: float | None = Field(None, description="Threshold predictions only.")
    log_score: float | None = Field(None, description="Threshold predictions only.")


ERRORS: dict[int, type] = {c: ErrorOut for c in (400, 401, 404, 413, 429)}
WRITE_ERRORS: dict[int, type] = {**ERRORS, 403: ErrorOut}


# --------------------------------------------------------------------------- auth and parsing
class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` (planning.accounts.tokens: hashed look-up, expiry,
    read-only scope and the per-token rate limit)."""

    def __call__(self, request: HttpRequest):
        raw = tokens.bearer_token(request)
        if raw is None:
            raise AuthenticationError(401, AUTH_HINT)
        return self.authenticate(request, raw)

    def authenticate(self, request: HttpRequest, token: str):
        found = None if unstorable(token) else tokens.authenticate(token)
        if found is None:
            raise AuthenticationError(
                401, "This API token is not valid (unknown, revoked or expired)."
            )
        if not tokens.consume_api_rate(request, found):
            raise HttpError(429, tokens.API_RATE_MESSAGE)
        if not found.allows(request.method or ""):  # Django always sets the method
            raise HttpError(403, "This API token is read-only.")
        request.user = found.user
        return found.user


class BoundedJsonParser(Parser):
    """JSON bodies without the parser's failure modes: nesting, number length and NaN/Infinity
    are refused with a message (planning.inputs); text fields are checked by the schemas."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("The body is not UTF-8 text.") from None
        if inputs._depth(text) > inputs.JSON_MAX_DEPTH:
            raise InputError(f"The JSON is nested more than {inputs.JSON_MAX_DEPTH} levels deep.")
        try:
            return json.loads(
                text,
                parse_int=inputs._number,
                parse_float=inputs._number,
                parse_constant=inputs._constant,
            )
        except (ValueError, RecursionError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(
                f"The body is not valid JSON: {getattr(error, 'msg', error)}."
            ) from None


class Api(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        # The scheme is "bearer" in the document (the class name is a detail).
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if "BearerToken" in schemes:
            schemes["bearer"] = schemes.pop("BearerToken")
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for requirement in operation.get("security", []):
                        if "BearerToken" in requirement:
                            requirement["bearer"] = requirement.pop("BearerToken")
        return schema


api = Api(
    title="Exponent API",
    version="1",
    description="Metrics, observations, predictions and scores of the teams you belong to.",
    auth=BearerToken(),
    parser=BoundedJsonParser(),
    docs_url=None,  # the document is enough; no page loading scripts from elsewhere
    urls_namespace="api",
)


# --------------------------------------------------------------------------- errors
def error_response(status: int, message: str, fields=None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="exponent"'
    return response


def _field_name(loc: tuple) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[2:] if parts[0] == "body" else parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def _message(error: dict) -> str:
    kind, message = error.get("type", ""), error.get("msg", "")
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return message.rstrip(".") + "."


@api.exception_handler(NinjaValidationError)
def _validation(request, exc: NinjaValidationError):
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        fields.setdefault(_field_name(tuple(error.get("loc", ()))), []).append(_message(error))
    return error_response(400, "Nothing was saved: fix the listed fields.", fields)


@api.exception_handler(Invalid)
def _invalid(request, exc: Invalid):
    return error_response(exc.status, exc.message, exc.fields)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, InputError):  # the body parser's refusal
        return error_response(400, str(exc.__cause__), {"body": [str(exc.__cause__)]})
    return error_response(exc.status_code, exc.message)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, str(exc) or "Not found.")


@api.exception_handler(Exception)
def _server_error(request, exc):
    log.error("Internal Server Error: %s", request.path, exc_info=exc)
    return error_response(500, "Something went wrong on our side; it has been logged.")


STATUS_MESSAGES = {
    404: "There is no such address in the API.",
    405: "This address does not accept that method.",
    500: "Something went wrong on our side; it has been logged.",
}


class JsonErrorsUnderApi:
    """Under /api/ every error is JSON, including what no API view produced: an unknown
    address (404), a wrong method (405), CSRF or framework errors, and uncaught exceptions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            message = STATUS_MESSAGES.get(status, getattr(response, "reason_phrase", "Error"))
            replaced = error_response(status, message)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(API_PREFIX) or settings.DEBUG:
            return None
        log.error("Internal Server Error: %s", request.path, exc_info=exception)
        return error_response(500, STATUS_MESSAGES[500])


# --------------------------------------------------------------------------- helpers
class ApiRequest(HttpRequest):
    """A request django-ninja authenticated: `auth` is what BearerToken returned."""

    auth: User


def _membership(request: ApiRequest, slug: str) -> Membership:
    membership = (
        Membership.objects.select_related("team").filter(team__slug=slug, user=request.auth).first()
        if len(slug) <= 100
        else None
    )
    if membership is None:
        raise HttpError(404, "No such team.")
    if not may(membership.role, request.method or ""):
        raise HttpError(403, "Your role in this team does not allow changes.")
    return membership


def _metric_or_404(team, pk: int) -> Metric:
    metric = services.team_metric(team, pk)
    if metric is None:
        raise HttpError(404, "No such metric in this team.")
    return metric


def _visible_predictions(team, user):
    qs = Prediction.objects.for_team(team).with_successor().select_related("metric", "author")
    if not team.anti_anchoring:
        return qs
    open_metrics = set(
        Prediction.objects.for_team(team)
        .filter(author=user, committed_at__isnull=False)
        .values_list("metric_id", flat=True)
    ) | set(Reveal.objects.filter(user=user).values_list("metric_id", flat=True))
    return qs.filter(Q(author=user) | Q(metric_id__in=open_metrics))


def _prediction_or_404(team, user, pk: int) -> Prediction:
    p = None
    if 0 < pk <= INT_MAX:
        p = _visible_predictions(team, user).select_related("resolution").filter(pk=pk).first()
    if p is None:
        raise HttpError(404, "No such prediction in this team (or hidden by anti-anchoring).")
    p.team = p.metric.team = team
    return p


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
        "created_at": m.created_at,
    }


def prediction_json(p: Prediction) -> dict:
    return {
        "id": p.pk,
        "metric": p.metric_id,
        "author": p.author.email,
        "kind": p.kind,
        "claim": p.title,
        "rationale": p.rationale,
        "made_at": p.made_at,
        "horizon": p.horizon,
        "status": p.status,
        "committed_at": p.committed_at,
        "content_hash": p.content_hash or None,
        "supersedes": p.supersedes_id,
        "superseded_by": p.superseded_by_id,
        "unit": p.metric.unit,
        "definition_version": p.definition_version,
        "trajectory": p.trajectory,
        "band": p.band,
        "threshold": (
            {"value": p.threshold_value, "above": p.threshold_above, "probability": p.probability}
            if p.kind == Kind.THRESHOLD
            else None
        ),
        "description": p.describe(),
    }


def _finite(x):
    return None if x is None or x != x or x in (float("inf"), float("-inf")) else x


# --------------------------------------------------------------------------- metrics
@api.get("/t/{team}/metrics/", response={200: MetricList, **ERRORS}, tags=["metrics"])
def list_metrics(request, team: str):
    """The team's metrics, by name."""
    t = _membership(request, team).team
    return {"metrics": [metric_json(m) for m in Metric.objects.for_team(t).order_by("name")]}


@api.post("/t/{team}/metrics/", response={201: MetricOut, **WRITE_ERRORS}, tags=["metrics"])
def create_metric(request, team: str, payload: MetricIn):
    """Start tracking a metric (editors)."""
    t = _membership(request, team).team
    return Status(201, metric_json(services.create_metric(t, request.auth, payload.model_dump())))


@api.get("/t/{team}/metrics/{pk}/", response={200: MetricOut, **ERRORS}, tags=["metrics"])
def get_metric(request, team: str, pk: int):
    return metric_json(_metric_or_404(_membership(request, team).team, pk))


@api.get(
    "/t/{team}/metrics/{pk}/observations/",
    response={200: ObservationList, **ERRORS},
    tags=["observations"],
)
def list_observations(request, team: str, pk: int):
    """Every observation of the metric, oldest first."""
    metric = _metric_or_404(_membership(request, team).team, pk)
    rows = metric.observations.order_by("observed_at").values_list(
        "observed_at", "value", "source", "definition_version"
    )
    return {
        "metric": metric.pk,
        "observations": [
            {"date": d, "value": v, "source": s, "definition_version": ver} for d, v, s, ver in rows
        ],
    }


@api.post(
    "/t/{team}/metrics/{pk}/observations/",
    response={200: UpsertOut, **WRITE_ERRORS},
    tags=["observations"],
)
def upsert_observations(request, team: str, pk: int, payload: ObservationsIn):
    """Insert or update observations by date, all or nothing; sending the same batch again
    changes nothing. A changed value keeps the old one in its history."""
    metric = _metric_or_404(_membership(request, team).team, pk)
    rows = [services.ObservationRow(o.date, o.value, o.source) for o in payload.observations]
    result = services.record_observations(metric, rows, request.auth, via="api")
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "resolved_predictions": [p.pk for p in result.resolved],
    }


# --------------------------------------------------------------------------- predictions
@api.get("/t/{team}/predictions/", response={200: PredictionList, **ERRORS}, tags=["predictions"])
def list_predictions(request, team: str, metric: int | None = None):
    """Predictions you may see (anti-anchoring hides others' lines on a metric until you
    commit your own), oldest first; `metric` filters by metric id."""
    t = _membership(request, team).team
    qs = _visible_predictions(t, request.auth).order_by("made_at", "pk")
    if metric is not None:
        qs = qs.filter(metric_id=metric) if 0 < metric <= INT_MAX else qs.none()
    return {"predictions": [prediction_json(p) for p in qs]}


@api.post(
    "/t/{team}/predictions/", response={201: PredictionOut, **WRITE_ERRORS}, tags=["predictions"]
)
def create_prediction(request, team: str, payload: PredictionIn):
    """A draft line or threshold (a revision with `supersedes`); with `"commit": true` it is
    committed in the same step, or nothing is saved."""
    t = _membership(request, team).team
    problems: dict[str, list[str]] = {}
    metric = services.team_metric(t, payload.metric)
    if metric is None:
        problems["metric"] = ["Give the id of one of this team's metrics."]
    supersedes = None
    if payload.supersedes is not None:
        supersedes = services._team_object(Prediction, t, payload.supersedes)
        if supersedes is None:
            problems["supersedes"] = ["Give the id of a committed prediction of this team."]
    if problems:
        raise Invalid("The prediction was not saved.", problems)
    assert metric is not None  # else a problem was raised above
    threshold = payload.threshold
    stated = services.PredictionInput(
        kind=payload.kind,
        claim=payload.claim,
        rationale=payload.rationale,
        horizon=payload.horizon,
        trajectory=payload.trajectory.model_dump(mode="json", exclude_none=True)
        if payload.trajectory
        else None,
        band=payload.band.model_dump(mode="json", exclude_none=True) if payload.band else {},
        threshold_value=threshold.value if threshold else None,
        threshold_above=threshold.above if threshold else True,
        probability=threshold.probability if threshold else None,
    )
    prediction = services.create_prediction(
        metric, request.auth, stated, supersedes=supersedes, commit=payload.commit
    )
    prediction = _visible_predictions(t, request.auth).get(pk=prediction.pk)
    return Status(201, prediction_json(prediction))


@api.get(
    "/t/{team}/predictions/{pk}/", response={200: PredictionOut, **ERRORS}, tags=["predictions"]
)
def get_prediction(request, team: str, pk: int):
    return prediction_json(_prediction_or_404(_membership(request, team).team, request.auth, pk))


@api.post(
    "/t/{team}/predictions/{pk}/commit/",
    response={200: PredictionOut, 409: ErrorOut, **WRITE_ERRORS},
    tags=["predictions"],
)
def commit_prediction(request, team: str, pk: int):
    """Freeze your draft (409 when it is already committed)."""
    t = _membership(request, team).team
    p = _prediction_or_404(t, request.auth, pk)
    if p.author_id != request.auth.pk:
        raise HttpError(403, "Only the author can commit a prediction.")
    services.commit_prediction(p)
    return prediction_json(_visible_predictions(t, request.auth).get(pk=p.pk))


@api.get(
    "/t/{team}/predictions/{pk}/scores/",
    response={200: ScoresOut, **ERRORS},
    tags=["predictions"],
    exclude_unset=True,
)
def prediction_scores(request, team: str, pk: int):
    """Scores on every observation after the commit date (lines) or the resolution (thresholds)."""
    p = _prediction_or_404(_membership(request, team).team, request.auth, pk)
    score = services.score_prediction(p, services.Series.load(p.metric))
    body: dict[str, Any] = {
        "prediction": p.pk,
        "status": p.status,
        "superseded_by": p.superseded_by_id,
        "unit": p.metric.unit,
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
            {k: (v if k in ("date", "inside") else _finite(float(v))) for k, v in row.items()}
            for row in score.rows()
        ]
    if p.kind == Kind.THRESHOLD:
        resolution = getattr(p, "resolution", None)
        body["resolution"] = (
            {"outcome": resolution.outcome, "method": resolution.method, "note": resolution.note}
            if resolution
            else None
        )
        body["brier"], body["log_score"] = score.brier, score.log_score
    return body
