from __future__ import annotations

import json
from datetime import datetime, time
from typing import cast

from django import forms
from django.utils import timezone

from planning.forms import Form, ModelForm, set_model_choices
from planning.inputs import InputError, parse_json

from . import graders
from .models import GraderKind, Idea, IdeaStatus, Model, Probe, without_price


class IdeaForm(ModelForm):
    """An idea is in the backlog because it failed: the form records that failure (a model,
    or "a model before" a date; logging the idea is the failure when nothing is given)."""

    failed_date = forms.DateField(
        required=False,
        label="Failed on (date)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="When it failed. Empty: today, when you log it.",
    )

    class Meta:
        model = Idea
        fields = [
            "title",
            "description",
            "capability_needed",
            "failed_model",
            "failed_date",
            "why_failed",
            "owner",
            "pass_threshold",
        ]
        labels = {"failed_model": "Failed on model", "why_failed": "Why it failed (note)"}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "why_failed": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        set_model_choices(self.fields["owner"], team.members.all(), lambda u: u.display_name)
        self.fields[
            "failed_model"
        ].help_text = (
            "The model it failed on, e.g. claude-3-5-sonnet. Empty: “a model before” the date."
        )
        self.order_fields(self.Meta.fields)
        if self.instance.pk and self.instance.failed_at and not self.is_bound:
            self.initial["failed_date"] = timezone.localtime(
                self.instance.failed_at, team.tz
            ).date()

    def clean_failed_date(self):
        day = self.cleaned_data.get("failed_date")
        if day and day > self.team.today():
            raise forms.ValidationError(
                "A failure that is recorded has happened: pick today or an earlier day."
            )
        return day

    def save(self, commit=True):
        idea = super().save(commit=False)
        day = self.cleaned_data.get("failed_date")
        if day:
            start = datetime.combine(day, time.min)
            idea.failed_at = timezone.make_aware(start, self.team.tz)
        elif not idea.pk:
            idea.failed_at = timezone.now()
        if commit:
            idea.save()
            self.save_m2m()
        return idea


TEXT_KINDS = ("contains", "not_contains", "equals")

# Which form fields configure which grader, and the config key each one fills.
GRADER_FIELDS = {
    "contains": {"expected": "expected", "case_sensitive": "case_sensitive"},
    "not_contains": {"expected": "expected", "case_sensitive": "case_sensitive"},
    "equals": {"expected": "expected", "case_sensitive": "case_sensitive"},
    "regex": {"pattern": "pattern", "case_sensitive": "case_sensitive"},
    "json_schema": {"schema": "schema"},
    "number": {"number": "expected", "tolerance": "tolerance", "relative": "relative"},
    "llm_judge": {"rubric": "rubric", "rubric_version": "rubric_version",
                  "judge_model": "judge_model"},
    "human": {},
}  # fmt: skip


class ProbeForm(ModelForm):
    """A probe with its grader configured by fields of the chosen kind (the other kinds'
    fields are hidden by CSS and ignored); raw JSON stays available as an advanced option."""

    expected = forms.CharField(
        required=False,
        max_length=2000,
        label="Expected text",
        help_text="Contains / does not contain / equals: the text to look for (up to 2,000 "
        "characters).",
    )
    case_sensitive = forms.BooleanField(required=False, label="Case-sensitive")
    pattern = forms.CharField(
        required=False,
        max_length=1000,
        label="Regular expression",
        help_text="Python syntax, searched anywhere in the answer (up to 1,000 characters).",
    )
    schema = forms.CharField(
        required=False,
        label="JSON Schema",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Draft 2020-12, e.g. {"type": "object", "required": ["total"]}. The answer '
        "may wrap the JSON in a ``` fence.",
    )
    number = forms.FloatField(
        required=False,
        label="Expected number",
        help_text="The last number in the answer is compared (thousands commas allowed).",
    )
    tolerance = forms.FloatField(
        required=False,
        min_value=0,
        label="Tolerance (±)",
        help_text="0 or more; empty means exactly.",
    )
    relative = forms.BooleanField(
        required=False, label="Tolerance is a share of the expected number (0.01 = 1 %)"
    )
    rubric = forms.CharField(
        required=False,
        max_length=4000,
        label="Rubric",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What a passing answer does (up to 4,000 characters). The judge sees the "
        "rubric, the prompt and the answer, and answers pass or fail with its reason.",
    )
    rubric_version = forms.CharField(
        required=False,
        max_length=20,
        initial="1",
        label="Rubric version",
        help_text="Change it when you change the rubric: results keep the version they used.",
    )
    judge_model = forms.ChoiceField(required=False, label="Judge model", choices=())
    grader_config = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        required=False,
        label="Grader settings as JSON (advanced)",
        help_text='Optional. When given, it replaces the fields above, e.g. {"expected": "yes"}'
        '; a number grader: {"expected": 42, "tolerance": 0.5}.',
    )
    prior_turns = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        required=False,
        help_text='Optional earlier turns as JSON: [{"role": "user", "content": "…"}, …]',
    )

    class Meta:
        model = Probe
        fields = [
            "name",
            "system_prompt",
            "user_message",
            "prior_turns",
            "max_tokens",
            "temperature",
            "samples",
            "pass_k",
            "grader",
            "grader_config",
        ]
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 2}),
            "user_message": forms.Textarea(attrs={"rows": 4, "maxlength": 20000}),
        }
        help_texts = {
            "max_tokens": "1 to 64,000 tokens per answer.",
            "temperature": "0 to 1. 0 gives the most repeatable answers.",
            "samples": "1 to 20: how often the prompt is asked per model.",
            "pass_k": "1 to the number of samples: how many must pass.",
        }

    COMMON = [
        "name",
        "system_prompt",
        "user_message",
        "prior_turns",
        "max_tokens",
        "temperature",
        "samples",
        "pass_k",
        "grader",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, low, high in [
            ("max_tokens", 1, 64000),
            ("temperature", 0, 1),
            ("samples", 1, 20),
            ("pass_k", 1, 20),
        ]:
            self.fields[name].widget.attrs.update({"min": low, "max": high})
        self.fields["temperature"].widget.attrs["step"] = "0.1"
        judges = list(
            Model.objects.filter(retired=False, is_alias=False).values_list("model_id", flat=True)
        )
        current = (self.instance.grader_config or {}).get("judge_model") if self.instance.pk else ""
        if current and current not in judges:
            judges.append(current)
        judge = cast(forms.ChoiceField, self.fields["judge_model"])
        judge.choices = [("", "Choose a model")] + [(j, j) for j in judges]
        if self.instance.pk and not self.is_bound:
            config = self.instance.grader_config or {}
            for name, key in GRADER_FIELDS.get(self.instance.grader, {}).items():
                if key in config:
                    value = config[key]
                    self.initial[name] = json.dumps(value, indent=2) if name == "schema" else value
            self.initial["prior_turns"] = (
                json.dumps(self.instance.prior_turns) if self.instance.prior_turns else ""
            )

    def layout(self):
        """Common fields, then one group per grader kind (shown for the chosen kind)."""
        groups = [("Contains, does not contain, equals", " ".join(TEXT_KINDS),
                   ["expected", "case_sensitive"]),
                  ("Regular expression", "regex", ["pattern"]),
                  ("JSON Schema", "json_schema", ["schema"]),
                  ("Number with tolerance", "number", ["number", "tolerance", "relative"]),
                  ("LLM judge with a rubric", "llm_judge",
                   ["rubric", "rubric_version", "judge_model"])]  # fmt: skip
        return {
            "common": [self[name] for name in self.COMMON],
            "groups": [(title, kinds, [self[n] for n in names]) for title, kinds, names in groups],
            "advanced": self["grader_config"],
        }

    def _json(self, name, default):
        raw = (self.cleaned_data.get(name) or "").strip()
        if not raw:
            return default
        try:
            return parse_json(raw)
        except InputError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_grader_config(self):
        value = self._json("grader_config", None)
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"expected": "yes"}.')
        return value

    def clean_schema(self):
        value = self._json("schema", None)
        if value is not None and not isinstance(value, dict | bool):
            raise forms.ValidationError('A JSON Schema is an object, e.g. {"type": "object"}.')
        return value

    def clean_prior_turns(self):
        value = self._json("prior_turns", [])
        if not isinstance(value, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant") and "content" in t
            for t in value
        ):
            raise forms.ValidationError('Give a list of {"role": "user"|"assistant", "content"}.')
        return value

    def _config_from_fields(self, kind: str, data: dict) -> dict:
        config = {}
        for name, key in GRADER_FIELDS.get(kind, {}).items():
            value = data.get(name)
            if value in (None, "") or (value is False and name != "case_sensitive"):
                continue
            if name == "case_sensitive" and not value:
                continue
            config[key] = value
        return config

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind = data.get("grader")
        raw = data.get("grader_config")
        if "grader_config" in self.errors or "schema" in self.errors:
            return data
        config = raw if isinstance(raw, dict) else self._config_from_fields(kind or "", data)
        data["grader_config"] = config
        if kind:
            where = "grader_config" if isinstance(raw, dict) else None
            for problem in graders.validate_config(kind, config):
                field = where or self._field_for(kind, problem)
                if where is None and "is required" in problem:
                    problem = "Required for this grader."
                self.add_error(field, problem)
        if data.get("pass_k") and data.get("samples") and data["pass_k"] > data["samples"]:
            self.add_error("pass_k", "Cannot require more passes than samples.")
        if kind == GraderKind.LLM_JUDGE:
            config.setdefault("rubric_version", "1")
        return data

    def _field_for(self, kind: str, problem: str) -> str:
        """The form field a config problem belongs to (the key named in the message)."""
        for name, key in GRADER_FIELDS.get(kind, {}).items():
            if f"“{key}”" in problem:
                return name
        return {"regex": "pattern", "json_schema": "schema", "number": "number"}.get(kind, "grader")


class StatusForm(Form):
    ACTIONS = {
        "promote": IdeaStatus.PROMOTED,
        "dormant": IdeaStatus.DORMANT,
        "abandon": IdeaStatus.ABANDONED,
    }
    action = forms.ChoiceField(choices=[(k, k) for k in ACTIONS])
    # A promotion's reason becomes the review decision's note (2,000 characters at most).
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("action") in ("promote", "abandon") and not data.get("reason", "").strip():
            self.add_error("reason", "Say why, for the record (it becomes the status note).")
        return data


class RunForm(Form):
    models = forms.ModelMultipleChoiceField(
        queryset=Model.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    ideas = forms.ModelMultipleChoiceField(
        queryset=Idea.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Default: every dormant or retesting idea.",
    )
    budget_usd = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        label="Budget (USD)",
        help_text="The run stops cleanly when this is spent.",
    )
    budget_tokens = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, label="Budget (tokens)"
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        set_model_choices(
            self.fields["models"],
            Model.objects.filter(retired=False),
            lambda m: f"{m.display_name or m.model_id} ({m.model_id})",
        )
        set_model_choices(
            self.fields["ideas"], Idea.objects.for_team(team).exclude(status=IdeaStatus.ABANDONED)
        )

    def clean(self):
        data = super().clean() or {}
        chosen = data.get("models")
        if data.get("budget_usd") is not None and chosen:
            unpriced = list(
                without_price(Model.objects.filter(pk__in=[m.pk for m in chosen])).values_list(
                    "model_id", flat=True
                )
            )
            if unpriced:
                names = ", ".join(unpriced)
                self.add_error(
                    "budget_usd",
                    f"No price is set for {names}, so a dollar budget cannot see "
                    f"{'its' if len(unpriced) == 1 else 'their'} calls: give a token budget, "
                    "or ask an administrator to add the price.",
                )
        return data


class ResumeForm(Form):
    """An optional new dollar budget for resuming a run (the same bounds as a new run's)."""

    budget_usd = RunForm.base_fields["budget_usd"]


class OverrideForm(Form):
    grade = forms.ChoiceField(choices=[("pass", "Pass"), ("fail", "Fail")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class AddModelForm(Form):
    name = forms.CharField(
        max_length=100,
        label="Model id or alias",
        help_text="For example a moving alias such as …-latest.",
    )
