from __future__ import annotations

from typing import cast

from django import forms

from planning.forms import Form, ModelForm, set_model_choices
from planning.quarters import current_quarter, quarter_label

from . import analysis, services
from .models import BottleneckMap, Stage


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
