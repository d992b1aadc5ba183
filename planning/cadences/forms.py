from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone

from planning import netguard
from planning.accounts.models import User
from planning.forms import Form, ModelForm, set_model_choices
from planning.teams.models import Team

from . import schedule as sched
from .models import Cadence, TeamCadenceSettings

PRESET_CHOICES = [(p.key, p.label) for p in sched.PRESETS.values()] + [
    (sched.CUSTOM, "Custom rule (RRULE)")
]


class CadenceForm(ModelForm):
    preset = forms.ChoiceField(label="Repeats", choices=PRESET_CHOICES)
    reminder_days = forms.CharField(
        label="Remind days before",
        required=False,
        help_text="Comma-separated days before the due time, e.g. “7, 1”. "
        "A reminder on the day always goes.",
    )

    class Meta:
        model = Cadence
        fields = [
            "title",
            "kind",
            "preset",
            "rrule",
            "starts_on",
            "due_time",
            "reminder_days",
            "grace_days",
            "nag_every_days",
            "escalate_after_days",
            "recipients",
            "recipient_role",
            "people",
            "paused",
        ]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "due_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "people": forms.CheckboxSelectMultiple,
        }
        labels = {
            "recipient_role": "Role",
            "people": "People",
            "nag_every_days": "Repeat the overdue reminder (days)",
        }

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.upcoming: list[datetime] = []
        self.fields["rrule"].required = False
        set_model_choices(
            self.fields["people"],
            User.objects.filter(memberships__team=team).order_by("email"),
            lambda u: f"{u.display_name} ({u.email})",
        )
        if self.instance.pk:
            self.initial["preset"] = sched.preset_for(
                self.instance.rrule, team.fiscal_year_start_month
            )
            self.initial["reminder_days"] = ", ".join(map(str, self.instance.reminder_days))
        else:
            self.initial.setdefault("preset", "quarter_first_monday")
            self.initial.setdefault("reminder_days", "7, 1")
        tz = team.time_zone
        self.fields["due_time"].help_text = f"Local time in the team's time zone ({tz})."
        self.fields[
            "rrule"
        ].help_text = (
            "Only for a custom rule: RFC 5545 without DTSTART, e.g. FREQ=WEEKLY;BYDAY=MO,TH."
        )
        self.fields[
            "preset"
        ].help_text = "Fiscal quarters follow the team's fiscal year start month."

    def clean_starts_on(self):
        value = self.cleaned_data.get("starts_on")
        if value is not None and not sched.EARLIEST_START <= value <= sched.LATEST_START:
            raise forms.ValidationError(
                f"Choose a date between {sched.EARLIEST_START.year} and {sched.LATEST_START.year}."
            )
        return value

    def clean_reminder_days(self) -> list[int]:
        try:
            return sched.parse_days(self.cleaned_data.get("reminder_days") or "")
        except sched.ScheduleError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self):
        super().clean()
        data = self.cleaned_data
        preset = data.get("preset")
        if preset and preset != sched.CUSTOM:
            rule = sched.preset_rrule(preset, self.team.fiscal_year_start_month)
            typed = sched.normalise_rrule(data.get("rrule") or "")
            if "rrule" in self.changed_data and typed and typed != rule:
                # A rule typed beside a preset used to be dropped without a word.
                label = dict(PRESET_CHOICES).get(preset, preset)
                self.add_error(
                    "rrule",
                    f"“Repeats” says “{label}”: choose “Custom rule (RRULE)” there to use "
                    "this rule, or clear it.",
                )
                return data
            data["rrule"] = rule
        elif preset == sched.CUSTOM and not (data.get("rrule") or "").strip():
            self.add_error("rrule", "Enter a rule, or choose one of the presets.")
            return data
        if data.get("rrule"):
            data["rrule"] = sched.normalise_rrule(data["rrule"])
        if data.get("recipients") == "role" and not data.get("recipient_role"):
            self.add_error("recipient_role", "Choose which role receives the reminders.")
        if data.get("recipients") == "people" and not data.get("people"):
            self.add_error("people", "Choose at least one person.")
        needed = ("rrule", "starts_on", "due_time", "reminder_days")
        if any(name in self.errors for name in needed) or not all(
            data.get(n) is not None for n in needed
        ):
            return data
        schedule = sched.Schedule(
            data["rrule"], self.team.time_zone, data["due_time"], data["starts_on"]
        )
        try:
            self.upcoming = sched.validate(schedule, data["reminder_days"], timezone.now())
        except sched.ScheduleError as exc:
            field = exc.field if exc.field in self.fields else None
            if field == "rrule" and preset != sched.CUSTOM:
                field = "preset"
            self.add_error(field, exc.message)
        return data

    def save(self, commit: bool = True) -> Cadence:
        cadence = super().save(commit=False)
        cadence.team = self.team
        cadence.preset = self.cleaned_data["preset"]
        cadence.rrule = self.cleaned_data["rrule"]
        cadence.reminder_days = self.cleaned_data["reminder_days"]
        if commit:
            cadence.save()
            self.save_m2m()
        return cadence


class OccurrenceNoteForm(Form):
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was done, or why it is skipped.",
    )


class CadenceSettingsForm(ModelForm):
    class Meta:
        model = TeamCadenceSettings
        fields = ["webhook_url", "weekly_digest"]
        widgets = {
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/…"})
        }

    def clean_webhook_url(self) -> str:
        """Refuse what is visibly internal now; names are checked again when sending."""
        url = self.cleaned_data.get("webhook_url") or ""
        why = netguard.literal_refusal(url) if url else None
        if why:
            raise forms.ValidationError(why)
        return url
