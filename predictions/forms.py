from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms

from planning import csvimport, netguard
from planning.forms import Form, ModelForm
from planning.validation import Invalid, add_to_form

from . import secrets, services, sourcemap
from .models import Kind, Metric, MetricSource, Prediction
from .services import observation_errors
from .trajectory import MODELS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MetricForm(ModelForm):
    definition_changed = forms.BooleanField(
        required=False,
        label="The definition changed (new version)",
        help_text="Scores that compare across versions are flagged.",
    )

    class Meta:
        model = Metric
        fields = ["name", "unit", "scale", "higher_is_better", "description", "version_note"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "version_note": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"higher_is_better": "Higher is better"}

    def __init__(self, *args, team, **kwargs):
        self.team = team
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            del self.fields["definition_changed"]
            del self.fields["version_note"]
        elif services.scale_can_change(self.instance):
            self.fields["scale"].required = False  # left out: kept as it is
        else:
            # Changing the scale would reinterpret every band drawn on it.
            self.fields["scale"].disabled = True
            self.fields["scale"].help_text = "Fixed once a line is drawn on the metric."
        self.fields["name"].widget.attrs["placeholder"] = "Best model's SWE-bench Verified %"

    def clean(self):
        super().clean()
        data = self.cleaned_data
        try:
            services.clean_metric(self.team, data, instance=self.instance.pk and self.instance)
        except Invalid as error:
            add_to_form(self, error)
        return data


class ObservationForm(Form):
    # services.record_observations names the fields of one row like this
    FIELD_OF = {
        "observations[0].date": "observed_at",
        "observations[0].value": "value",
        "observations[0].source": "source",
    }

    observed_at = forms.DateField(label="Date", widget=DATE)
    value = forms.FloatField()
    source = forms.CharField(required=False, max_length=500, label="Source")

    def __init__(self, *args, metric: Metric, today: date, **kwargs):
        self.metric, self.today = metric, today
        super().__init__(*args, **kwargs)
        self.fields["value"].label = f"Value ({metric.unit})" if metric.unit else "Value"

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if "observed_at" in data and "value" in data:
            for name, message in observation_errors(
                self.metric, data["observed_at"], data["value"], self.today
            ).items():
                self.add_error(name, message)
        return data


# --------------------------------------------------------------------------- CSV
CSV_COLUMNS = ["date", "value", "source"]
CSV_ALIASES = {"observed_at": "date", "note": "source"}


@dataclass
class CsvResult:
    rows: list[tuple[date, float, str]]
    errors: list[csvimport.Problem]  # (line number, message); line 1 is the header


def parse_observation_csv(raw: bytes | str, metric: Metric, today: date) -> CsvResult:
    """Read `date,value[,source]` rows (planning.csvimport: the limits, the header, unreadable
    cells). Every problem is reported with its line number; the caller saves nothing unless
    the list of errors is empty."""
    sheet = csvimport.read(
        raw, columns=CSV_COLUMNS, required={"date", "value"}, aliases=CSV_ALIASES
    )
    errors = list(sheet.problems)
    if not sheet.columns:
        return CsvResult([], errors)
    rows: list[tuple[date, float, str]] = []
    seen: dict[date, int] = {}
    for row in sheet.rows:
        line, raw_date, raw_value = row.line, row.get("date"), row.get("value")
        try:
            observed_at = date.fromisoformat(raw_date)
        except ValueError:
            errors.append(
                csvimport.Problem(line, f"date: “{raw_date}” is not a date like 2026-03-31.")
            )
            continue
        try:
            value = float(raw_value.replace(",", "")) if raw_value else None
        except ValueError:
            errors.append(csvimport.Problem(line, f"value: “{raw_value}” is not a number."))
            continue
        if value is None or not math.isfinite(value):
            errors.append(csvimport.Problem(line, "value: enter a number."))
            continue
        problems = observation_errors(metric, observed_at, value, today)
        for name, message in problems.items():
            errors.append(
                csvimport.Problem(line, f"{'date' if name == 'observed_at' else name}: {message}")
            )
        source = row.get("source")
        if len(source) > services.SOURCE_MAX:
            problems["source"] = f"{len(source):,} characters; the limit is {services.SOURCE_MAX}."
            errors.append(csvimport.Problem(line, f"source: {problems['source']}"))
        if observed_at in seen:
            errors.append(
                csvimport.Problem(
                    line, f"date: {observed_at} already appears on line {seen[observed_at]}."
                )
            )
            continue
        seen[observed_at] = line
        if not problems:
            rows.append((observed_at, value, source))
    errors.sort(key=lambda e: e.line or 0)
    return CsvResult(rows, errors)


class CsvUploadForm(csvimport.UploadForm):
    help = "Columns: date, value, source (optional)."


# --------------------------------------------------------------------------- predictions
TRAJECTORY_FIELDS = [
    "model",
    "baseline_date",
    "baseline_value",
    "doubling_months",
    "multiple_per_year",
    "change_per_year",
    "ceiling",
    "midpoint",
    "steepness",
    "points",
]
BAND_FIELD_OF = {
    "coverage": "coverage",
    "low": "band_low",
    "high": "band_high",
    "points": "band_points",
}


def _pairs(text: str, width: int) -> list[list[str]]:
    rows = []
    for raw in text.splitlines():
        if raw.strip():
            rows.append([c.strip() for c in raw.replace(";", ",").split(",")][:width])
    return rows


class PredictionForm(Form):
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.LINE, widget=forms.RadioSelect)
    title = forms.CharField(
        label="Claim",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Time horizons keep doubling every 7 months"}),
    )
    rationale = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why you believe it (Markdown).",
    )
    horizon = forms.DateField(widget=DATE, help_text="The line (or deadline) ends on this date.")
    model = forms.ChoiceField(
        label="Growth model",
        required=False,
        choices=[(m, m.capitalize() if m != "points" else "Explicit points") for m in MODELS],
        initial="exponential",
    )
    baseline_date = forms.DateField(required=False, widget=DATE)
    baseline_value = forms.FloatField(required=False)
    doubling_months = forms.FloatField(
        required=False, label="Doubling time (months)", help_text="Negative halves."
    )
    multiple_per_year = forms.FloatField(
        required=False, label="…or multiple per year", help_text="For example 3 for 3× a year."
    )
    change_per_year = forms.FloatField(required=False, label="Change per year")
    ceiling = forms.FloatField(required=False)
    midpoint = forms.DateField(required=False, widget=DATE, label="Half-way date")
    steepness = forms.FloatField(required=False, label="…or steepness (per year)")
    points = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2025-06-30, 120\n2026-06-30, 480"}),
        help_text="One “date, value” per line.",
    )
    coverage = forms.FloatField(
        required=False, initial=0.8, label="Band coverage", help_text="0.8 = an 80% band."
    )
    band_low = forms.FloatField(required=False, label="Band low")
    band_high = forms.FloatField(required=False, label="Band high")
    band_points = forms.CharField(
        required=False,
        label="…or explicit band points",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "2026-06-30, 300, 900"}),
        help_text="One “date, low, high” per line (overrides low/high).",
    )
    threshold_value = forms.FloatField(required=False, label="Threshold")
    threshold_above = forms.BooleanField(
        required=False, initial=True, label="Reaches it from below (unchecked: falls to it)"
    )
    probability = forms.FloatField(
        required=False,
        label="Probability (%)",
        min_value=0,
        max_value=100,
        help_text="In percent: 70 for 70%.",
    )

    # services.clean_prediction's field names -> this form's
    FIELD_OF = {
        "claim": "title",
        "threshold.value": "threshold_value",
        "threshold.probability": "probability",
        "threshold.above": "threshold_above",
        **{f"trajectory.{k}": k for k in TRAJECTORY_FIELDS},
        **{f"band.{k}": v for k, v in BAND_FIELD_OF.items()},
    }

    def __init__(self, *args, metric: Metric, user=None, supersedes=None, **kwargs):
        self.metric, self.user, self.supersedes = metric, user, supersedes
        super().__init__(*args, **kwargs)
        log = metric.is_log
        unit = f" ({metric.unit})" if metric.unit else ""
        self.fields["baseline_value"].label = f"Baseline value{unit}"
        self.fields["ceiling"].label = f"Ceiling{unit}"
        self.fields["change_per_year"].label = f"Change per year{unit}"
        self.fields["threshold_value"].label = f"Threshold{unit}"
        if log:
            self.fields["band_low"].help_text = "Factor on the line, e.g. 0.5 (half)."
            self.fields["band_high"].help_text = "Factor on the line, e.g. 2 (double)."
            self.fields["band_low"].initial, self.fields["band_high"].initial = 0.5, 2
        else:
            self.fields["band_low"].help_text = f"Offset{unit}, e.g. −5."
            self.fields["band_high"].help_text = f"Offset{unit}, e.g. 5."

    # The trajectory/band as JSON, ready for the model (set by clean()).
    trajectory_json: dict | None = None
    band_json: dict | None = None

    def _value(self, name: str) -> Any:
        value = self.cleaned_data.get(name)
        if isinstance(value, date):
            return value.isoformat()
        return value

    # What the person stated (set by clean()), for services.create_prediction/update_draft.
    prediction_input: services.PredictionInput | None = None

    @property
    def stated(self) -> services.PredictionInput:
        """`prediction_input` of a valid form."""
        assert self.prediction_input is not None, "call is_valid() first"
        return self.prediction_input

    def line_json(self) -> tuple[dict, dict]:
        """The trajectory and the band of a valid line form (set by clean())."""
        assert self.trajectory_json is not None and self.band_json is not None
        return self.trajectory_json, self.band_json

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        stated = services.PredictionInput(
            kind=kind,
            claim=data.get("title"),
            rationale=data.get("rationale") or "",
            horizon=data.get("horizon"),
        )
        if kind == Kind.THRESHOLD:
            p = data.get("probability")
            stated.threshold_value = data.get("threshold_value")
            stated.threshold_above = data.get("threshold_above", True)
            stated.probability = p / 100 if p is not None else None
        else:
            stated.trajectory, stated.band = self._line(data)
        try:
            fields = services.clean_prediction(
                self.metric, stated, user=self.user, supersedes=self.supersedes
            )
        except Invalid as error:
            add_to_form(self, error, self.FIELD_OF)
            return data
        self.prediction_input = stated
        self.trajectory_json, self.band_json = fields["trajectory"], fields["band"]
        return data

    def _line(self, data) -> tuple[dict, dict]:
        traj = {k: self._value(k) for k in TRAJECTORY_FIELDS if k != "points"}
        traj["points"] = _pairs(data.get("points") or "", 2)
        band: dict[str, Any] = {
            "coverage": data.get("coverage"),
            "low": data.get("band_low"),
            "high": data.get("band_high"),
        }
        band_points = _pairs(data.get("band_points") or "", 3)
        if band_points:
            band = {"coverage": data.get("coverage"), "points": band_points}
        return traj, band

    @staticmethod
    def initial_from(prediction: Prediction) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "kind": prediction.kind,
            "title": prediction.title,
            "rationale": prediction.rationale,
            "horizon": prediction.horizon,
            "threshold_value": prediction.threshold_value,
            "threshold_above": prediction.threshold_above,
            "probability": prediction.probability * 100 if prediction.probability else None,
        }
        traj, band = prediction.trajectory or {}, prediction.band or {}
        for key in TRAJECTORY_FIELDS:
            if key == "points":
                initial["points"] = "\n".join(f"{d}, {v}" for d, v in traj.get("points", []))
            elif key in traj:
                initial[key] = traj[key]
        initial["coverage"] = band.get("coverage", 0.8)
        initial["band_low"], initial["band_high"] = band.get("low"), band.get("high")
        if band.get("points"):
            initial["band_points"] = "\n".join(f"{d}, {lo}, {hi}" for d, lo, hi in band["points"])
        return initial


class ResolveForm(Form):
    outcome = forms.TypedChoiceField(
        choices=[("yes", "Yes, it happened"), ("no", "No, it did not")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Why (note)")


# --------------------------------------------------------------------------- metric sources
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,99}$")
_RESERVED_HEADERS = {
    "host", "content-length", "transfer-encoding", "connection", "if-none-match",
    "if-modified-since", "accept", "user-agent", "te", "upgrade", "cookie",
}  # fmt: skip
SOURCE_FIELD_OF = {"date": "date_field", "value": "value_field", "rows": "rows"}


class MetricSourceForm(ModelForm):
    """Where a metric's values come from and how to read them. The credential's value is
    write-only: it is encrypted on save and the form never shows it again."""

    header_value = forms.CharField(
        label="Credential value",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
        help_text="For example “Bearer …”. Stored encrypted and never shown again; leave empty "
        "to keep the current one.",
    )
    clear_credential = forms.BooleanField(required=False, label="Remove the stored credential")

    field_order = [
        "url", "format", "rows", "date_field", "value_field", "filter", "factor", "every_hours",
        "header_name", "header_value", "clear_credential", "active",
    ]  # fmt: skip

    class Meta:
        model = MetricSource
        fields = [
            "url", "format", "rows", "date_field", "value_field", "filter", "factor",
            "every_hours", "header_name", "active",
        ]  # fmt: skip
        help_texts = {
            "url": "A public http:// or https:// address that answers with CSV or JSON.",
            "rows": "JSON only: where the list of records is, e.g. data.results or "
            "$.series[*]. Empty: the document is the list.",
            "date_field": "CSV: the column's name. JSON: the field in each record, e.g. day "
            "or meta.date. Dates like 2026-03-31 (a time after it is ignored).",
            "value_field": "CSV: the column's name. JSON: the field, e.g. scores.verified.",
            "filter": 'Optional: keep only rows where, e.g., model == "best" (and … and …).',
            "header_name": "Optional: a header the source needs, e.g. Authorization.",
            "active": "Fetched on its schedule while this is ticked.",
        }

    def __init__(self, *args, metric: Metric, **kwargs):
        self.metric = metric
        super().__init__(*args, **kwargs)
        if not self.instance.has_credential:
            del self.fields["clear_credential"]
        else:
            self.fields["header_value"].help_text = (
                "A credential is stored (encrypted; it is never shown). Type a new one to "
                "replace it, or leave this empty to keep it."
            )
        self.fields["url"].widget.attrs["placeholder"] = "https://example.com/benchmark.csv"
        from .trajectory import format_value

        example = format_value(62, metric.unit)
        self.fields[
            "factor"
        ].help_text = f"Each value is multiplied by this: 100 turns 0.62 into {example}."

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Give an http:// or https:// address.")
        why = netguard.literal_refusal(url)
        if why:
            raise forms.ValidationError(why)
        return url

    def clean_header_name(self) -> str:
        name = self.cleaned_data["header_name"].strip()
        if name and not _HEADER_NAME.match(name):
            raise forms.ValidationError("A header name holds letters, digits and hyphens.")
        if name.lower() in _RESERVED_HEADERS:
            raise forms.ValidationError(f"{name} is set by Exponent itself.")
        return name

    def clean_header_value(self) -> str:
        value = self.cleaned_data["header_value"].strip()
        if any(c in value for c in "\r\n"):
            raise forms.ValidationError("A header value is one line.")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise forms.ValidationError("A header value holds plain ASCII text.") from None
        return value

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("header_value") and not data.get("header_name"):
            self.add_error("header_name", "Name the header the credential goes in.")
        if {"format", "date_field", "value_field", "rows", "filter", "factor"} <= set(data):
            mapping = sourcemap.Mapping(
                format=data["format"],
                date=data["date_field"],
                value=data["value_field"],
                rows=data["rows"],
                filter=data["filter"],
                factor=data["factor"],
            )
            try:
                sourcemap.compile_mapping(mapping)
            except sourcemap.MappingError as error:
                for name, message in error.args[1].items():
                    self.add_error(SOURCE_FIELD_OF.get(name, name), message)
        return data

    def credential(self) -> tuple[str, str] | None:
        """The credential a test fetch sends: the typed one, else the stored one."""
        name, value = self.cleaned_data.get("header_name"), self.cleaned_data.get("header_value")
        if name and value:
            return name, value
        if name and self.instance.has_credential and not self.cleaned_data.get("clear_credential"):
            stored = secrets.decrypt(self.instance.header_value_encrypted)
            return (name, stored) if stored is not None else None
        return None

    def save(self, commit: bool = True) -> MetricSource:
        source = super().save(commit=False)
        source.metric = self.metric
        if self.cleaned_data.get("clear_credential") or not source.header_name:
            source.header_value_encrypted = ""
        if self.cleaned_data.get("header_value"):
            source.header_value_encrypted = secrets.encrypt(self.cleaned_data["header_value"])
        if commit:
            source.save()
        return source
