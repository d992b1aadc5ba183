from __future__ import annotations

from decimal import Decimal

from django import forms

from planning.forms import ModelForm

from .models import FacilitatorSetting


class SettingForm(ModelForm):
    model_id = forms.ChoiceField(label="Model", required=False)
    monthly_budget_usd = forms.DecimalField(
        label="Monthly budget (USD)",
        min_value=Decimal(0),
        max_value=Decimal(10_000),
        max_digits=9,
        decimal_places=2,
        help_text="New drafts, probe proposals and critiques are refused once this month's "
        "generations have cost this much.",
    )

    class Meta:
        model = FacilitatorSetting
        fields = ["enabled", "model_id", "monthly_budget_usd"]
        labels = {"enabled": "Turn on the Claude facilitator for this team"}

    def __init__(self, *args, models: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "The newest model (recommended)"), *models]
