"""Response helpers shared by every app's views."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware: `request.htmx` is always set."""

    htmx: HtmxDetails


def redirect_after_post(request: HtmxRequest, url: str) -> HttpResponse:
    """After a successful form post: a full navigation for htmx, a plain redirect otherwise."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def safe_next(request: HttpRequest) -> str:
    """The same-site `next` page to come back to (POST or GET), or '' when absent or foreign."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return ""
