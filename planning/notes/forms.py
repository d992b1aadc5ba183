from django import forms

from planning.forms import ModelForm

from .models import Note


class NoteForm(ModelForm):
    class Meta:
        model = Note
        fields = ["kind", "text"]
        widgets = {"kind": forms.HiddenInput, "text": forms.Textarea(attrs={"rows": 2})}
