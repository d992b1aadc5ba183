"""django-allauth adapter: our User has a name and no username; rate-limit refusals are
remembered on the request so the login view can answer 429."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.http import HttpRequest

TOO_MANY_LOGINS = (
    "Too many failed log-in attempts for this address or from your network. "
    "Wait five minutes and try again, or reset your password."
)


class AccountRequest(HttpRequest):
    """What this adapter notes on the request (read with getattr: absent until set)."""

    login_rate_limited: bool  # for the login view's 429
    signup_email: str  # for unstash_verified_email


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": TOO_MANY_LOGINS,
        "email_password_mismatch": "Please enter a correct email address and password.",
    }

    def pre_authenticate(self, request: AccountRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as error:
            if error.code == "too_many_login_attempts":
                request.login_rate_limited = True
            raise

    def save_user(self, request: AccountRequest, user, form, commit: bool = True):
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        user.name = form.cleaned_data.get("name", "")
        request.signup_email = user.email
        if commit:
            user.save()
        return user

    def unstash_verified_email(self, request: HttpRequest) -> str | None:
        """The address an invitation link verified, only when the person signs up with that
        very address. (allauth would otherwise add it to any account signed up in the same
        browser session, and make it the primary address.)"""
        stashed = super().unstash_verified_email(request)
        signing_up = getattr(request, "signup_email", "") or ""
        if stashed and stashed.lower() == signing_up.lower():
            return stashed
        return None
