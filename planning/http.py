"""Response helpers shared by every app's views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

# Methods that only read: a viewer (or a read-only API token) may use them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

if TYPE_CHECKING:
    from planning.accounts.models import User


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware: `request.htmx` is always set."""

    htmx: HtmxDetails


class SignedInRequest(HtmxRequest):
    """The request of a view behind `login_required` (or `team_view`): a signed-in user."""

    user: User


def render_form(
    request: HtmxRequest,
    template: str,
    context: dict[str, Any],
    *,
    form: BaseForm | None = None,
    partial: str | None = "form",
    status: int | None = None,
) -> HttpResponse:
    """A page with a form, or only its `{% partialdef partial %}` for an htmx request (the
    form swaps itself); `partial=None` always renders the whole page. A submitted form with
    errors (`form`, by default `context["form"]`) answers 400, otherwise 200, unless
    `status` says otherwise."""
    if status is None:
        form = form if form is not None else context.get("form")
        status = 400 if form is not None and form.errors else 200
    name = f"{template}#{partial}" if partial and request.htmx else template
    return render(request, name, context, status=status)


def redirect_after_post(request: HtmxRequest, url: str) -> HttpResponse:
    """After a successful form post: a full navigation for htmx, a plain redirect otherwise."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def safe_next(request: HttpRequest) -> str:
    """The same-site `next` page to come back to (POST or GET), or '' when absent or foreign."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return ""
