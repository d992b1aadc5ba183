"""The steer form: a short instruction to a running generation (one line, length-limited)."""

from __future__ import annotations

from django import forms

from planning.forms import Form, TextLength

from .services import STEER_MAX_CHARS, clean_instruction


class SteerForm(Form):
    text = forms.CharField(
        label="Steer while it writes",
        error_messages={"required": "Write an instruction, e.g. “shorter”."},
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. focus on the security risk", "autocomplete": "off"}
        ),
    )

    def clean_text(self) -> str:
        text = clean_instruction(self.cleaned_data["text"])
        TextLength(STEER_MAX_CHARS)(text)
        return text
