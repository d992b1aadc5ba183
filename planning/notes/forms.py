from django import forms

from .models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["kind", "text"]
        widgets = {"kind": forms.HiddenInput, "text": forms.Textarea(attrs={"rows": 2})}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write the note first.")
        return text
