from __future__ import annotations

import json
from datetime import datetime, time

from django import forms
from django.utils import timezone

from planning.inputs import InputError, parse_json

from . import graders
from .models import GraderKind, Idea, IdeaStatus, Model, Probe


class IdeaForm(forms.ModelForm):
    """An idea is in the backlog because it failed: the form records that failure (a model,
    or "a model before" a date; logging the idea is the failure when nothing is given)."""

    failed_date = forms.DateField(
        required=False, label="Failed on (date)", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="When it failed. Empty: today, when you log it.",
    )  # fmt: skip

    class Meta:
        model = Idea
        fields = ["title", "description", "capability_needed", "failed_model", "failed_date",
                  "why_failed", "owner", "pass_threshold"]  # fmt: skip
        labels = {"failed_model": "Failed on model", "why_failed": "Why it failed (note)"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3}),
                   "why_failed": forms.Textarea(attrs={"rows": 3})}  # fmt: skip

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["owner"].queryset = team.members.all()
        self.fields["owner"].label_from_instance = lambda u: u.display_name
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
        if day and day > timezone.localtime(timezone.now(), self.team.tz).date():
            raise forms.ValidationError("A failure that is recorded has happened: pick today or "
                                        "an earlier day.")  # fmt: skip
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


class ProbeForm(forms.ModelForm):
    grader_config = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        required=False,
        help_text=(
            'JSON. contains/equals: {"expected": "…"}; regex: {"pattern": "…"}; '
            'json_schema: {"schema": {…}}; number: {"expected": 42, "tolerance": 0.5}; '
            'llm_judge: {"rubric": "…", "rubric_version": "1", "judge_model": "…"}.'
        ),
    )
    prior_turns = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        required=False,
        help_text='Optional earlier turns as JSON: [{"role": "user", "content": "…"}, …]',
    )

    class Meta:
        model = Probe
        fields = ["name", "system_prompt", "user_message", "prior_turns", "max_tokens",
                  "temperature", "samples", "pass_k", "grader", "grader_config"]  # fmt: skip
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 2}),
                   "user_message": forms.Textarea(attrs={"rows": 4})}  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["grader_config"] = json.dumps(self.instance.grader_config, indent=2)
            self.initial["prior_turns"] = (
                json.dumps(self.instance.prior_turns) if self.instance.prior_turns else ""
            )

    def _json(self, name, default):
        raw = (self.cleaned_data.get(name) or "").strip()
        if not raw:
            return default
        try:
            return parse_json(raw)
        except InputError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_grader_config(self):
        value = self._json("grader_config", {})
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"expected": "yes"}.')
        return value

    def clean_prior_turns(self):
        value = self._json("prior_turns", [])
        if not isinstance(value, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant") and "content" in t
            for t in value
        ):
            raise forms.ValidationError('Give a list of {"role": "user"|"assistant", "content"}.')
        return value

    def clean(self):
        data = super().clean()
        kind, config = data.get("grader"), data.get("grader_config")
        if kind and isinstance(config, dict):
            for problem in graders.validate_config(kind, config):
                self.add_error("grader_config", problem)
        if data.get("pass_k") and data.get("samples") and data["pass_k"] > data["samples"]:
            self.add_error("pass_k", "Cannot require more passes than samples.")
        if kind == GraderKind.LLM_JUDGE and isinstance(config, dict):
            config.setdefault("rubric_version", "1")
        return data


class StatusForm(forms.Form):
    ACTIONS = {
        "promote": IdeaStatus.PROMOTED,
        "dormant": IdeaStatus.DORMANT,
        "abandon": IdeaStatus.ABANDONED,
    }
    action = forms.ChoiceField(choices=[(k, k) for k in ACTIONS])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") in ("promote", "abandon") and not data.get("reason", "").strip():
            self.add_error("reason", "Say why, for the record (it becomes the status note).")
        return data


class RunForm(forms.Form):
    models = forms.ModelMultipleChoiceField(
        queryset=Model.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    ideas = forms.ModelMultipleChoiceField(
        queryset=Idea.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text="Default: every dormant or retesting idea.",
    )  # fmt: skip
    budget_usd = forms.DecimalField(
        required=False, min_value=0, max_digits=10, decimal_places=2, label="Budget (USD)",
        help_text="The run stops cleanly when this is spent.",
    )  # fmt: skip
    budget_tokens = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                       label="Budget (tokens)")  # fmt: skip

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].queryset = Model.objects.filter(retired=False)
        self.fields["models"].label_from_instance = lambda m: (
            f"{m.display_name or m.model_id} ({m.model_id})"
        )
        self.fields["ideas"].queryset = Idea.objects.for_team(team).exclude(
            status=IdeaStatus.ABANDONED
        )


class ResumeForm(forms.Form):
    """An optional new dollar budget for resuming a run (the same bounds as a new run's)."""

    budget_usd = RunForm.base_fields["budget_usd"]


class OverrideForm(forms.Form):
    grade = forms.ChoiceField(choices=[("pass", "Pass"), ("fail", "Fail")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class AddModelForm(forms.Form):
    name = forms.CharField(max_length=100, label="Model id or alias",
                           help_text="For example a moving alias such as …-latest.")  # fmt: skip
