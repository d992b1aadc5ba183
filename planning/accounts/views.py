from datetime import timedelta

from allauth.account import views as allauth_views
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from planning.http import SignedInRequest, render_form

from .forms import ApiTokenForm
from .models import ApiToken


class LoginView(allauth_views.LoginView):
    """allauth's login, answering 429 (not a 200 form) once failed attempts hit the limit."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if getattr(self.request, "login_rate_limited", False):
            response.status_code = 429
            response["Retry-After"] = "300"
        return response


login = LoginView.as_view()


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: SignedInRequest) -> HttpResponse:
    """Personal API tokens for /api/v1/ (shown in full once, when created; stored hashed)."""
    created = raw = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        created, raw = ApiToken.issue(
            request.user,
            form.cleaned_data["name"],
            read_only=form.cleaned_data["read_only"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        from planning.teams.audit import record_for_user_teams

        record_for_user_teams(request.user, "token.created", f"API token “{created.name}”")
        form = ApiTokenForm()
    context = {
        "tokens": request.user.api_tokens.all(),
        "form": form,
        "created": created,
        "raw": raw,
    }
    return render_form(request, "accounts/tokens.html", context, partial=None)


@login_required
@require_POST
def token_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.active(), pk=pk, user=request.user)
    token.revoked_at = timezone.now()
    token.revoked_reason = "revoked by its owner"
    token.save(update_fields=["revoked_at", "revoked_reason"])
    from planning.teams.audit import record_for_user_teams

    record_for_user_teams(request.user, "token.revoked", f"API token “{token.name}”")
    messages.info(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")


TOO_MANY = {
    "account_login": "Too many log-in attempts from your network in the last minute. "
    "Wait a minute, then try again.",
    "login": "Too many log-in attempts from your network in the last minute. "
    "Wait a minute, then try again.",
    "signup": "Too many accounts were created from your network in the last hour. Try again later.",
    "account_signup": "Too many accounts were created from your network in the last hour. "
    "Try again later.",
    "password_reset": "Several reset links were already sent to this address in the last "
    "hour. Use the newest one, or ask again in an hour.",
    "account_reset_password": "Several reset links were already sent to this address in the "
    "last hour. Use the newest one, or ask again in an hour.",
}


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """The 429 page for allauth's rate limits, saying which limit was hit and when to retry."""
    name = getattr(getattr(request, "resolver_match", None), "url_name", None)
    message = TOO_MANY.get(name or "")
    return render(request, "429.html", {"message": message}, status=429)
