import zoneinfo
from typing import cast

from django import forms
from django.utils.text import slugify

from planning.forms import Form, ModelForm

from .models import RESERVED_SLUGS, Invitation, Membership, Role, Team

# Real places only: the tz database also carries aliases and relics ("localtime", "W-SU",
# "US/Eastern", "Etc/GMT+5", "EST5EDT") that nobody should have to scroll past.
TIME_ZONE_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def time_zone_choices(current: str = "") -> list:
    """UTC, then the Area/City zones grouped by area; `current` is kept if it is a legacy name."""
    zones = sorted(
        tz
        for tz in zoneinfo.available_timezones()
        if tz.split("/", 1)[0] in TIME_ZONE_AREAS and "/" in tz
    )
    groups: dict[str, list[tuple[str, str]]] = {}
    for tz in zones:
        area, place = tz.split("/", 1)
        groups.setdefault(area, []).append((tz, place.replace("_", " ").replace("/", " / ")))
    choices: list = [("UTC", "UTC")]
    if current and current != "UTC" and current not in zones:
        choices.append((current, current))
    return choices + list(groups.items())


class TeamForm(ModelForm):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        help_text="Reminders, review dates and every time shown use this zone.",
    )

    class Meta:
        model = Team
        fields = [
            "name",
            "slug",
            "time_zone",
            "fiscal_year_start_month",
            "anti_anchoring",
            "require_2fa",
        ]
        labels = {
            "slug": "Address",
            "fiscal_year_start_month": "Fiscal year starts in",
            "anti_anchoring": "Anti-anchoring: hide others' predictions until I commit mine",
        }
        help_texts = {
            "slug": "The short name in your team's web address, as in /t/acme/. "
            "Leave empty to derive it from the name."
        }

    def __init__(self, *args, user=None, **kwargs):
        """`user`: the person saving; two of their teams never share a name (the team menu
        could not tell them apart, and a second "Create team" is usually a mistake)."""
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        if self.instance.pk:
            # The address is part of every link the team has shared; keep it stable.
            del self.fields["slug"]
            zones = cast(forms.ChoiceField, self.fields["time_zone"])
            zones.choices = time_zone_choices(self.instance.time_zone)
        else:
            del self.fields["require_2fa"]
            if not self.is_bound:
                # A new team starts in the browser's time zone (static/js/app.js); UTC without JS.
                self.fields["time_zone"].widget.attrs["data-browser-timezone"] = ""

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.user is not None:
            mine = Team.objects.filter(memberships__user=self.user, name__iexact=name)
            if self.instance.pk:
                mine = mine.exclude(pk=self.instance.pk)
            if mine.exists():
                raise forms.ValidationError(
                    f"You already have a team called “{name}”: open it from the team menu, "
                    "or choose another name."
                )
        return name

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


class InvitationForm(ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role"]
        widgets = {"email": forms.EmailInput(attrs={"placeholder": "colleague@example.com"})}

    def __init__(self, *args, team: Team, **kwargs):
        self.team = team
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.for_team(self.team).filter(user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of the team.")
        if Invitation.objects.pending().for_team(self.team).filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An invitation to this address is already pending. Revoke it to send a new one."
            )
        return email


class RoleForm(Form):
    role = forms.ChoiceField(choices=Role.choices)
