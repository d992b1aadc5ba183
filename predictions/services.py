"""Operations on Lines on Graphs that touch the database: observations (with history),
committing and revising predictions, resolving thresholds, anti-anchoring, and scoring a
prediction against a metric's observations. The maths lives in trajectory.py/scoring.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone
from scipy.special import ndtri

from planning.inputs import INT_MAX, InputError, check_text, in_year_range, year_range_message
from planning.validation import Invalid, Problems

from . import scoring
from .models import (
    Kind,
    Metric,
    Observation,
    ObservationChange,
    Prediction,
    Resolution,
    Reveal,
    Scale,
)
from .trajectory import Floats, LineError, format_value, parse_line

MAX_BATCH = 10_000  # observations in one write
NAME_MAX, UNIT_MAX, SOURCE_MAX, CLAIM_MAX = 200, 30, 500, 200


class CommitError(Invalid):
    """Committing conflicts with the prediction's current state (409 on the API)."""

    def __init__(self, message: str):
        super().__init__(message, status=409)


# --------------------------------------------------------------------------- new predictions
MAX_HORIZON_YEARS = 50


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def horizon_error(horizon: date, today: date) -> str | None:
    """Why a new prediction cannot end on `horizon` (None when it can): the horizon lies after
    today and at most MAX_HORIZON_YEARS years ahead."""
    if horizon <= today:
        return f"The horizon must be after today ({today.isoformat()}): predict what is to come."
    limit = years_after(today, MAX_HORIZON_YEARS)
    if horizon > limit:
        return (
            f"The horizon must be within {MAX_HORIZON_YEARS} years: {limit.isoformat()} "
            "at the latest."
        )
    return None


def latest_observation(metric: Metric) -> tuple[date, float] | None:
    return (
        Observation.objects.filter(metric=metric)
        .order_by("-observed_at")
        .values_list("observed_at", "value")
        .first()
    )


def settled_threshold_error(
    metric: Metric, threshold: float, above: bool, latest: tuple[date, float] | None
) -> str | None:
    """Why a threshold prediction is already settled (None when it is open): the latest
    observation has already reached the threshold, so there is nothing left to predict."""
    if latest is None:
        return None
    day, value = latest
    if not (value >= threshold if above else value <= threshold):
        return None
    unit = metric.unit
    side = "at or above" if above else "at or below"
    return (
        f"Already settled: the latest observation, {format_value(value, unit)} on "
        f"{day.isoformat()}, is {side} {format_value(threshold, unit)}. Predict a threshold "
        "it has not reached yet."
    )


# --------------------------------------------------------------------------- observations
def observation_errors(metric: Metric, observed_at: date | None, value, today: date) -> dict:
    """Field errors for one observation (empty when it is fine)."""
    errors: dict[str, str] = {}
    if observed_at is None:
        errors["observed_at"] = "Enter a date like 2026-03-31."
    elif observed_at > today:
        errors["observed_at"] = f"{observed_at} is in the future: record what has happened."
    elif not in_year_range(observed_at):
        errors["observed_at"] = year_range_message()
    if value is None:
        errors["value"] = "Enter a number."
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors["value"] = "Enter a finite number."
    elif metric.is_log and value <= 0:
        errors["value"] = "This metric is on a log scale: values must be greater than zero."
    return errors


def _text(
    problems: Problems,
    field: str,
    value: Any,
    *,
    max_chars: int | None = None,
    label: str = "",
    required: bool = False,
) -> str:
    """A text field, stripped and checked (storable, within its length), or "" with a
    message added to `problems`."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.add(field, "Give a text.")
        return ""
    value = value.strip()
    if required and not value:
        problems.add(field, "This field is required.")
        return ""
    try:
        kwargs = {"max_chars": max_chars} if max_chars is not None else {}
        return check_text(value, label=label or "This text", **kwargs)
    except InputError as error:
        problems.add(field, str(error))
        return ""


def _team_object(model, team, pk: Any):
    """The team's `model` row with id `pk`, or None (also for ids no column can hold)."""
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk <= INT_MAX:
        return None
    return model.objects.for_team(team).filter(pk=pk).first()


def team_metric(team, pk: Any) -> Metric | None:
    metric = _team_object(Metric, team, pk)
    if metric is not None:
        metric.team = team
    return metric


# --------------------------------------------------------------------------- metrics
def scale_can_change(metric: Metric) -> bool:
    """Until a line (draft or committed) is drawn on it, a metric's scale is a free choice."""
    return not metric.predictions.exists()


def clean_metric(team, data: dict[str, Any], *, instance: Metric | None = None) -> dict[str, Any]:
    """The model fields of a new or edited metric, or Invalid. `data` holds name, unit,
    scale, higher_is_better, description (and, for an edit, definition_changed and
    version_note)."""
    problems = Problems()
    name = _text(
        problems, "name", data.get("name"), max_chars=NAME_MAX, label="The name", required=True
    )
    if name:
        clash = Metric.objects.for_team(team).filter(name__iexact=name)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            problems.add("name", "Your team already tracks a metric with this name.")
    unit = _text(problems, "unit", data.get("unit"), max_chars=UNIT_MAX, label="The unit")
    scale = data.get("scale") or (instance.scale if instance is not None else Scale.LOG)
    if scale not in Scale.values:
        problems.add("scale", "Use “linear” or “log”.")
    elif instance is not None and scale != instance.scale:
        # Once a line is drawn the scale stays: changing it would reinterpret its band.
        if not scale_can_change(instance):
            scale = instance.scale
        elif scale == Scale.LOG and instance.observations.filter(value__lte=0).exists():
            problems.add(
                "scale", "A log scale needs every value above 0: some observations are not."
            )
    higher = data.get("higher_is_better", True)
    if not isinstance(higher, bool):
        problems.add("higher_is_better", "Use true or false.")
    description = _text(problems, "description", data.get("description"), label="The description")
    fields: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "scale": scale,
        "higher_is_better": higher,
        "description": description,
    }
    if instance is not None:
        note = _text(problems, "version_note", data.get("version_note"), label="The note")
        fields["version_note"] = note
        if data.get("definition_changed"):
            if not note:
                problems.add("version_note", "Say what changed in the definition.")
            fields["definition_version"] = instance.definition_version + 1
            fields["version_changed_at"] = timezone.now()
    problems.raise_if("The metric was not saved.")
    return fields


def _name_taken() -> Invalid:
    return Invalid(
        "The metric was not saved.", {"name": "Your team already tracks a metric with this name."}
    )


def create_metric(team, user, data: dict[str, Any]) -> Metric:
    with transaction.atomic():
        fields = clean_metric(team, data)
        try:
            with transaction.atomic():
                return Metric.objects.create(team=team, created_by=user, **fields)
        except IntegrityError:  # the same name, created at the same moment
            raise _name_taken() from None


def update_metric(metric: Metric, data: dict[str, Any]) -> Metric:
    with transaction.atomic():
        fields = clean_metric(metric.team, data, instance=metric)
        for key, value in fields.items():
            setattr(metric, key, value)
        try:
            with transaction.atomic():
                metric.save()
        except IntegrityError:
            raise _name_taken() from None
    return metric


# --------------------------------------------------------------------------- observations
@dataclass(frozen=True)
class ObservationRow:
    observed_at: date | None
    value: Any
    source: Any = ""


def observation_row_errors(
    metric: Metric, rows: list[ObservationRow], today: date
) -> dict[int, dict[str, list[str]]]:
    """Messages per row index and field (date, value, source) for a batch of observations;
    empty when every row can be saved."""
    errors: dict[int, dict[str, list[str]]] = {}
    seen: dict[date, int] = {}
    for i, row in enumerate(rows):
        problems = Problems()
        for name, message in observation_errors(metric, row.observed_at, row.value, today).items():
            problems.add("date" if name == "observed_at" else name, message)
        _text(problems, "source", row.source, max_chars=SOURCE_MAX, label="The source")
        if row.observed_at is not None:
            if row.observed_at in seen:
                problems.add(
                    "date",
                    f"{row.observed_at} already appears at observations[{seen[row.observed_at]}].",
                )
            seen.setdefault(row.observed_at, i)
        if problems:
            errors[i] = problems.fields
    return errors


def record_observations(
    metric: Metric, rows: list[ObservationRow], user, via: str = "form"
) -> UpsertResult:
    """Validate a batch (all or nothing) and insert or update it; Invalid names each bad
    row's fields as `observations[<i>].<field>`."""
    if not rows:
        raise Invalid("Nothing saved.", {"observations": "Give at least one observation."})
    if len(rows) > MAX_BATCH:
        raise Invalid("Nothing saved.", {"observations": f"At most {MAX_BATCH:,} rows at once."})
    errors = observation_row_errors(metric, rows, metric.team.today())
    if errors:
        problems = Problems()
        for i, fields in errors.items():
            problems.update(fields, prefix=f"observations[{i}].")
        problems.raise_if("Nothing saved: fix the listed observations.")
    # Every row has a date here: observation_row_errors refuses one without.
    clean = [(cast(date, r.observed_at), float(r.value), (r.source or "").strip()) for r in rows]
    return upsert_observations(metric, clean, user, via=via)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    resolved: list[Prediction] = field(default_factory=list)


@transaction.atomic
def upsert_observations(
    metric: Metric, rows: list[tuple[date, float, str]], user, via: str = "form"
) -> UpsertResult:
    """Insert or update (metric, date) rows; every change to an existing value or source
    leaves an ObservationChange. Rows must be validated already; dates must be unique."""
    result = UpsertResult()
    dates = [r[0] for r in rows]
    existing = {
        o.observed_at: o
        for o in Observation.objects.select_for_update().filter(
            metric=metric, observed_at__in=dates
        )
    }
    new, changed, history = [], [], []
    now = timezone.now()
    for observed_at, value, source in rows:
        obs = existing.get(observed_at)
        if obs is None:
            new.append(
                Observation(
                    metric=metric,
                    observed_at=observed_at,
                    value=value,
                    source=source,
                    entered_by=user,
                    definition_version=metric.definition_version,
                )
            )
        elif obs.value != value or obs.source != source:
            history.append(
                ObservationChange(
                    observation=obs,
                    old_value=obs.value,
                    new_value=value,
                    old_source=obs.source,
                    new_source=source,
                    changed_by=user,
                    changed_at=now,
                    via=via,
                )
            )
            obs.value, obs.source, obs.entered_by, obs.updated_at = value, source, user, now
            obs.definition_version = metric.definition_version
            changed.append(obs)
        else:
            result.unchanged += 1
    Observation.objects.bulk_create(new, batch_size=2000)
    Observation.objects.bulk_update(
        changed, ["value", "source", "entered_by", "updated_at", "definition_version"], 2000
    )
    ObservationChange.objects.bulk_create(history, batch_size=2000)
    result.created, result.updated = len(new), len(changed)
    if new or changed:
        result.resolved = resolve_thresholds(metric)
    return result


@dataclass(frozen=True)
class Series:
    """A metric's observations as arrays (day numbers, values, definition versions)."""

    t: Floats
    values: Floats
    versions: np.ndarray

    @classmethod
    def load(cls, metric: Metric) -> Series:
        rows = list(
            Observation.objects.filter(metric=metric)
            .order_by("observed_at")
            .values_list("observed_at", "value", "definition_version")
        )
        return cls.from_rows(rows)

    @classmethod
    def from_rows(cls, rows) -> Series:
        if not rows:
            return cls(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
        d, v, ver = zip(*rows, strict=True)
        return cls(
            np.fromiter((x.toordinal() for x in d), dtype=np.float64, count=len(d)),
            np.asarray(v, dtype=np.float64),
            np.asarray(ver, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.t)


# --------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class PredictionScore:
    prediction: Prediction
    points: scoring.PointScores | None
    summary: scoring.Summary | None
    t: Floats
    definition_changed: int = 0  # observations scored across a definition change
    brier: float | None = None
    log_score: float | None = None
    before_commit: int = 0  # observations on or before the commit date: shown, not scored
    after_end: int = 0  # observations after the horizon (or after a revision took over)

    @property
    def report(self) -> scoring.BiasReport:
        return scoring.bias_report([self.summary])

    @property
    def bias_phrase(self) -> str:
        return self.report.phrase if self.summary else ""

    @property
    def unit(self) -> str:
        return self.prediction.metric.unit

    @property
    def unscored_notes(self) -> list[str]:
        return unscored_notes(
            self.before_commit, self.after_end, superseded=self.prediction.is_superseded
        )

    def rows(self, limit: int | None = None):
        """Per-observation rows for tables (most recent first)."""
        if self.points is None:
            return []
        from .trajectory import from_day

        p = self.points
        idx: Sequence[int] = range(len(p) - 1, -1, -1)
        if limit is not None:
            idx = list(idx)[:limit]
        return [
            {
                "date": from_day(self.t[i]),
                "actual": p.actual[i],
                "median": p.median[i],
                "low": p.low[i],
                "high": p.high[i],
                "error": p.error[i],
                "inside": bool(p.inside[i]),
                "percentile": p.percentile[i],
                "interval": p.interval[i],
                "crps": p.crps[i],
            }
            for i in idx
        ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def unscored_notes(before: int, after: int, *, superseded: bool = False) -> list[str]:
    """Why some observations on a prediction's chart carry no score, in words."""
    notes = []
    if before:
        verb = "is" if before == 1 else "are"
        notes.append(
            f"{_count(before, 'observation')} before the commit {verb} shown but not scored."
        )
    if after:
        verb = "is" if after == 1 else "are"
        when = "after the revision took over" if superseded else "after the horizon"
        notes.append(f"{_count(after, 'observation')} {when} {verb} shown but not scored.")
    return notes


def scoring_window(prediction: Prediction) -> tuple[float, float] | None:
    """Observations strictly after the commit date and up to the horizon count; once a
    revision supersedes the line, only those up to the revision's commit date."""
    if not prediction.is_committed:
        return None
    start = prediction.team.local_date(cast(datetime, prediction.committed_at)).toordinal()
    end = prediction.horizon.toordinal()
    if prediction.superseded_at is not None:
        end = min(end, prediction.team.local_date(prediction.superseded_at).toordinal())
    return float(start), float(end)


def score_prediction(
    prediction: Prediction, series: Series, window: tuple[float, float] | None = None
) -> PredictionScore:
    """Scores on every observation in the prediction's window (or a narrower `window`)."""
    bounds = scoring_window(prediction)
    empty = PredictionScore(prediction, None, None, np.empty(0))
    if bounds is None:
        return empty
    lo, hi = bounds
    if window is not None:
        lo, hi = max(lo, window[0] - 1), min(hi, window[1])
    if not prediction.is_line:
        resolution = getattr(prediction, "resolution", None)
        if resolution is None:
            return empty
        # A threshold prediction has a probability (prediction_kind_has_its_fields).
        p, o = cast(float, prediction.probability), float(resolution.outcome)
        return PredictionScore(
            prediction,
            None,
            None,
            np.empty(0),
            brier=float(scoring.brier(p, o)),
            log_score=float(scoring.log_score(p, o)),
        )
    mask = (series.t > lo) & (series.t <= hi)
    before = int((series.t <= bounds[0]).sum()) if window is None else 0
    after = int((series.t > bounds[1]).sum()) if window is None else 0
    t, y = series.t[mask], series.values[mask]
    traj, band = prediction.line
    median = traj.median(t)
    low, high = band.bounds(median, t, traj.scale)
    points = scoring.score_points(y, median, low, high, band.coverage, traj.scale == "log")
    changed = int((series.versions[mask] != prediction.definition_version).sum())
    return PredictionScore(
        prediction,
        points,
        scoring.summarise(points, band.coverage),
        t,
        definition_changed=changed,
        before_commit=before,
        after_end=after,
    )


def series_by_metric(metric_ids, **filters) -> dict[int, Series]:
    """Observations of several metrics in one query (filters apply to Observation)."""
    rows: dict[int, list] = {m: [] for m in metric_ids}
    qs = (
        Observation.objects.filter(metric_id__in=list(metric_ids), **filters)
        .order_by("metric_id", "observed_at")
        .values_list("metric_id", "observed_at", "value", "definition_version")
    )
    for mid, d, v, ver in qs.iterator(chunk_size=5000):
        rows[mid].append((d, v, ver))
    return {m: Series.from_rows(r) for m, r in rows.items()}


def quarter_scores(team, quarter) -> list[dict]:
    """Committed predictions scored on the observations inside `quarter` (and thresholds due
    in it), biggest surprise first: {"prediction", "score", "surprise"}.

    Surprise is the largest distance of an observation from the median in standard deviations
    of the fitted distribution (|Φ⁻¹(percentile)|); for a resolved threshold, its log score.
    Two queries whatever the number of predictions and observations.
    """
    predictions = list(
        Prediction.objects.for_team(team)
        .committed()
        .filter(horizon__gte=quarter.start, committed_at__date__lte=quarter.end)
        .with_successor()
        .select_related("metric__source", "author", "resolution")
    )
    series = series_by_metric(
        {p.metric_id for p in predictions},
        observed_at__gte=quarter.start,
        observed_at__lte=quarter.end,
    )
    window = (float(quarter.start.toordinal()), float(quarter.end.toordinal()))
    rows = []
    for p in predictions:
        p.team = p.metric.team = team
        score = score_prediction(p, series[p.metric_id], window=window)
        if score.points is not None and len(score.points):
            pct = np.clip(score.points.percentile / 100, 1e-9, 1 - 1e-9)
            surprise = float(np.max(np.abs(ndtri(pct))))
            nats = scoring.sigma_in_nats(surprise)
        elif score.log_score is not None and quarter.contains(p.horizon):
            surprise = nats = score.log_score  # −ln(probability given to what happened)
        else:
            continue
        rows.append({"prediction": p, "score": score, "surprise": surprise, "nats": nats})
    # σ and nats are not one scale: rank both by how improbable the surprise was.
    rows.sort(key=lambda r: -r["nats"])
    return rows


def team_report(rows: list[dict]) -> scoring.BiasReport:
    """Direction and size of the misses of the lines in `quarter_scores` rows, together."""
    return scoring.bias_report([r["score"].summary for r in rows])


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class Calibration:
    leaderboard: list[dict]  # per author, best first
    bands: list[scoring.BandCalibration]
    bins: list[scoring.ReliabilityBin]
    n_thresholds: int  # resolved threshold predictions
    report: scoring.BiasReport | None = None  # every scored line together


def calibration(team, author=None) -> Calibration:
    """Stated vs observed band coverage, a reliability diagram of resolved thresholds and a
    leaderboard, over the team's committed predictions (or one author's). Two queries."""
    qs = (
        Prediction.objects.for_team(team)
        .committed()
        .with_successor()
        .select_related("metric", "author", "resolution")
    )
    if author:
        qs = qs.filter(author=author)
    predictions = list(qs)
    series = series_by_metric({p.metric_id for p in predictions if p.is_line})
    by_author: dict[int, dict] = {}
    stated, inside, totals, probs, outcomes = [], [], [], [], []
    team_summaries: list[scoring.Summary] = []
    for p in predictions:
        p.team = p.metric.team = team
        entry = by_author.setdefault(
            p.author_id,
            {
                "author": p.author,
                "lines": 0,
                "points": 0,
                "inside": 0,
                "stated": [],
                "log_errors": [],
                "summaries": [],
                "briers": [],
                "thresholds": 0,
            },
        )
        if p.is_line:
            score = score_prediction(p, series[p.metric_id])
            if not score.summary or not score.summary.n or score.points is None:
                continue
            s = score.summary
            n_in = int(score.points.inside.sum())
            stated.append(s.coverage_stated)
            inside.append(n_in)
            totals.append(s.n)
            entry["lines"] += 1
            entry["points"] += s.n
            entry["inside"] += n_in
            entry["stated"].extend([s.coverage_stated] * s.n)
            if p.metric.is_log and s.mean_abs_error is not None:
                entry["log_errors"].append(s.mean_abs_error)
            entry["summaries"].append(s)
            team_summaries.append(s)
        elif hasattr(p, "resolution"):  # False when unresolved
            outcome = p.resolution.outcome
            probs.append(p.probability)
            outcomes.append(float(outcome))
            entry["briers"].append(float(scoring.brier(p.probability, outcome)))
            entry["thresholds"] += 1
    leaderboard = []
    for e in by_author.values():
        if not e["points"] and not e["briers"]:
            continue
        report = scoring.bias_report(e["summaries"])
        leaderboard.append(
            {
                "author": e["author"],
                "lines": e["lines"],
                "points": e["points"],
                "coverage_observed": e["inside"] / e["points"] if e["points"] else None,
                "coverage_stated": float(np.mean(e["stated"])) if e["stated"] else None,
                "mean_log_error": float(np.mean(e["log_errors"])) if e["log_errors"] else None,
                "bias": report.bias,
                "report": report,
                "bias_phrase": report.phrase,
                "thresholds": e["thresholds"],
                "brier": float(np.mean(e["briers"])) if e["briers"] else None,
            }
        )
    leaderboard.sort(
        key=lambda r: (r["mean_log_error"] is None, r["mean_log_error"] or 0, r["brier"] or 0)
    )
    bands = scoring.band_calibration(stated, inside, totals)
    bins = scoring.reliability(probs, outcomes, bins=5) if probs else []
    return Calibration(leaderboard, bands, bins, len(probs), scoring.bias_report(team_summaries))


# --------------------------------------------------------------------------- lifecycle
@dataclass
class PredictionInput:
    """What a person states in a prediction, from the form or the API (probability 0–1)."""

    kind: str | None = Kind.LINE  # checked by the service, like the rest
    claim: Any = ""
    rationale: Any = ""
    horizon: date | None = None
    trajectory: Any = None
    band: Any = None
    threshold_value: Any = None
    threshold_above: Any = True
    probability: Any = None


def _finite_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e300
    )


def clean_prediction(
    metric: Metric, data: PredictionInput, *, user, supersedes: Prediction | None = None
) -> dict[str, Any]:
    """The model fields of a new or edited prediction, or Invalid with messages keyed
    claim, rationale, kind, horizon, supersedes, trajectory.<field>, band.<field>,
    threshold.value|probability|above."""
    problems = Problems()
    kind = data.kind
    if kind not in Kind.values:
        problems.add("kind", "Use “line” or “threshold”.")
    claim = _text(
        problems, "claim", data.claim, max_chars=CLAIM_MAX, label="The claim", required=True
    )
    rationale = _text(problems, "rationale", data.rationale, label="The rationale")
    horizon = data.horizon
    if horizon is None:
        problems.add("horizon", "This field is required.")
    elif not in_year_range(horizon):
        problems.add("horizon", horizon_error(horizon, metric.team.today()) or year_range_message())
        horizon = None
    if supersedes is not None:
        if not supersedes.is_committed or supersedes.team_id != metric.team_id:
            problems.add("supersedes", "Give the id of a committed prediction of this team.")
        elif supersedes.author_id != user.pk:
            problems.add("supersedes", "Only the author can revise a prediction.")
        elif supersedes.metric_id != metric.pk:
            problems.add("supersedes", "A revision stays on the same metric.")
        else:
            latest = (
                Prediction.objects.filter(supersedes=supersedes, committed_at__isnull=False)
                .values_list("pk", flat=True)
                .first()
            )
            if latest is not None:
                problems.add(
                    "supersedes",
                    f"This prediction has already been revised (by #{latest}): revise the "
                    "latest one.",
                )
    fields: dict[str, Any] = {
        "kind": kind,
        "title": claim,
        "rationale": rationale,
        "horizon": horizon,
    }
    if kind == Kind.LINE:
        trajectory, band = data.trajectory, data.band or {}
        if not isinstance(trajectory, dict):
            problems.add("trajectory", "Give the growth model as an object.")
        elif not isinstance(band, dict):
            problems.add("band", "Give the band as an object.")
        else:
            try:
                traj, b = parse_line(trajectory, band, horizon, metric.scale)
            except LineError as error:
                for key, message in error.errors.items():
                    if key == "horizon" and "horizon" in problems:
                        continue
                    name = (
                        key if key.startswith("band.") or key == "horizon" else f"trajectory.{key}"
                    )
                    problems.add(name, message)
            else:
                fields.update(trajectory=traj.to_json(), band=b.to_json())
        fields.update(threshold_value=None, probability=None)
    elif kind == Kind.THRESHOLD:
        value, p, above = data.threshold_value, data.probability, data.threshold_above
        if value is None:
            problems.add("threshold.value", "Give the value the metric should reach.")
        elif not _finite_number(value):
            problems.add("threshold.value", "Enter a finite number.")
        elif metric.is_log and value <= 0:
            problems.add("threshold.value", "On a log-scale metric the value must be above 0.")
        if p is None:
            problems.add("threshold.probability", "How likely is it? Give a probability.")
        elif not _finite_number(p) or not 0 < p < 1:
            problems.add("threshold.probability", "Use a probability strictly between 0% and 100%.")
        if not isinstance(above, bool):
            problems.add("threshold.above", "Use true or false.")
        if "threshold.value" not in problems and isinstance(above, bool):
            settled = settled_threshold_error(metric, value, above, latest_observation(metric))
            if settled:
                problems.add("threshold.value", settled)
        fields.update(
            trajectory=None, band=None, threshold_value=value, probability=p, threshold_above=above
        )
    if horizon is not None and "horizon" not in problems:
        too_far = horizon_error(horizon, metric.team.today())
        if too_far:
            problems.add("horizon", too_far)
    problems.raise_if("The prediction was not saved.")
    return fields


def create_prediction(
    metric: Metric,
    user,
    data: PredictionInput,
    *,
    supersedes: Prediction | None = None,
    commit: bool = False,
) -> Prediction:
    """A new draft (a revision when `supersedes` is given), committed at once if `commit`.
    All or nothing: a refused commit leaves no draft behind."""
    with transaction.atomic():
        if supersedes is not None:
            # Two revisions of one line race here: the second waits, then sees the first.
            supersedes = Prediction.objects.select_for_update().get(pk=supersedes.pk)
        fields = clean_prediction(metric, data, user=user, supersedes=supersedes)
        prediction = Prediction.objects.create(
            team=metric.team,
            metric=metric,
            author=user,
            supersedes=supersedes,
            definition_version=metric.definition_version,
            **fields,
        )
        prediction.team = metric.team
        copied = carry_over_notes(supersedes, prediction) if supersedes is not None else 0
        if commit:
            prediction = commit_prediction(prediction)
    prediction.notes_copied = copied
    return prediction


def _own_draft(prediction: Prediction, user) -> None:
    if prediction.author_id != user.pk:
        raise Invalid("Only the author can change a prediction.", status=403)
    if prediction.is_committed:
        raise CommitError("A committed prediction cannot change: revise it instead.")


def update_draft(prediction: Prediction, user, data: PredictionInput) -> Prediction:
    with transaction.atomic():
        locked = Prediction.objects.select_for_update().get(pk=prediction.pk)
        _own_draft(locked, user)
        fields = clean_prediction(prediction.metric, data, user=user, supersedes=locked.supersedes)
        for key, value in fields.items():
            setattr(prediction, key, value)
        prediction.save()
    return prediction


def delete_draft(prediction: Prediction, user) -> None:
    with transaction.atomic():
        locked = Prediction.objects.select_for_update().get(pk=prediction.pk)
        if locked.is_committed:
            raise CommitError("A committed prediction is part of the record and stays.")
        _own_draft(locked, user)
        locked.delete()


def resolve_by_hand(prediction: Prediction, user, outcome: bool, note: Any) -> Resolution:
    if prediction.is_line or not prediction.is_committed:
        raise Invalid("Only committed threshold predictions are resolved.", status=409)
    problems = Problems()
    note = _text(problems, "note", note, label="The note", required=True)
    problems.raise_if("The prediction was not resolved.")
    resolution, _ = Resolution.objects.update_or_create(
        prediction=prediction,
        defaults={
            "outcome": outcome,
            "method": Resolution.Method.MANUAL,
            "note": note,
            "resolved_by": user,
        },
    )
    return resolution


def reveal(metric: Metric, user) -> None:
    Reveal.objects.get_or_create(metric=metric, user=user)


@transaction.atomic
def commit_prediction(prediction: Prediction, at=None) -> Prediction:
    """Freeze a draft: record the commit time and the SHA-256 of its content. `at` backdates
    the commit (demo data and tests only; the web and the API always commit "now")."""
    locked = Prediction.objects.select_for_update().get(pk=prediction.pk)
    locked.team = prediction.team
    if locked.is_committed:
        raise CommitError("This prediction is already committed.")
    if locked.supersedes is not None and not locked.supersedes.is_committed:
        raise CommitError("A revision can only supersede a committed prediction.")
    if at is None:  # what was true when the draft was saved may no longer be
        problem = horizon_error(locked.horizon, locked.team.today())
        if problem is None and locked.kind == Kind.THRESHOLD:
            problem = settled_threshold_error(
                locked.metric,
                cast(float, locked.threshold_value),  # set on every threshold prediction
                locked.threshold_above,
                latest_observation(locked.metric),
            )
        if problem:
            raise CommitError(f"{problem} Edit the draft first.")
    locked.committed_at = at or timezone.now()
    locked.content_hash = locked.compute_hash()
    try:
        with transaction.atomic():
            locked.save(update_fields=["committed_at", "content_hash"])
    except IntegrityError:
        raise CommitError("This prediction has already been revised by another commit.") from None
    return locked


def carry_over_notes(old: Prediction, revision: Prediction) -> int:
    """A revision starts with its predecessor's light and shade, copied (and editable)."""
    from planning.notes.services import copy_notes

    return copy_notes(old, revision)


def revision_chain(prediction: Prediction) -> list[Prediction]:
    """Oldest first, from the first version to the latest revision (few queries: chains
    are short)."""
    chain = [prediction]
    node = prediction
    while node.supersedes_id:
        node = Prediction.objects.select_related("author").get(pk=node.supersedes_id)
        chain.insert(0, node)
    node = prediction
    while True:
        nxt = (
            Prediction.objects.filter(supersedes=node)
            .select_related("author")
            .order_by("committed_at", "pk")
            .first()
        )
        if nxt is None:
            break
        chain.append(nxt)
        node = nxt
    return chain


# --------------------------------------------------------------------------- thresholds
def resolve_thresholds(metric: Metric, series: Series | None = None) -> list[Prediction]:
    pending = list(
        Prediction.objects.filter(
            metric=metric, kind=Kind.THRESHOLD, committed_at__isnull=False, resolution__isnull=True
        ).select_related("team")
    )
    if not pending:
        return []
    series = series or Series.load(metric)
    resolved = []
    for p in pending:
        start = p.team.local_date(cast(datetime, p.committed_at)).toordinal()  # committed
        outcome = scoring.resolve_threshold(
            series.t,
            series.values,
            after_day=start,
            deadline_day=p.horizon.toordinal(),
            threshold=cast(float, p.threshold_value),  # set on every threshold prediction
            above=p.threshold_above,
        )
        if outcome is None:
            continue
        verb = "reached" if outcome else "not reached"
        Resolution.objects.create(
            prediction=p,
            outcome=outcome,
            method=Resolution.Method.AUTO,
            note=f"{format_value(p.threshold_value, metric.unit)} {verb} by {p.horizon}.",
        )
        resolved.append(p)
    return resolved


# --------------------------------------------------------------------------- anti-anchoring
@dataclass(frozen=True)
class Visibility:
    visible: list[Prediction]
    hidden: int
    anchoring: bool  # True when others' lines are hidden from this user


def visible_to(user, metric: Metric, predictions: list[Prediction], revealed: bool) -> Visibility:
    """Under anti-anchoring, others' lines stay hidden until the user commits one of their
    own on this metric (or chooses to reveal them)."""
    if not metric.team.anti_anchoring or revealed:
        return Visibility(predictions, 0, False)
    if any(p.author_id == user.pk and p.is_committed for p in predictions):
        return Visibility(predictions, 0, False)
    own = [p for p in predictions if p.author_id == user.pk]
    return Visibility(own, len(predictions) - len(own), True)


def has_revealed(user, metric: Metric) -> bool:
    return Reveal.objects.filter(metric=metric, user=user).exists()
