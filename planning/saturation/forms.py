from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django import forms
from django.utils import timezone

from planning import csvimport
from planning.forms import ModelForm

from .models import AUDITS_SOURCE, FormFactor, SaturationReading, Scale, Status, status_for
from .services import CSV_COLUMNS, REQUIRED_COLUMNS, audit_capability, audit_rates

FOLLOW = "follow"


class FormFactorForm(ModelForm):
    status = forms.ChoiceField(
        label="Status",
        choices=[(FOLLOW, "Follow the readings (the verdict)")] + list(Status.choices),
        initial=FOLLOW,
        help_text="Follows the verdict unless you choose a status; then the page says it was "
        "set by hand.",
    )

    class Meta:
        model = FormFactor
        fields = ["name", "product", "next_form_factor", "notes"]  # status: see save_by
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"next_form_factor": "Next form factor"}

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["name", "product", "status", "next_form_factor", "notes"])
        self.team = team
        others = FormFactor.objects.for_team(team).order_by("name")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        next_one = cast(forms.ModelChoiceField, self.fields["next_form_factor"])
        next_one.queryset = others
        next_one.empty_label = "None chosen yet"
        self.fields["name"].widget.attrs["placeholder"] = "Chat assistant, IDE copilot, agent…"
        if self.instance.pk and not self.is_bound:
            self.initial["status"] = (
                self.instance.status if self.instance.status_by_hand else FOLLOW
            )

    def save_by(self, user, commit: bool = True) -> FormFactor:
        """Save, recording whether the status follows the verdict or was chosen by `user`."""
        form_factor = super().save(commit=False)
        chosen = self.cleaned_data["status"]
        if chosen == FOLLOW:
            form_factor.status_by_hand = False
            form_factor.status = status_for(form_factor.verdict)
            form_factor.status_set_by = form_factor.status_set_at = None
        elif not form_factor.status_by_hand or chosen != form_factor.status:
            form_factor.status_by_hand = True
            form_factor.status = chosen
            form_factor.status_set_by, form_factor.status_set_at = user, timezone.now()
        if commit:
            form_factor.save()
        return form_factor

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = FormFactor.objects.for_team(self.team).filter(name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("The team already tracks a form factor with this name.")
        return name


# Readings beyond this overflow the curve fits (squares of 10³⁰⁸ are not floats); no benchmark
# score or product metric is that large.
MAX_MAGNITUDE = 1e12


class ReadingForm(ModelForm):
    capability = forms.FloatField(
        required=False,
        help_text="Leave empty with source “audits” to use your audits' pass rate.",
    )

    class Meta:
        model = SaturationReading
        fields = [
            "model_name",
            "release_date",
            "capability",
            "capability_source",
            "product_value",
            "product_metric",
            "product_scale",
            "cost_per_task",
        ]
        widgets = {
            "release_date": forms.DateInput(attrs={"type": "date"}),
            "capability_source": forms.TextInput(attrs={"list": "capability-sources"}),
        }
        labels = {
            "model_name": "Model",
            "release_date": "Released",
            "capability_source": "Capability source",
            "product_value": "Product value",
            "product_metric": "Product metric",
            "product_scale": "Scale",
            "cost_per_task": "Cost per task ($)",
        }
        help_texts = {"capability_source": "", "product_metric": "", "cost_per_task": ""}

    def __init__(self, *args, form_factor, taken_names=None, capability_of=None, **kwargs):
        """`taken_names` (casefolded model names already read) and `capability_of` (model name
        -> audit pass rate) let a CSV import look both up once for all its rows."""
        super().__init__(*args, **kwargs)
        self.form_factor = form_factor
        self.taken_names = taken_names
        self.capability_of = capability_of or (
            lambda model_name: audit_capability(form_factor.team, model_name)
        )

    def clean_model_name(self) -> str:
        name = self.cleaned_data["model_name"].strip()
        if not name:
            raise forms.ValidationError("Name the model generation.")
        if (
            name.casefold() in self.taken_names
            if self.taken_names is not None
            else self.form_factor.readings.filter(model_name__iexact=name).exists()
        ):
            raise forms.ValidationError(
                f"{name} already has a reading here; delete it first to replace it."
            )
        return name

    def clean_cost_per_task(self):
        cost = self.cleaned_data.get("cost_per_task")
        if cost is not None and cost < 0:
            raise forms.ValidationError("A cost cannot be negative.")
        return cost

    def clean(self):
        super().clean()
        data = self.cleaned_data
        source = (data.get("capability_source") or "").strip()
        data["capability_source"] = source
        capability = data.get("capability")
        if capability is None and "capability" not in self.errors:
            if source.casefold() == AUDITS_SOURCE and data.get("model_name"):
                capability = self.capability_of(data["model_name"])
                if capability is None:
                    self.add_error(
                        "capability",
                        f"Your audits have no pass rate for {data['model_name']} yet; "
                        "enter the capability by hand.",
                    )
                data["capability"] = capability
            elif source.casefold() != AUDITS_SOURCE:
                self.add_error(
                    "capability",
                    "Enter the capability, or set the source to “audits” to fill it from your "
                    "audits' pass rate.",
                )
        for name in ("capability", "product_value"):
            value = data.get(name)
            if value is not None and abs(value) > MAX_MAGNITUDE and name not in self.errors:
                self.add_error(name, "Enter a number between -10¹² and 10¹² (1,000,000,000,000).")
                data[name] = None
        capability = data.get("capability")
        if capability is not None and capability < 0:
            self.add_error("capability", "Capability cannot be negative.")
        if data.get("product_scale") == Scale.LOG:
            if capability is not None and capability <= 0:
                self.add_error("capability", "A log scale needs a capability above zero.")
            product = data.get("product_value")
            if product is not None and product <= 0:
                self.add_error(
                    "product_value",
                    "A log scale needs a value above zero; use the linear scale for metrics "
                    "that can be zero or negative.",
                )
        return data

    def build(self) -> SaturationReading:
        return SaturationReading(form_factor=self.form_factor, **self.cleaned_data)

    def _post_clean(self):
        # The instance is built by `build`; skip ModelForm's instance construction, which
        # would reject the empty capability before `clean` can fill it from audits.
        pass


class CsvImportForm(csvimport.UploadForm):
    help = "UTF-8, with a header row."


@dataclass
class CsvResult:
    readings: list[SaturationReading]
    errors: list[csvimport.Problem]  # (line number, message); line 1 is the header


def parse_readings_csv(raw: bytes | str, form_factor: FormFactor) -> CsvResult:
    """Check every row of a CSV file as a reading (planning.csvimport reads the file, the
    reading form checks each row); the caller saves nothing unless the errors are empty."""
    sheet = csvimport.read(raw, columns=CSV_COLUMNS, required=REQUIRED_COLUMNS)
    errors = list(sheet.problems)
    forms_ok: list[ReadingForm] = []
    seen: dict[str, int] = {}
    if not sheet.columns:
        return CsvResult([], errors)
    # Looked up once for the whole file, not once per row.
    taken = {n.casefold() for n in form_factor.readings.values_list("model_name", flat=True)}
    rates: dict[str, float] | None = None

    def capability_of(model_name: str) -> float | None:
        nonlocal rates
        if rates is None:
            rates = audit_rates(form_factor.team)
        return rates.get(model_name.strip().casefold())

    for row in sheet.rows:
        data = dict(row.cells)
        data["product_scale"] = data.get("product_scale") or "linear"
        form = ReadingForm(
            data, form_factor=form_factor, taken_names=taken, capability_of=capability_of
        )
        if not form.is_valid():
            for name, messages in form.errors.items():
                where = "" if name == "__all__" else f"{name}: "
                errors.extend(csvimport.Problem(row.line, f"{where}{m}") for m in messages)
            continue
        key = form.cleaned_data["model_name"].casefold()
        if key in seen:
            errors.append(
                csvimport.Problem(
                    row.line,
                    f"model_name: {form.cleaned_data['model_name']} is already on line "
                    f"{seen[key]}.",
                )
            )
            continue
        seen[key] = row.line
        forms_ok.append(form)
    errors.sort(key=lambda e: e.line or 0)
    return CsvResult([] if errors else [f.build() for f in forms_ok], errors)
