from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning.accounts.addresses import verified_addresses
from planning.http import SignedInRequest, redirect_after_post, render_form

from . import audit, services
from .dashboard import dashboard_sections
from .forms import InvitationForm, RoleForm, TeamForm
from .models import AuditEvent, Invitation, Membership, Role
from .tasks import send_invitation_email
from .tenancy import TeamRequest, team_get_object_or_404, team_view


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    memberships = list(request.user.memberships.select_related("team"))
    last = request.session.get("last_team")
    for m in memberships:
        if m.team.slug == last:
            return redirect(m.team)
    if len(memberships) == 1:
        return redirect(memberships[0].team)
    return redirect("team_list")


@login_required
def team_list(request: SignedInRequest) -> HttpResponse:
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    # Only a verified address sees the invitations sent to it (anyone can sign up unverified).
    pending = (
        Invitation.objects.pending()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=verified_addresses(request.user))
        .exclude(team__memberships__user=request.user)
    )
    return render(
        request,
        "teams/team_list.html",
        {"memberships": memberships, "pending_invitations": pending.select_related("team")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: SignedInRequest) -> HttpResponse:
    form = TeamForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        team = services.create_team(owner=request.user, **form.cleaned_data)
        messages.success(request, f"Team “{team.name}” created. Invite your colleagues next.")
        return redirect_after_post(request, team.get_absolute_url())
    return render_form(request, "teams/team_form.html", {"form": form, "creating": True})


@team_view
def dashboard(request: TeamRequest) -> HttpResponse:
    return render(request, "teams/dashboard.html", {"sections": dashboard_sections(request.team)})


@team_view(role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def team_settings(request: TeamRequest) -> HttpResponse:
    form = TeamForm(request.POST or None, instance=request.team, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            if form.changed_data:
                changed = ", ".join(str(form.fields[f].label).lower() for f in form.changed_data)
                audit.record(request.team, request.user, "team.settings", f"Changed {changed}")
        messages.success(request, "Team settings saved.")
        return redirect_after_post(
            request, reverse("teams:settings", kwargs={"team": request.team.slug})
        )
    return render_form(request, "teams/team_form.html", {"form": form, "creating": False})


def _members_context(request: TeamRequest, invite_form: InvitationForm | None = None) -> dict:
    team = request.team
    return {
        "members": Membership.objects.for_team(team).select_related("user").order_by("user__email"),
        "invitations": Invitation.objects.pending().for_team(team).select_related("invited_by"),
        "invite_form": invite_form or InvitationForm(team=team),
        "roles": Role.choices,
    }


@team_view
def members(request: TeamRequest) -> HttpResponse:
    return render(request, "teams/members.html", _members_context(request))


@team_view(write_role=Role.OWNER)
@require_POST
def invite(request: TeamRequest) -> HttpResponse:
    form = InvitationForm(request.POST, team=request.team)
    shown: InvitationForm | None = form  # None once sent: the page shows a fresh form
    if form.is_valid():
        with transaction.atomic():
            invitation = form.save(commit=False)
            invitation.team = request.team
            invitation.invited_by = request.user
            invitation.save()
            audit.record(
                request.team,
                request.user,
                "invitation.sent",
                f"Invited {invitation.email} as {invitation.get_role_display().lower()}",
            )
            transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk))
        messages.success(request, f"Invitation sent to {invitation.email}.")
        shown = None
    elif not request.htmx:
        messages.error(request, "The invitation was not sent: see the form below.")
    context = _members_context(request, shown)
    return render_form(request, "teams/members.html", context, form=shown, partial="people")


@team_view(write_role=Role.OWNER)
@require_POST
def revoke_invitation(request: TeamRequest, pk: int) -> HttpResponse:
    invitation = team_get_object_or_404(request, Invitation, pk=pk)
    if invitation.state == "pending":
        from django.utils import timezone

        with transaction.atomic():
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            audit.record(
                request.team,
                request.user,
                "invitation.revoked",
                f"Withdrew the invitation to {invitation.email}",
            )
        messages.info(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect_after_post(
        request, reverse("teams:members", kwargs={"team": request.team.slug})
    )


@team_view(write_role=Role.OWNER)
@require_POST
def change_role(request: TeamRequest, pk: int) -> HttpResponse:
    membership = team_get_object_or_404(request, Membership, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(membership, form.cleaned_data["role"], actor=request.user)
            messages.success(
                request, f"{membership.user} is now {membership.get_role_display().lower()}."
            )
        except ValidationError as error:
            messages.error(request, error.messages[0])
    else:
        messages.error(request, "Choose one of owner, editor or viewer.")
    return redirect_after_post(
        request, reverse("teams:members", kwargs={"team": request.team.slug})
    )


@team_view(write_role=Role.OWNER)
@require_POST
def remove_member(request: TeamRequest, pk: int) -> HttpResponse:
    membership = team_get_object_or_404(request, Membership, pk=pk)
    try:
        services.remove_member(membership, actor=request.user)
        messages.success(request, f"{membership.user} was removed from the team.")
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect_after_post(
        request, reverse("teams:members", kwargs={"team": request.team.slug})
    )


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("team"), token=token)
    error = None
    if invitation.state == "pending" and not request.user.is_authenticated:
        # The link was mailed to the invited address: signing up with that address from here
        # counts as verifying it (allauth then sends no verification mail).
        get_adapter(request).stash_verified_email(request, invitation.email)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        try:
            services.accept_invitation(invitation, request.user, by_link=True)
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(request, f"Welcome to {invitation.team.name}.")
            request.session["last_team"] = invitation.team.slug
            return redirect(invitation.team)
    elif invitation.state != "pending":
        error = {
            "accepted": "This invitation has already been used.",
            "revoked": "This invitation was withdrawn by the team.",
            "expired": "This invitation has expired. Ask the team for a new one.",
        }[invitation.state]
    status = 400 if error and request.method == "POST" else 200
    return render(
        request, "teams/invitation.html", {"invitation": invitation, "error": error}, status=status
    )


@team_view(role=Role.OWNER)
@require_GET
def audit_log(request: TeamRequest) -> HttpResponse:
    """The team's audit log, newest first, 100 a page (owners only)."""
    events = AuditEvent.objects.for_team(request.team)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "teams/audit_log.html", {"page": page})
