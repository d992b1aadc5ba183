"""The request guard: one place that refuses what no view can use, before any view runs.

- A body larger than MAX_REQUEST_BYTES: 413.
- A path, query string or form field (urlencoded or multipart, not files) holding a NUL or a
  lone surrogate: 400 naming the field. PostgreSQL cannot store either, so every view would
  otherwise have to remember to check.

Under /api/ the answer is the API's JSON error shape; for htmx requests a short fragment the
page can show; otherwise a page.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string

from planning.inputs import unstorable

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refusal(
    request: HttpRequest, status: int, title: str, message: str, field: str = ""
) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": message, "fields": {field: [message]} if field else {}}, status=status
        )
    if request.headers.get("HX-Request"):
        # Shown above what the request would have replaced, so the form keeps what was typed.
        response = HttpResponse(
            render_to_string("partials/refusal.html", {"message": message}), status=status
        )
        response["HX-Reswap"] = "beforebegin"
        return response
    return HttpResponse(
        render_to_string("refusal.html", {"title": title, "message": message}, request=request),
        status=status,
    )


def _bad_value(values) -> tuple[str, str] | None:
    for name, items in values.lists():
        problem = unstorable(name)
        if problem:
            return "", f"A field name {problem}"
        for item in items:
            if isinstance(item, str):
                problem = unstorable(item)
                if problem:
                    return name, f"The field “{name}” {problem} Nothing was saved."
    return None


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return _refusal(
                request,
                413,
                "Too large",
                f"The request is larger than {filesizeformat(limit)}; send less at once.",
            )
        problem = unstorable(request.path)
        if problem:
            return _refusal(request, 400, "Bad address", f"The address {problem}")
        bad = _bad_value(request.GET)
        if bad is None and request.method == "POST" and request.content_type in FORM_TYPES:
            bad = _bad_value(request.POST)
        if bad is not None:
            field, message = bad
            return _refusal(request, 400, "Nothing was saved", message, field)
        return self.get_response(request)
