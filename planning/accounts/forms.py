from allauth.account import forms as allauth_forms
from django import forms

from planning.forms import Form, Hardened

from .models import User


class SignupForm(Hardened, allauth_forms.SignupForm):
    """allauth's signup (email, password twice) with the person's name first."""

    name = forms.CharField(
        max_length=User._meta.get_field("name").max_length,
        required=False,
        label="Your name",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    field_order = ["name", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email"
        self.fields["email"].widget.attrs.pop("placeholder", None)
        if "password2" in self.fields:
            self.fields["password2"].label = "Confirm password"


class LoginForm(Hardened, allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email"
        self.fields["login"].widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)
        self.fields["password"].help_text = ""


class ApiTokenForm(Form):
    name = forms.CharField(
        max_length=100,
        label="Token name",
        help_text="Where it is used, e.g. “metrics import script”.",
    )
    read_only = forms.BooleanField(
        required=False, label="Read-only (the token can read but not change anything)"
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=[
            ("", "Never"),
            ("7", "In 7 days"),
            ("30", "In 30 days"),
            ("90", "In 90 days"),
            ("365", "In 365 days"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
    )
