from django import forms

from .models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["kind", "text"]
        widgets = {"kind": forms.HiddenInput, "text": forms.Textarea(attrs={"rows": 2})}
