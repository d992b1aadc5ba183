from django import forms

from planning.forms import Form, ModelForm, set_model_choices
from planning.teams.models import Team

from .models import Commitment


class BacklogItemForm(Form):
    title = forms.CharField(max_length=200, label="New backlog item")


class ScoreForm(Form):
    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    impact = forms.IntegerField(min_value=1, max_value=10, required=False)
    confidence = forms.IntegerField(min_value=1, max_value=10, required=False)
    effort = forms.IntegerField(min_value=1, max_value=10, required=False)


class WaiveForm(Form):
    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    waived = forms.BooleanField(required=False)
    waive_reason = forms.CharField(max_length=300, required=False)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("waived") and not (cleaned.get("waive_reason") or "").strip():
            self.add_error("waive_reason", "Say why this bet may close with one side missing.")
        return cleaned


class CommitmentForm(ModelForm):
    class Meta:
        model = Commitment
        fields = ["what", "owner", "due_date"]
        labels = {"what": "What will change", "owner": "Owner", "due_date": "By when"}
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        set_model_choices(
            self.fields["owner"],
            team.members.order_by("email"),
            lambda u: f"{u.display_name} ({u.email})",
        )

    def clean_due_date(self):
        due = self.cleaned_data["due_date"]
        if due is not None and due < self.team.today():
            raise forms.ValidationError(
                f"That date has passed ({self.team.time_zone}): choose today or a later one."
            )
        return due
