import zoneinfo

from django import forms
from django.utils.text import slugify

from .models import RESERVED_SLUGS, Invitation, Membership, Role, Team

TIME_ZONE_CHOICES = [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones())]


class TeamForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC")

    class Meta:
        model = Team
        fields = [
            "name", "slug", "time_zone", "fiscal_year_start_month", "anti_anchoring", "require_2fa",
        ]  # fmt: skip
        labels = {
            "slug": "Address",
            "fiscal_year_start_month": "Fiscal year starts in",
            "anti_anchoring": "Anti-anchoring: hide others' predictions until I commit mine",
        }
        help_texts = {
            "slug": "The short name in your team's web address, as in /t/acme/. "
            "Leave empty to derive it from the name."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        if self.instance.pk:
            # The address is part of every link the team has shared; keep it stable.
            del self.fields["slug"]
        else:
            del self.fields["require_2fa"]

    def clean_slug(self) -> str:
        slug = (self.cleaned_data.get("slug") or "").strip().lower()
        if not slug:
            slug = slugify(self.data.get("name", ""))[:50].strip("-")
            if not slug:
                raise forms.ValidationError("Choose an address: letters, digits and hyphens.")
            base, n = slug, 2
            while Team.objects.filter(slug=slug).exists() or slug in RESERVED_SLUGS:
                slug = f"{base[:45]}-{n}"
                n += 1
            return slug
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is reserved; choose another address.")
        if Team.objects.filter(slug=slug).exists():
            raise forms.ValidationError("Another team already uses this address.")
        return slug


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role"]
        widgets = {"email": forms.EmailInput(attrs={"placeholder": "colleague@example.com"})}

    def __init__(self, *args, team: Team, **kwargs):
        self.team = team
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.filter(team=self.team, user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of the team.")
        if Invitation.objects.pending().filter(team=self.team, email__iexact=email).exists():
            raise forms.ValidationError(
                "An invitation to this address is already pending. Revoke it to send a new one."
            )
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
