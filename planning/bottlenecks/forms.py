from __future__ import annotations

from typing import cast

from django import forms

from planning import csvimport
from planning.forms import Form, ModelForm, set_model_choices
from planning.quarters import current_quarter, quarter_label

from . import analysis, delivery, services
from .models import BottleneckMap, DeliverySource, Stage


def quarter_choices(team, extra: str | None = None) -> list[tuple[str, str]]:
    """Four quarters back to four ahead of the team's current one."""
    q = current_quarter(team)
    labels = []
    start = q
    for _ in range(4):
        start = start.previous()
    cursor = start
    for _ in range(9):
        labels.append(str(cursor))
        cursor = cursor.next()
    if extra and extra not in labels:
        labels.append(extra)
    labels.sort(reverse=True)

    def text(label: str) -> str:
        words, months = quarter_label(label, team.fiscal_year_start_month)
        words = f"{words} ({months})" if months else words
        return f"{words}, this quarter" if label == str(q) else words

    return [(label, text(label)) for label in labels]


class MapForm(ModelForm):
    quarter = forms.ChoiceField()

    class Meta:
        model = BottleneckMap
        fields = ["name", "unit_of_work", "mode", "quarter"]
        widgets = {"mode": forms.RadioSelect}

    start_with_example = forms.BooleanField(
        required=False,
        label="Start from the example software-delivery workflow",
        help_text="Spec, code generation, review, QA, security review and deploy; edit freely.",
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        cast(forms.ChoiceField, self.fields["quarter"]).choices = quarter_choices(
            team, self.instance.quarter or None
        )
        if self.instance.pk:
            del self.fields["start_with_example"]
        else:
            self.fields["quarter"].initial = str(current_quarter(team))
        self.fields["name"].widget.attrs["placeholder"] = "Feature delivery"

    def clean(self):
        super().clean()
        data = self.cleaned_data
        name, quarter = data.get("name"), data.get("quarter")
        if name and quarter:
            clash = BottleneckMap.objects.for_team(self.team).filter(name=name, quarter=quarter)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                words = quarter_label(quarter, self.team.fiscal_year_start_month)[0]
                self.add_error("name", f"There is already a map called “{name}” in {words}.")
        return data


class StageForm(ModelForm):
    depends_on = forms.ModelMultipleChoiceField(
        queryset=Stage.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Starts after",
        help_text="With no dependencies anywhere, stages run one after another in table order.",
    )

    class Meta:
        model = Stage
        fields = [
            "name",
            "active_hours",
            "waiting_hours",
            "speedup_active",
            "speedup_waiting",
            "target_speedup",
            "owner",
            "notes",
        ]
        labels = {
            "active_hours": "Active hours",
            "waiting_hours": "Waiting hours",
            "speedup_active": "AI speed-up, active (×)",
            "speedup_waiting": "Speed-up, waiting (×)",
            "target_speedup": "Target speed-up (×)",
        }
        help_texts = {
            "speedup_active": "1 = unchanged, 10 = ten times faster, 0.5 = twice as slow.",
            "speedup_waiting": "Queues shrink only when the process changes.",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, bmap: BottleneckMap, **kwargs):
        instance = kwargs.get("instance")
        # The add form and an edit row share the page: keep their element ids apart.
        kwargs.setdefault("auto_id", f"id_stage{instance.pk}_%s" if instance else "id_new_%s")
        super().__init__(*args, **kwargs)
        self.bmap = bmap
        others = Stage.objects.filter(map=bmap)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
            self.fields["depends_on"].initial = list(
                self.instance.dependencies.values_list("depends_on_id", flat=True)
            )
        set_model_choices(self.fields["depends_on"], others)
        for name in ("active_hours", "waiting_hours", "speedup_active", "speedup_waiting"):
            self.fields[name].widget.attrs.update(step="any", inputmode="decimal")
        self.fields["target_speedup"].widget.attrs.update(step="any", inputmode="decimal")
        self.fields["name"].widget.attrs["placeholder"] = "Code review"
        self.fields["owner"].widget.attrs["placeholder"] = "Who can change it"

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Stage.objects.filter(map=self.bmap, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"This map already has a stage called “{name}”.")
        return name

    def clean(self):
        super().clean()
        data = self.cleaned_data
        depends_on = data.get("depends_on")
        if depends_on:
            try:
                services.check_dependencies(self.bmap, self.instance, depends_on)
            except analysis.CycleError as error:
                self.add_error("depends_on", str(error))
        return data

    def save(self, commit: bool = True) -> Stage:
        stage = super().save(commit=False)
        stage.map = self.bmap
        if stage.pk is None:
            stage.order = services.next_order(self.bmap)
        stage.save()
        services.set_dependencies(stage, self.cleaned_data.get("depends_on") or [])
        return stage


class ScenarioForm(Form):
    name = forms.CharField(
        max_length=120,
        label="Scenario name",
        widget=forms.TextInput(attrs={"placeholder": "AI-assisted review"}),
    )


# --------------------------------------------------------------------------- measured versions
class DeliveryUploadForm(csvimport.UploadForm):
    help = "A CSV export with a header row (UTF-8)."
    field_order = ["source", "file"]

    source = forms.ChoiceField(
        label="What the file holds",
        choices=DeliverySource.choices,
        initial=DeliverySource.GITHUB,
        widget=forms.RadioSelect,
    )


KIND_CHOICES = [("waiting", "Waiting time"), ("active", "Active time")]


class MeasureForm(Form):
    """The mapping step: which column holds what, which stage each segment or status is
    (and whether it is active or waiting time), the window, an optional rollout date splitting
    it, and the name and quarter of the new version. Built for one file and one map; the
    segment or status rows (`keys`) depend on the columns chosen, so the view reads those
    first (`columns_of`)."""

    window_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    window_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    rollout = forms.DateField(
        label="AI tool rollout (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Compare the window before this day with the window from this day on.",
    )
    name = forms.CharField(label="Name of the new version", max_length=120)
    quarter = forms.ChoiceField(label="Quarter of the new version")

    def __init__(
        self,
        *args,
        source: str,
        header: list[str],
        keys: list[tuple[str, str]],
        stages: list[Stage],
        team,
        quarter: str,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.source, self.header, self.keys, self.team = source, header, keys, team
        header_choices = [("", "— not in the file")] + [(h, h) for h in header]
        for column in delivery.COLUMNS[source]:  # type: ignore[index]
            self.fields[f"col_{column.name}"] = forms.ChoiceField(
                label=column.label[:1].upper() + column.label[1:],
                choices=header_choices,
                required=False,
            )
        stage_choices = [("", "Ignore")] + [(str(st.pk), st.name) for st in stages]
        for i, (key, label) in enumerate(keys):
            self.fields[f"key_{i}"] = forms.CharField(
                widget=forms.HiddenInput, max_length=delivery.MAX_STATUS_CHARS + 40
            )
            self.initial.setdefault(f"key_{i}", key)
            self.fields[f"stage_{i}"] = forms.ChoiceField(
                label=f"Stage for “{label}”", choices=stage_choices, required=False
            )
            self.fields[f"kind_{i}"] = forms.ChoiceField(
                label=f"“{label}” counts as", choices=KIND_CHOICES
            )
        cast(forms.ChoiceField, self.fields["quarter"]).choices = quarter_choices(team, quarter)

    @property
    def column_fields(self):
        return [self[f"col_{c.name}"] for c in delivery.COLUMNS[self.source]]  # type: ignore[index]

    @property
    def key_rows(self):
        return [
            (label, self[f"key_{i}"], self[f"stage_{i}"], self[f"kind_{i}"])
            for i, (_, label) in enumerate(self.keys)
        ]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        columns = {
            c.name: data[f"col_{c.name}"]
            for c in delivery.COLUMNS[self.source]  # type: ignore[index]
            if data.get(f"col_{c.name}")
        }
        for problem in delivery.column_problems(self.source, columns, self.header):  # type: ignore[arg-type]
            self.add_error(None, problem)
        start, end, rollout = data.get("window_start"), data.get("window_end"), data.get("rollout")
        if start and end and start > end:
            self.add_error("window_end", "The window ends before it starts.")
        elif start and end and rollout and not start < rollout <= end:
            self.add_error(
                "rollout",
                "Pick a day after the window's first day and no later than its last, so both "
                "windows have days in them.",
            )
        name, quarter = data.get("name"), data.get("quarter")
        if name and quarter:
            clash = BottleneckMap.objects.for_team(self.team).filter(name=name, quarter=quarter)
            if clash.exists():
                words = quarter_label(quarter, self.team.fiscal_year_start_month)[0]
                self.add_error(
                    "name", f"There is already a map called “{name}” in {words}; pick another name."
                )
        return data

    def columns(self) -> dict[str, str]:
        return {
            c.name: self.cleaned_data[f"col_{c.name}"]
            for c in delivery.COLUMNS[self.source]  # type: ignore[index]
            if self.cleaned_data.get(f"col_{c.name}")
        }

    def choices(self) -> dict[str, tuple[int | None, str]]:
        """Segment or status → (stage pk or None, kind), for the keys of this file."""
        out: dict[str, tuple[int | None, str]] = {}
        for i in range(len(self.keys)):
            key = self.cleaned_data.get(f"key_{i}")
            if not key:
                continue
            stage = self.cleaned_data.get(f"stage_{i}")
            out[key] = (int(stage) if stage else None, self.cleaned_data[f"kind_{i}"])
        return out


def columns_of(data, source: str, header: list[str]) -> dict[str, str]:
    """The columns chosen in submitted `data` (before the form validates: the rows of the
    mapping step depend on them); names the file does not have are left out."""
    out = {}
    for column in delivery.COLUMNS[source]:  # type: ignore[index]
        value = data.get(f"col_{column.name}")
        if isinstance(value, str) and value in header:
            out[column.name] = value
    return out
